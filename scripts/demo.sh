#!/usr/bin/env bash
# The README's first command: a generated world with planted rings, ingested into the embedded
# engine, searched for rings and ban evaders, and scored against the world's truth.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.local/demo}"
accounts="${2:-20000}"
rw=.venv/bin/ringwatch

echo "== 1. generate a synthetic world with planted rings ($accounts accounts)"
$rw synth "$out/world" --accounts "$accounts" --seed 7

echo "== 2. ingest it into the embedded engine"
$rw ingest "$out/world/events.jsonl" --rejects "$out/rejects.jsonl"

echo "== 3. ingest the hand-written examples (some are invalid on purpose)"
$rw ingest examples/events.jsonl examples/events.csv --rejects "$out/example-rejects.jsonl"

echo "== 4. what the graph holds"
$rw summary --top 3

echo "== 5. find rings and ban evaders, write them back, export them"
$rw detect --out "$out/results"

echo "== 6. the largest rings found"
$rw export rings --out "$out/results/stored-rings.jsonl"
.venv/bin/python - "$out/results/rings.jsonl" <<'PY'
import sys, orjson
rings = [orjson.loads(line) for line in open(sys.argv[1], "rb")]
flagged = sorted((r for r in rings if r["verdict"] != "benign"), key=lambda r: -len(r["members"]))
for r in flagged[:5]:
    kinds = sorted({s["kind"] for s in r["evidence"].get("shared_identifiers", [])})
    print(f'{r["ring_id"]}  {r["verdict"]:<10} score {r["score"]:.2f}  {len(r["members"]):>4} members  shares: {", ".join(kinds) or "behaviour only"}')
PY

echo "== 7. detection quality against the planted truth"
$rw evaluate --truth "$out/world/truth.json" --rings "$out/results/rings.jsonl" \
  --evaders "$out/results/evaders.jsonl" --accounts "$out/results/accounts.jsonl" \
  --out "$out/results/metrics.json"

echo "== 8. decisions: what should happen to four new signups, and why (ringwatch decide)"
# Identifiers in the graph are keyed hashes, so the new signups reuse RAW identifiers from the
# world's events: the device of a member of a detected fraud ring, the phone of a banned account.
.venv/bin/python - "$out" > "$out/decisions.tsv" <<'PY'
import datetime, random, sys, time
import orjson

out = sys.argv[1]
rings = [orjson.loads(line) for line in open(f"{out}/results/rings.jsonl", "rb")]
fraud = sorted((r for r in rings if r["verdict"] == "fraud"), key=lambda r: -r["score"])
in_flagged = {m for r in rings if r["verdict"] != "benign" for m in r["members"]}
first: dict[str, dict[str, str]] = {}
banned: list[str] = []
with open(f"{out}/world/events.jsonl", "rb") as fh:
    for line in fh:
        ev = orjson.loads(line)
        if ev["type"] == "enforcement" and ev.get("action") == "ban":
            banned.append(ev["account_id"])
        for field in ("device_id", "phone", "country"):
            if ev.get(field):
                first.setdefault(ev["account_id"], {}).setdefault(field, ev[field])
ring, member = next((r, m) for r in fraud for m in r["members"] if "device_id" in first.get(m, {}))
ban = next(a for a in banned if a not in in_flagged and "phone" in first.get(a, {}))
now = time.time()
stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
today = datetime.date.today()


def signup(name: str, label: str, **fields: str) -> None:
    account = f"demo-{name}-{stamp}"
    event = {"event_id": f"{account}-signup", "type": "signup", "ts": ts,
             "email": f"{name}.{stamp}@example.net",
             # a /24 of its own: three signups from one /24 within an hour is a burst
             "ip": f"198.{random.choice((18, 19))}.{random.randrange(256)}.7",
             "birthdate": "1990-05-17", "country": "GB", **fields}
    print(f"{label}\t{account}\t{orjson.dumps(event).decode()}")


signup("ring-device", f"shares the device of {member}, member of fraud ring {ring['ring_id']} "
       f"({len(ring['members'])} accounts)", device_id=first[member]["device_id"],
       country=first[member].get("country", "GB"))
signup("banned-phone", f"shares the phone of banned account {ban}",
       phone=first[ban]["phone"], country=first[ban].get("country", "GB"),
       device_id=f"demo-device-{stamp}-2")
signup("benign", "a plain signup: fresh device, email and address",
       device_id=f"demo-device-{stamp}-3")
signup("under-age", "declares a birthdate 10 years ago (the minimum age is 13)",
       device_id=f"demo-device-{stamp}-4", birthdate=f"{today.year - 10}-{today.month:02d}-01")
PY
while IFS=$'\t' read -r label account event; do
  echo "-- new signup $account: $label"
  $rw decide "$account" --checkpoint signup --event "$event" </dev/null
done < "$out/decisions.tsv"

echo "== 9. backtest the default strategy over the world's history, detection replayed weekly"
# Each week of simulated time detection runs over the graph as it stood then, so the ring and
# evader rules see only what they would have seen live.
$rw backtest --strategy strategies/default.yaml --events "$out/world/events.jsonl" \
  --truth "$out/world/truth.json" --detect-every 7d --out "$out/results/backtest.json"

echo "== 10. the investigator console"
# A key of role investigator for the browser; printed once, stored only as a keyed hash.
key=$($rw keys create --role investigator --name "demo investigator" | tail -n 1)
cat <<TXT
Start the API (it serves the console) on this demo's engine:
  RINGWATCH_DATA_DIR=${RINGWATCH_DATA_DIR:-.local/demo/engine} $rw serve --port 8080
then open   http://127.0.0.1:8080/console/login
and sign in with this investigator key:
  $key
TXT

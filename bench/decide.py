"""Decision benchmark: `POST /v1/decisions` under open-loop load, live graph facts vs cached ones.

For each engine (Neo4j and the embedded FalkorDB engine) holding a loaded `ringwatch synth` world,
the bench starts the real API (`ringwatch serve --no-worker`) as a subprocess and, from a second
process on 127.0.0.1, sends signups of NEW accounts that each share a strong identifier (the
device, plus the phone or the card) with a planted ring member, taken raw from the world's
events.jsonl and truth.json. Requests are paced open-loop at --rate for --duration seconds:
request i is due at t0 + i/rate whether or not earlier ones have answered, and its latency is
counted from that due time (so a stalled server is not hidden by a stalled client).

Three passes per engine:

  live          RINGWATCH_FEATURE_CACHE_TTL_S=0: every fact is read from the graph;
  cached-cold   TTL 300, first decision for each account (graph read + cache write);
  cached-warm   TTL 300, the same accounts again (new event ids): the account's own row comes
                from Redis. The identifier lookups (who else uses this device, banned, rings)
                are always live: they must see a ring member who signed up a second ago.

Then, in-process (no HTTP), a small loop over `DecisionService.decide` with timers around each
step shows where a decision's time goes: facts (context parse, cached account row, the one graph
read of the account row, shared-identifier lookups and subnet count, velocity) vs strategy
evaluation (assemble + CEL rules) vs audit (ingesting the context event, the decision log).
--profile adds a cProfile of that loop.

    # once: a world, loaded into both engines (ingest + detect; resumable, timed, remembered)
    .venv/bin/ringwatch synth .local/decide/world --accounts 200000 --seed 5
    .venv/bin/python bench/decide.py --load --world .local/decide/world
    # the benchmark
    .venv/bin/python bench/decide.py --world .local/decide/world --rate 200 --duration 30

Writes bench/results/decide.json.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import platform
import pstats
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson
from cpu_roles import ProcCpu, cpu_by_role  # bench/cpu_roles.py, beside this script
from machine import machine_info  # bench/machine.py, beside this script

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

RINGWATCH = str(REPO / ".venv" / "bin" / "ringwatch")
TARGET_P99_MS = 50.0
TARGET_RATE = 200.0
TARGET_API_CPU_MS = 2.0
STRONG_FIELDS = ("device_id", "phone", "card")


# ---------------------------------------------------------------------------------------------
# The world: ring members' raw identifiers, and new signups that reuse them
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    account_id: str
    ring_id: str
    device_id: str | None
    phone: str | None
    card: str | None
    country: str | None


def world_info(world: Path) -> dict[str, Any]:
    truth = orjson.loads((world / "truth.json").read_bytes())
    events = world / "events.jsonl"
    return {
        "path": str(world),
        "accounts": int(truth["accounts"]),
        "profile": truth.get("profile"),
        "seed": truth.get("seed"),
        "planted_rings": len(truth["rings"]),
        "label_counts": truth.get("label_counts"),
        "events_bytes": events.stat().st_size,
    }


def ring_members(world: Path, cache_dir: Path) -> list[Member]:
    """Every planted ring member with at least a device, with its first raw identifiers.

    Identifiers in the graph are keyed hashes, so new signups must carry RAW ones: they are read
    from events.jsonl (one pass, cached next to the other bench files).
    """
    events = world / "events.jsonl"
    stat = events.stat()
    cached = cache_dir / f"members-{stat.st_size}-{int(stat.st_mtime)}.json"
    if cached.exists():
        return [Member(**m) for m in orjson.loads(cached.read_bytes())]
    truth = orjson.loads((world / "truth.json").read_bytes())
    ring_of = {a: r["ring_id"] for r in truth["rings"] for a in r["members"]}
    found: dict[str, dict[str, Any]] = {}
    with events.open("rb") as fh:
        for line in fh:
            ev = orjson.loads(line)
            acc = ev.get("account_id")
            if acc not in ring_of:
                continue
            seen = found.setdefault(acc, {})
            for f in (*STRONG_FIELDS, "country"):
                if ev.get(f) and f not in seen:
                    seen[f] = ev[f]
    members = [
        Member(
            account_id=a,
            ring_id=ring_of[a],
            device_id=s.get("device_id"),
            phone=s.get("phone"),
            card=s.get("card"),
            country=s.get("country"),
        )
        for a, s in sorted(found.items())
        if s.get("device_id")
    ]
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(orjson.dumps([asdict(m) for m in members]))
    return members


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def new_signups(members: list[Member], n: int, tag: str, seed: int) -> list[dict[str, Any]]:
    """n decision requests: a new account sharing the device (and the phone or card) of a ring
    member; fresh email, a benchmark-range IP, an adult birthdate."""
    rnd = random.Random(seed)
    now = time.time()
    out = []
    for i in range(n):
        m = members[rnd.randrange(len(members))]
        account = f"bench-{tag}-{i:06d}"
        ev: dict[str, Any] = {
            "event_id": f"{account}-signup",
            "type": "signup",
            "ts": _rfc3339(now),
            "device_id": m.device_id,
            "email": f"new.{tag}.{i}@example.net",
            "ip": f"198.18.{rnd.randrange(256)}.{rnd.randrange(1, 255)}",
            "birthdate": f"{rnd.randrange(1960, 2000)}-0{rnd.randrange(1, 10)}-1{rnd.randrange(9)}",
            "display_name": f"New User {i}",
        }
        if m.country:
            ev["country"] = m.country
        if m.phone and (not m.card or rnd.random() < 0.5):
            ev["phone"] = m.phone
        elif m.card:
            ev["card"] = m.card
        out.append({"account_id": account, "checkpoint": "signup", "context": ev})
    return out


def again(requests: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    """The same accounts and identifiers with new event ids (so the context is not a duplicate)."""
    out = []
    for r in requests:
        ctx = dict(r["context"], event_id=f"{r['context']['event_id']}-{tag}")
        out.append({**r, "context": ctx})
    return out


# ---------------------------------------------------------------------------------------------
# Engines: env, load, API server, key
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engines:
    neo4j_uri: str
    neo4j_user: str
    neo4j_password: str
    redis_url: str
    work_dir: Path
    batch_size: int = 2000
    ingest_writers: int = 1
    embedded_data_dir: Path | None = None  # None: WORK_DIR/embedded

    @property
    def embedded_dir(self) -> Path:
        return self.embedded_data_dir or self.work_dir / "embedded"

    def env(self, engine: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RINGWATCH_")}
        env["RINGWATCH_ENV"] = "development"
        env["RINGWATCH_STRATEGIES_DIR"] = str(REPO / "strategies")
        env["RINGWATCH_BATCH_SIZE"] = str(self.batch_size)
        if engine == "neo4j":
            env["RINGWATCH_NEO4J_URI"] = self.neo4j_uri
            env["RINGWATCH_NEO4J_USER"] = self.neo4j_user
            env["RINGWATCH_NEO4J_PASSWORD"] = self.neo4j_password
            env["RINGWATCH_REDIS_URL"] = self.redis_url
            env["RINGWATCH_DATA_DIR"] = str(self.work_dir / "neo4j-data")
        else:
            env["RINGWATCH_DATA_DIR"] = str(self.embedded_dir)
        env.update(extra)
        return env


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load(engines: Engines, engine: str, world: Path) -> dict[str, Any]:
    """Ingest the world and run detection once per engine; remembered in a marker file."""
    marker = engines.work_dir / f"loaded-{engine}.json"
    events = world / "events.jsonl"
    if marker.exists():
        done: dict[str, Any] = orjson.loads(marker.read_bytes())
        if done.get("events_bytes") == events.stat().st_size and done.get("world") == str(world):
            return done
    env = engines.env(engine)
    log = engines.work_dir / f"load-{engine}.log"
    engines.work_dir.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        _say(f"{engine}: ingesting {events} (log: {log})")
        t = time.perf_counter()
        subprocess.run(
            [
                RINGWATCH,
                "ingest",
                str(events),
                "--rejects",
                str(engines.work_dir / "rejects.jsonl"),
                "--writers",
                str(engines.ingest_writers),
            ],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=out,
            check=True,
        )
        ingest_s = time.perf_counter() - t
        _say(f"{engine}: ingested in {ingest_s:,.0f} s; detecting")
        t = time.perf_counter()
        subprocess.run([RINGWATCH, "detect"], env=env, cwd=REPO, stdout=out, stderr=out, check=True)
        detect_s = time.perf_counter() - t
    with events.open("rb") as fh:
        n_events = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    done = {
        "engine": engine,
        "world": str(world),
        "events_bytes": events.stat().st_size,
        "events": n_events,
        "ingest_s": round(ingest_s, 1),
        "ingest_events_per_s": round(n_events / ingest_s, 1),
        "detect_s": round(detect_s, 1),
        "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_after": os.getloadavg(),
    }
    marker.write_bytes(orjson.dumps(done, option=orjson.OPT_INDENT_2))
    return done


def api_key(engines: Engines, engine: str) -> str | None:
    """A decide key when the API has authentication (ringwatch/api/auth.py), else None."""
    if not (REPO / "ringwatch" / "api" / "auth.py").exists():
        return None
    out = subprocess.run(
        [
            RINGWATCH,
            "keys",
            "create",
            "--role",
            "decide",
            "--name",
            "bench-decide",
            "--rate-limit",
            "1000000",
        ],
        env=engines.env(engine),
        cwd=REPO,
        capture_output=True,
        check=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class Api:
    url: str
    pid: int  # `ringwatch serve`; its API worker processes are its children


@contextlib.contextmanager
def api_server(
    engines: Engines, engine: str, port: int, ttl_s: int, workers: int = 1
) -> Iterator[Api]:
    env = engines.env(engine, RINGWATCH_FEATURE_CACHE_TTL_S=str(ttl_s))
    log = engines.work_dir / f"serve-{engine}-ttl{ttl_s}.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                RINGWATCH,
                "serve",
                "--no-worker",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(url, proc, log)
            yield Api(url, proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)  # uvicorn shuts down cleanly
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API exited with {proc.returncode}; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the API did not answer /healthz within 180 s; see {log}")


# ---------------------------------------------------------------------------------------------
# The load generator (runs in its own process)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    url: str
    token: str | None
    rate: float
    duration_s: float
    concurrency: int
    timeout_s: float


def drive(load: Load, requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Send `requests` open-loop at load.rate; stop at the end of the list or of the duration.

    A lean asyncio HTTP/1.1 client over keep-alive connections (at most load.concurrency): the
    load generator shares the machine with the system under test, so every millisecond of CPU
    it spends is taken from the API. (An httpx client on 64 threads cost ~2 ms per request,
    a fifth of the whole budget at 200/s; this one costs a fraction of that.)
    """
    import asyncio
    import resource

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    results, start = asyncio.run(_drive(load, requests))
    used = resource.getrusage(resource.RUSAGE_SELF)
    summary = summarise(results, start, load)
    summary["load_generator_cpu_s"] = (used.ru_utime - cpu.ru_utime) + (
        used.ru_stime - cpu.ru_stime
    )
    return summary


async def _drive(
    load: Load, requests: list[dict[str, Any]]
) -> tuple[list[tuple[float, float, float, int, str]], float]:
    import asyncio
    from urllib.parse import urlsplit

    target = urlsplit(load.url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    head = (
        f"POST /v1/decisions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        + (f"Authorization: Bearer {load.token}\r\n" if load.token else "")
    ).encode()
    wires = [
        head + f"Content-Length: {len(b)}\r\n\r\n".encode() + b
        for b in (orjson.dumps(r) for r in requests)
    ]
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    slots = asyncio.Semaphore(load.concurrency)
    results: list[tuple[float, float, float, int, str]] = []  # due, sent, done, status, action

    async def exchange(
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], wire: bytes
    ) -> tuple[int, bytes]:
        reader, writer = conn
        writer.write(wire)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await reader.readexactly(length)
        if close:
            raise ConnectionResetError("server closed the connection")
        return int(status_line.split()[1]), body

    async def send(due: float, wire: bytes) -> None:
        async with slots:
            sent = time.perf_counter()
            status, action = 0, ""
            conn = idle.pop() if idle else None
            try:
                if conn is not None:
                    try:
                        status, body = await asyncio.wait_for(exchange(conn, wire), load.timeout_s)
                    except (ConnectionError, asyncio.IncompleteReadError):
                        # The server closed this keep-alive connection while it sat idle (its
                        # keep-alive timeout): like any HTTP client, send again on a new one.
                        conn[1].close()
                        conn = None
                if conn is None:
                    conn = await asyncio.open_connection(host, port)
                    status, body = await asyncio.wait_for(exchange(conn, wire), load.timeout_s)
                if status == 200:
                    action = str(orjson.loads(body).get("action"))
                idle.append(conn)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as e:
                action = type(e).__name__
                if conn is not None:
                    conn[1].close()
            results.append((due, sent, time.perf_counter(), status, action))

    tasks = []
    start = time.perf_counter() + 0.05
    end = start + load.duration_s
    for i, wire in enumerate(wires):
        due = start + i / load.rate
        if due >= end:
            break
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(send(due, wire)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return results, start


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


def summarise(
    results: list[tuple[float, float, float, int, str]], start: float, load: Load
) -> dict[str, Any]:
    ok = sorted((done - due) * 1000 for due, _, done, status, _ in results if status == 200)
    service = sorted((done - sent) * 1000 for _, sent, done, status, _ in results if status == 200)
    errors = Counter(str(status or action) for _, _, _, status, action in results if status != 200)
    last = max((done for _, _, done, _, _ in results), default=start)
    wall = max(last - start, 1e-9)
    return {
        "target_rate": load.rate,
        "sent": len(results),
        "ok": len(ok),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "wall_s": round(wall, 2),
        "achieved_per_s": round(len(ok) / wall, 1),
        "latency_ms": {
            "p50": round(_pct(ok, 50), 2),
            "p90": round(_pct(ok, 90), 2),
            "p99": round(_pct(ok, 99), 2),
            "p99.9": round(_pct(ok, 99.9), 2),
            "max": round(ok[-1], 2) if ok else None,
            "mean": round(sum(ok) / len(ok), 2) if ok else None,
        },
        "service_ms": {"p50": round(_pct(service, 50), 2), "p99": round(_pct(service, 99), 2)},
        "actions": dict(Counter(a for *_, s, a in results if s == 200)),
        "concurrency": load.concurrency,
    }


def _ours(engines: Engines, engine: str) -> dict[str, list[int]]:
    """Pids of THIS bench's servers: the machine is shared, and other people's Neo4j and Redis
    servers run the same binaries. Neo4j and Redis by the TCP port they listen on, the
    embedded engine's server by its data directory on its command line."""
    from urllib.parse import urlsplit

    import psutil

    bolt = urlsplit(engines.neo4j_uri).port
    redis_port = urlsplit(engines.redis_url).port
    embedded_dir = str(engines.embedded_dir)
    out: dict[str, list[int]] = {"neo4j": [], "redis_server": []}
    for p in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(p.info["cmdline"] or [])
            if "ringwatch.Neo4jLauncher" in cmd and engine == "neo4j":
                ports = {c.laddr.port for c in p.net_connections("tcp") if c.status == "LISTEN"}
                if bolt in ports:
                    out["neo4j"].append(p.pid)
            elif "engine_watch.py" in cmd and engine == "embedded" and embedded_dir in cmd:
                # The engine's watchdog (a child of the API, beside the engine): engine cost.
                out["redis_server"].append(p.pid)
            elif "redis-server" in (p.info["name"] or "") or "redis-server" in cmd:
                if engine == "embedded":
                    if embedded_dir in cmd or p.cwd().startswith(embedded_dir):
                        out["redis_server"].append(p.pid)
                else:
                    ports = {c.laddr.port for c in p.net_connections("tcp") if c.status == "LISTEN"}
                    if redis_port in ports:
                        out["redis_server"].append(p.pid)
    return out


def _cpu_by_role(api_pid: int, servers: Mapping[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of the API processes, this bench's Neo4j and Redis/FalkorDB servers
    and the whole machine: where a decision's cost lands, since they share the same 2 cores
    (with everyone else's work, which lands in `other`). Each process counts under one role
    (`cpu_roles.cpu_by_role`): the embedded engine is a child of the API process."""
    import psutil

    procs: dict[int, ProcCpu] = {}
    for p in psutil.process_iter(["ppid", "cpu_times"], ad_value=None):
        t, ppid = p.info["cpu_times"], p.info["ppid"]
        if t is not None and ppid is not None:
            procs[p.pid] = ProcCpu(ppid, t.user, t.system)
    # The API's kernel share is reported apart (`api_system`): syscalls (socket round trips,
    # thread wake-ups) are costs a sampling profiler of the Python stacks does not show.
    out = cpu_by_role(procs, api_pid, servers)
    machine = psutil.cpu_times()
    out["machine"] = machine.user + machine.system + machine.nice + machine.irq + machine.softirq
    return out


def _fork_stats(redis_target: str | Path | None) -> tuple[int, int] | None:
    """(forks so far, the latest fork's microseconds) of the Redis or embedded engine behind the
    decisions, or None when it cannot be asked. A fork stops that server's main thread for a time
    that grows with its memory (page tables are copied): at 1M accounts the embedded engine forks
    for its index garbage collector and log rewrites, and one such stop in a 30 s pass is a
    whole p99 (1% of 12,000 requests at 400/s is 0.3 s)."""
    if redis_target is None:
        return None
    import redis

    try:
        client = (
            redis.Redis(unix_socket_path=str(redis_target), socket_timeout=5)
            if isinstance(redis_target, Path)
            else redis.Redis.from_url(redis_target, socket_timeout=5)
        )
        with client:
            info = client.info("stats")
        return int(info.get("total_forks", 0)), int(info.get("latest_fork_usec", 0))
    except (redis.RedisError, OSError, ValueError):
        return None


def _gc_pauses(url: str) -> dict[str, float] | None:
    """The API's collector passes so far (`ringwatch_gc_pause_seconds` in its /metrics): per
    generation the count and seconds, and how many passes took 50 ms or more. None when the
    API does not export them."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as reply:
            text = reply.read().decode()
    except OSError:
        return None
    out: dict[str, float] = {}
    under_50ms = 0.0
    for line in text.splitlines():
        if not line.startswith("ringwatch_gc_pause_seconds"):
            continue
        name, _, value = line.rpartition(" ")
        generation = (
            name.split('generation="', 1)[1].split('"', 1)[0] if "generation" in name else ""
        )
        if name.startswith("ringwatch_gc_pause_seconds_count"):
            out[f"gen{generation}_passes"] = out.get(f"gen{generation}_passes", 0) + float(value)
        elif name.startswith("ringwatch_gc_pause_seconds_sum"):
            out[f"gen{generation}_s"] = out.get(f"gen{generation}_s", 0) + float(value)
        elif 'le="0.05"' in name:
            under_50ms += float(value)
    if not out:
        return None
    out["passes_50ms_or_more"] = (
        sum(v for k, v in out.items() if k.endswith("_passes")) - under_50ms
    )
    return out


def run_pass(
    load: Load,
    requests: list[dict[str, Any]],
    api_pid: int,
    servers: Mapping[str, list[int]] | None = None,
    redis_target: str | Path | None = None,
) -> dict[str, Any]:
    servers = servers or {}
    forks_before = _fork_stats(redis_target)
    gc_before = _gc_pauses(load.url)
    before = _cpu_by_role(api_pid, servers)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        result: dict[str, Any] = pool.submit(drive, load, requests).result()
    after = _cpu_by_role(api_pid, servers)
    forks_after = _fork_stats(redis_target)
    gc_after = _gc_pauses(load.url)
    if gc_before is not None and gc_after is not None:
        # The API's collector passes during the pass: each stops its Python, the loop with it.
        result["api_gc"] = {
            k: round(v - gc_before.get(k, 0.0), 4) for k, v in sorted(gc_after.items())
        }
    if forks_before is not None and forks_after is not None:
        result["redis_forks"] = {
            "forks": forks_after[0] - forks_before[0],
            "latest_fork_ms": round(forks_after[1] / 1000, 1),
        }
    ok = max(result["ok"], 1)
    spent = {role: after[role] - before[role] for role in after}
    spent["load_generator"] = result.pop("load_generator_cpu_s")
    spent["other"] = spent["machine"] - sum(
        v for k, v in spent.items() if k not in ("machine", "api_system")
    )
    # CPU milliseconds per answered decision, per process group (2 cores = 2,000 ms per second).
    result["cpu_ms_per_decision"] = {k: round(v * 1000 / ok, 2) for k, v in spent.items()}
    return result


# ---------------------------------------------------------------------------------------------
# In-process breakdown of DecisionService.decide (runs in its own process, engine env set)
# ---------------------------------------------------------------------------------------------

STAGES = {
    # prefetch: the one Redis pipeline (velocity count, cached account row, subnet signups)
    "facts": ("parse_context", "prefetch", "graph_read", "velocity"),
    "strategy": ("assemble", "strategy_eval"),
    "audit": ("ingest_context", "decision_log"),
}


class _NullQueue:
    """Accepted context batches stay in Redis for a worker, as with `serve --no-worker`."""

    def enqueue(self, batch_id: str) -> None:
        return None


def inprocess(
    env: Mapping[str, str], passes: list[tuple[str, bool, list[dict[str, Any]]]], profile: bool
) -> dict[str, Any]:
    os.environ.update(env)
    import ringwatch.services.decisions as decisions_mod
    from ringwatch.scoring import Strategy
    from ringwatch.services.context import Services
    from ringwatch.settings import Settings

    svc = Services(Settings())
    dec = svc.decisions
    current: dict[str, float] = defaultdict(float)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                current[name] += time.perf_counter() - t

        return wrapper

    store: Any = dec.store
    store.live_facts = timed("graph_read", store.live_facts)  # the account row and all lookups
    d: Any = dec
    d._context_record = timed("parse_context", dec._context_record)
    d._prefetch = timed("prefetch", dec._prefetch)
    d.ingest.intake.accept = timed("ingest_context", dec.ingest.intake.accept)
    d.velocity.signups_last_hour = timed("velocity", dec.velocity.signups_last_hour)
    d.log.record = timed("decision_log", dec.log.record)
    namespace = vars(decisions_mod)  # the name `decide` calls, patched for the timer
    original_assemble = namespace["assemble"]
    original_decide = Strategy.decide
    namespace["assemble"] = timed("assemble", original_assemble)
    Strategy.decide = timed("strategy_eval", original_decide)  # type: ignore[method-assign]
    queue = _NullQueue()
    out: dict[str, Any] = {}
    try:
        for name, cached, requests in passes:
            rows: list[dict[str, float]] = []
            prof = cProfile.Profile() if profile else None
            for r in requests:
                current.clear()
                if prof:
                    prof.enable()
                t = time.perf_counter()
                dec.decide(r["account_id"], r["checkpoint"], r["context"], queue, cached=cached)
                total = time.perf_counter() - t
                if prof:
                    prof.disable()
                rows.append({**current, "total": total})
            out[name] = _breakdown(rows)
            if prof:
                text = io.StringIO()
                pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
                out[name]["profile_top_cumulative"] = text.getvalue().splitlines()[:60]
    finally:
        namespace["assemble"] = original_assemble
        Strategy.decide = original_decide  # type: ignore[method-assign]
        svc.close()
    return out


def _breakdown(rows: list[dict[str, float]]) -> dict[str, Any]:
    n = len(rows)
    names = sorted({k for r in rows for k in r} - {"total"})

    def mean_ms(key: str) -> float:
        return round(sum(r.get(key, 0.0) for r in rows) / n * 1000, 3)

    totals = sorted(r["total"] * 1000 for r in rows)
    groups = {g: round(sum(mean_ms(k) for k in keys), 3) for g, keys in STAGES.items()}
    groups["other"] = round(mean_ms("total") - sum(groups.values()), 3)
    return {
        "decisions": n,
        "total_ms": {
            "mean": mean_ms("total"),
            "p50": round(_pct(totals, 50), 3),
            "p99": round(_pct(totals, 99), 3),
        },
        "groups_mean_ms": groups,
        "steps_mean_ms": {k: mean_ms(k) for k in names},
    }


def run_inprocess(
    env: Mapping[str, str], passes: list[tuple[str, bool, list[dict[str, Any]]]], profile: bool
) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(inprocess, dict(env), passes, profile).result()


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def engine_held(engines: Engines, engine: str) -> Iterator[None]:
    """For the embedded engine: start it once, here, for every pass of the run.

    Otherwise each process that needs it (`ringwatch keys create`, each pass's `serve`) starts
    it, loads the whole store and compacts it again when it exits: minutes each at 1M accounts,
    and every pass would begin on a cold engine. A process that finds one running shares it and
    leaves it up; the one started here is stopped (and compacted) when the run ends.
    """
    if engine != "embedded":
        yield
        return
    from ringwatch.graph.embedded import EmbeddedServer

    server = EmbeddedServer(engines.embedded_dir.resolve())
    t = time.perf_counter()
    server.ensure_running(timeout_s=60.0)
    _say(f"embedded: engine up in {time.perf_counter() - t:,.1f} s ({engines.embedded_dir})")
    try:
        yield
    finally:
        server.stop()


def bench_engine(
    args: argparse.Namespace,
    engines: Engines,
    engine: str,
    port: int,
    members: list[Member],
    run_tag: str,
) -> dict[str, Any]:
    n = min(args.max_requests, int(args.rate * args.duration))
    seed = args.seed
    token = api_key(engines, engine)
    result: dict[str, Any] = {"engine": engine, "requests_per_pass": n, "passes": {}}

    def load_for(url: str) -> Load:
        return Load(url, token, args.rate, args.duration, args.concurrency, args.timeout)

    from ringwatch.graph.embedded import SOCKET_NAME

    servers: dict[str, list[int]] = {}
    redis_target: str | Path | None = (
        engines.embedded_dir / SOCKET_NAME if engine == "embedded" else engines.redis_url
    )

    def warm(api: Api, tag: str) -> None:
        # The embedded engine's server is started by `serve`: found once the API answers.
        servers.clear()
        servers.update(_ours(engines, engine))
        result.setdefault("server_pids", {})[tag] = dict(servers)
        if args.warmup:
            reqs = new_signups(members, args.warmup, f"{run_tag}-{engine}-{tag}", seed + 99)
            run_pass(
                Load(
                    api.url,
                    token,
                    args.rate,
                    args.warmup / args.rate + 1,
                    args.concurrency,
                    args.timeout,
                ),
                reqs,
                api.pid,
                servers,
            )

    if "live" in args.modes:
        reqs = new_signups(members, n, f"{run_tag}-{engine}-live", seed)
        with api_server(engines, engine, port, ttl_s=0, workers=args.api_workers) as api:
            warm(api, "warm-live")
            _say(f"{engine}: live features (TTL 0), {n:,} requests at {args.rate:g}/s")
            result["passes"]["live"] = run_pass(
                load_for(api.url), reqs, api.pid, servers, redis_target
            )
    if "cached" in args.modes:
        reqs = new_signups(members, n, f"{run_tag}-{engine}-cache", seed + 1)
        with api_server(
            engines, engine, port, ttl_s=args.cache_ttl, workers=args.api_workers
        ) as api:
            warm(api, "warm-cache")
            _say(f"{engine}: cached (TTL {args.cache_ttl}), first pass, {n:,} requests")
            result["passes"]["cached-cold"] = run_pass(
                load_for(api.url), reqs, api.pid, servers, redis_target
            )
            _say(f"{engine}: cached (TTL {args.cache_ttl}), second pass over the same accounts")
            result["passes"]["cached-warm"] = run_pass(
                load_for(api.url), again(reqs, "again"), api.pid, servers, redis_target
            )
    if args.inproc:
        reqs = new_signups(members, args.inproc, f"{run_tag}-{engine}-inproc", seed + 2)
        warmup = new_signups(members, 50, f"{run_tag}-{engine}-inproc-warm", seed + 3)
        _say(f"{engine}: in-process breakdown, {args.inproc} decisions per pass")
        result["in_process"] = run_inprocess(
            engines.env(engine, RINGWATCH_FEATURE_CACHE_TTL_S=str(args.cache_ttl)),
            [
                ("warmup", False, warmup),
                ("live", False, reqs),
                ("cached-cold", True, reqs),
                ("cached-warm", True, again(reqs, "again")),
            ],
            args.profile,
        )
        result["in_process"].pop("warmup", None)
    return result


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'engine':9} {'pass':12} {'sent':>6} {'err':>4} {'ok/s':>7} {'p50 ms':>8} "
        f"{'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        for name, p in r["passes"].items():
            lat = p["latency_ms"]
            lines.append(
                f"{r['engine']:9} {name:12} {p['sent']:>6,} {p['errors']:>4} "
                f"{p['achieved_per_s']:>7,.1f} {lat['p50']:>8.1f} {lat['p90']:>8.1f} "
                f"{lat['p99']:>8.1f} {lat['max'] or 0:>8.1f}"
            )
    lines += [
        "",
        "CPU ms per answered decision, by process (2 cores: at 200/s the budget is 10 ms):",
        f"{'engine':9} {'pass':12} {'api':>6} {'neo4j':>6} {'redis*':>7} {'loadgen':>8} "
        f"{'other':>6} {'total':>6} {'forks':>6}",
    ]
    for r in results:
        for name, p in r["passes"].items():
            c = p.get("cpu_ms_per_decision")
            forks = p.get("redis_forks")
            if c:
                lines.append(
                    f"{r['engine']:9} {name:12} {c['api']:>6.2f} {c['neo4j']:>6.2f} "
                    f"{c['redis_server']:>7.2f} {c['load_generator']:>8.2f} {c['other']:>6.2f} "
                    f"{c['machine']:>6.2f} "
                    + (f"{forks['forks']:>6} (last {forks['latest_fork_ms']} ms)" if forks else "")
                )
    lines.append(
        "* redis-server processes: with the embedded engine, the graph engine and its watchdog;"
        " forks: that server's forks during the pass (each stops its main thread)"
    )
    inproc = [(r["engine"], k, v) for r in results for k, v in r.get("in_process", {}).items()]
    if inproc:
        lines += [
            "",
            "in-process DecisionService.decide, mean ms per decision:",
            f"{'engine':9} {'pass':12} {'total':>7} {'p99':>7} {'facts':>7} "
            f"{'strategy':>9} {'audit':>7} {'other':>7}   largest steps",
        ]
        for engine, name, b in inproc:
            g = b["groups_mean_ms"]
            top = sorted(b["steps_mean_ms"].items(), key=lambda kv: -kv[1])[:3]
            steps = ", ".join(f"{k} {v:.2f}" for k, v in top)
            lines.append(
                f"{engine:9} {name:12} {b['total_ms']['mean']:>7.2f} "
                f"{b['total_ms']['p99']:>7.2f} {g['facts']:>7.2f} {g['strategy']:>9.2f} "
                f"{g['audit']:>7.2f} {g['other']:>7.2f}   {steps}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/decide.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Neo4j must be running and hold the world (--load puts it there). Use an instance "
        "of your own, not a shared one: e.g. NEO4J_PORT=7697 NEO4J_HOME_DIR=.local/"
        "neo4j-decide bash scripts/neo4j.sh start, and REDIS_PORT=6397 REDIS_DIR=.local/"
        "decide/redis bash scripts/redis.sh start. The embedded engine keeps its files "
        "under WORK_DIR/embedded, or --embedded-data-dir.",
    )
    parser.add_argument(
        "--world",
        type=Path,
        default=REPO / ".local" / "decide" / "world",
        help="a `ringwatch synth` directory: events.jsonl + truth.json "
        "(default .local/decide/world)",
    )
    parser.add_argument(
        "--engines",
        default="neo4j,embedded",
        help="comma-separated: neo4j, embedded (default both)",
    )
    parser.add_argument(
        "--load",
        action="store_true",
        help="first ingest the world and run detection in each engine (timed; "
        "skipped when WORK_DIR/loaded-ENGINE.json says it was done)",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="with --load: load (or report the load of) the world, then stop",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=TARGET_RATE,
        help=f"target decisions per second, open loop (default {TARGET_RATE:g})",
    )
    parser.add_argument(
        "--duration", type=float, default=30.0, help="seconds per measured pass (default 30)"
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=20_000,
        help="upper bound on requests per pass (default 20,000)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=64,
        help="requests in flight at most, one keep-alive connection each (default 64)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="per-request timeout in seconds (default 10)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=200,
        help="unmeasured requests after each server start (default 200)",
    )
    parser.add_argument(
        "--modes",
        default="live,cached",
        help="comma-separated: live (TTL 0), cached (TTL --cache-ttl, cold then "
        "warm pass) (default both)",
    )
    parser.add_argument(
        "--cache-ttl",
        type=int,
        default=300,
        help="RINGWATCH_FEATURE_CACHE_TTL_S of the cached passes (default 300)",
    )
    parser.add_argument(
        "--inproc",
        type=int,
        default=300,
        help="decisions per pass in the in-process breakdown (0 to skip; default 300)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the in-process loop; top functions go into the JSON",
    )
    parser.add_argument("--port", type=int, default=8097, help="API port (default 8097)")
    parser.add_argument(
        "--api-workers",
        type=int,
        default=1,
        help="API processes (`ringwatch serve --workers`; default 1)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=2000,
        help="RINGWATCH_BATCH_SIZE for loading and serving (100..5000; default 2000)",
    )
    parser.add_argument(
        "--ingest-writers",
        type=int,
        default=1,
        help="`ringwatch ingest --writers` when loading (default 1)",
    )
    parser.add_argument("--seed", type=int, default=11, help="request generator seed")
    parser.add_argument("--neo4j-uri", default="bolt://127.0.0.1:7697")
    parser.add_argument("--neo4j-user", default="neo4j")
    parser.add_argument("--neo4j-password", default="ringwatch-test-password")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6397/0",
        help="Redis for the Neo4j runs (intake, cache, keys, decision log); "
        "the embedded engine uses its own",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=REPO / ".local" / "decide",
        help="embedded engine data, logs, load markers (default .local/decide)",
    )
    parser.add_argument(
        "--embedded-data-dir",
        type=Path,
        default=None,
        help="the embedded engine's data directory (default WORK_DIR/embedded): point it at a "
        "store loaded elsewhere (e.g. the 1M world) to bench it without --load",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "decide.json")
    args = parser.parse_args(argv)

    engine_names = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engine_names:
        if e not in ("neo4j", "embedded"):
            parser.error(f"unknown engine {e!r}; choose from neo4j, embedded")
    args.modes = {m.strip() for m in args.modes.split(",") if m.strip()}
    if not args.modes <= {"live", "cached"}:
        parser.error("--modes takes live and/or cached")
    if args.rate <= 0 or args.duration <= 0 or args.concurrency < 1:
        parser.error("--rate, --duration and --concurrency must be positive")
    if not (args.world / "events.jsonl").exists() or not (args.world / "truth.json").exists():
        parser.error(f"{args.world} holds no events.jsonl + truth.json (see `ringwatch synth`)")

    engines = Engines(
        args.neo4j_uri,
        args.neo4j_user,
        args.neo4j_password,
        args.redis_url,
        args.work_dir,
        args.batch_size,
        args.ingest_writers,
        args.embedded_data_dir,
    )
    args.work_dir.mkdir(parents=True, exist_ok=True)
    world = world_info(args.world)
    loads: dict[str, Any] = {}
    for engine in engine_names:
        marker = args.work_dir / f"loaded-{engine}.json"
        if args.load:
            loads[engine] = load(engines, engine, args.world)
        elif marker.exists():
            loads[engine] = orjson.loads(marker.read_bytes())
        else:
            _say(f"warning: no {marker}: is the world loaded into {engine}? (--load)")
    if args.load_only:
        print(orjson.dumps(loads, option=orjson.OPT_INDENT_2).decode())
        return 0
    members = ring_members(args.world, args.work_dir)
    if not members:
        parser.error("no planted ring member with a device in the world")
    run_tag = uuid.uuid4().hex[:8]
    load_before = os.getloadavg()
    results = []
    for i, engine in enumerate(engine_names):
        with engine_held(engines, engine):
            results.append(bench_engine(args, engines, engine, args.port + i, members, run_tag))

    print()
    print(
        f"Ringwatch decision benchmark: world {world['accounts']:,} accounts "
        f"({args.world}), target {args.rate:g}/s for {args.duration:g} s per pass, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        "latency: from each request's due time (open loop) to its response, "
        "load generator in another process on 127.0.0.1"
    )
    print()
    print(table(results))
    verdicts = []
    for r in results:
        live = r["passes"].get("live")
        if live:
            p99 = live["latency_ms"]["p99"]
            ok = p99 <= TARGET_P99_MS and live["achieved_per_s"] >= 0.95 * args.rate
            verdicts.append(
                f"{r['engine']}: live p99 {p99:.1f} ms at "
                f"{live['achieved_per_s']:.0f}/s -> "
                f"{'meets' if ok else 'MISSES'} p99 <= {TARGET_P99_MS:g} ms"
            )
        for name, p in r["passes"].items():
            api_ms = p["cpu_ms_per_decision"]["api"]
            verdicts.append(
                f"{r['engine']}: {name} API CPU {api_ms:.2f} ms per decision -> "
                f"{'meets' if api_ms <= TARGET_API_CPU_MS else 'MISSES'} "
                f"<= {TARGET_API_CPU_MS:g} ms"
            )
    print()
    print("\n".join(verdicts))
    for engine, done in loads.items():
        print(
            f"{engine}: world loaded in {done['ingest_s']:,.0f} s ingest "
            f"({done['ingest_events_per_s']:,.0f} events/s) + {done['detect_s']:,.0f} s detect"
        )

    doc = {
        "benchmark": "decide",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world": world,
        "ring_members_used": len(members),
        "loads": loads,
        "config": {
            "rate": args.rate,
            "duration_s": args.duration,
            "max_requests": args.max_requests,
            "concurrency": args.concurrency,
            "warmup": args.warmup,
            "cache_ttl_s": args.cache_ttl,
            "inproc": args.inproc,
            "modes": sorted(args.modes),
            "seed": args.seed,
            "api_workers": args.api_workers,
            "request": "signup of a new account sharing the device and the phone or card of a "
            "planted ring member; fresh email; IP in 198.18.0.0/15",
            "latency": "from the request's due time (open-loop schedule) to its response",
        },
        "target": {
            "p99_ms": TARGET_P99_MS,
            "rate": TARGET_RATE,
            "engine": "neo4j",
            "api_cpu_ms": TARGET_API_CPU_MS,
        },
        "results": results,
        "machine": machine_info(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

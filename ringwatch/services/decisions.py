"""Decisions at checkpoints: live graph facts + cached detection results -> strategy -> action.

The live strategy decides; candidate strategies run beside it in shadow and are only recorded.
Facts that must be fresh (who else uses this device, which of them are banned, which rings
they are in) are read from the graph at decision time, one or two hops from the account and
from the identifiers of the decision's own event, so a brand-new signup joining a known ring is
caught before detection has run again. The account's own detection row is cached in Redis.
All of a decision's graph facts are read in one query (`GraphStore.live_facts`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
import redis
from pydantic import ValidationError
from redis.exceptions import NoScriptError

from ringwatch.errors import Invalid, NotFound, Problem, Unavailable
from ringwatch.events import parse_event, problems_of
from ringwatch.features import (
    AccountFacts,
    DatacenterRanges,
    DetectionFacts,
    GraphFacts,
    assemble,
)
from ringwatch.graph.labels import IDENTIFIER_REL, KIND_OF_REL
from ringwatch.graph.loop_redis import LoopRedis
from ringwatch.graph.store import GraphStore, LiveFacts
from ringwatch.identity import IdentifierKind
from ringwatch.ids import unique_hex
from ringwatch.records import FieldError, Record, normalise, on_emulator
from ringwatch.scoring import Strategy, load_strategies
from ringwatch.services import intake, reviews, velocity
from ringwatch.services.decision_log import Cached, DecisionLog
from ringwatch.services.ingest import BatchQueue, IngestService, Staged
from ringwatch.services.intake import Commands, Gate
from ringwatch.services.keys import Admission, KeyService
from ringwatch.services.velocity import Velocity
from ringwatch.vocabulary import STRONG_KINDS

STRONG = STRONG_KINDS
VERDICT_ORDER = {"none": 0, "benign": 1, "suspicious": 2, "fraud": 3}
# Identifiers used by more accounts than this are hubs (a café's IP, a shared kiosk): counted,
# never expanded at decision time, which keeps the worst case of a decision bounded.
EXPAND_CAP = 200
# How `decide_async` runs blocking work: `await offload(fn, *args, **kwargs)` in a pool thread.
Offload = Callable[..., Awaitable[Any]]
# What a decision's audit record is made of (`DecisionLog.record`'s arguments).
Audit = tuple[dict[str, Any], dict[str, dict[str, Any]], Cached | None]


@dataclass(frozen=True)
class StrategySet:
    live: Strategy
    shadows: tuple[Strategy, ...]
    all: Mapping[str, Strategy]

    @classmethod
    def load(cls, directory: Path, live: str, shadows: tuple[str, ...]) -> StrategySet:
        strategies = load_strategies(directory)
        if not strategies:
            raise Invalid(f"no strategy files in {directory}")

        def pick(name: str, setting: str) -> Strategy:
            if name in strategies:
                return strategies[name]
            versions = [s for s in strategies.values() if s.id == name]
            if not versions:
                raise Invalid(
                    f"{setting}: no strategy {name!r} in {directory}",
                    [Problem(field=setting, reason=f"known: {', '.join(sorted(strategies))}")],
                )
            return max(versions, key=lambda s: _version_key(s.version))

        return cls(
            live=pick(live, "RINGWATCH_LIVE_STRATEGY"),
            shadows=tuple(pick(s, "RINGWATCH_SHADOW_STRATEGIES") for s in shadows),
            all=strategies,
        )


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)


class DecisionService:
    def __init__(
        self,
        store: GraphStore,
        client: redis.Redis,
        ingest: IngestService,
        strategies: StrategySet,
        log: DecisionLog,
        *,
        cache_ttl_s: int = 60,
        datacenter: DatacenterRanges | None = None,
        keys: KeyService | None = None,
    ) -> None:
        self.store = store
        self.redis = client
        self.ingest = ingest
        self.strategies = strategies
        self.log = log
        self.velocity = Velocity(client)
        self.cache_ttl_s = cache_ttl_s
        self.datacenter = datacenter
        self.keys = keys
        # The key's check riding in the prefetch (`decide(admission=...)`): one gate that
        # accepts the context event only for a key that is admitted, one that only checks.
        self._gates = None if keys is None else (keys.gate(intake.ACCEPT), keys.gate("return 1"))
        self._loop_redis = LoopRedis.like(client)

    def decide(
        self,
        account_id: str,
        checkpoint: str,
        context: Mapping[str, Any] | None,
        queue: BatchQueue,
        *,
        cached: bool = True,
        admission: Admission | None = None,
    ) -> dict[str, Any]:
        """`admission`: the caller's API key, checked (with its rate and role) in the same
        round trip as the prefetch instead of one of its own: the context event is accepted only
        for an admitted key, and a refused key is answered (401, 429, 403) before any other
        error, as when the key is checked first (`KeyService.admit`)."""
        started = time.perf_counter()
        try:
            record = self._context_record(account_id, context)
        except Exception:
            self._admit_first(admission)
            raise
        now = int(time.time())
        cached = cached and self.cache_ttl_s > 0
        early = self._prefetch(account_id, record, cached, now, queue, admission)
        response, audit = self._decided(account_id, checkpoint, record, now, cached, early, started)
        self.log.record(*audit)
        reviews.queue_decision(self.store, response)  # a `review` action opens a review item
        return response

    async def decide_async(
        self,
        account_id: str,
        checkpoint: str,
        context: Mapping[str, Any] | None,
        queue: BatchQueue,
        offload: Offload,
        *,
        admission: Admission | None = None,
    ) -> dict[str, Any]:
        """`decide`, called from the event loop: its Redis round trips (the prefetch with the
        key's check, the audit record) go from the loop (`LoopRedis`), and only the graph read
        and the rules, which block or take the GIL a while, go to the pool through `offload`
        (`await offload(fn, *args)`). The same steps in the same order, the same answers."""
        loop_redis = self._loop_redis
        if loop_redis is None:
            decided: dict[str, Any] = await offload(
                self.decide, account_id, checkpoint, context, queue, admission=admission
            )
            return decided
        started = time.perf_counter()
        try:
            record = self._context_record(account_id, context)
        except Exception:
            await offload(self._admit_first, admission)
            raise
        now = int(time.time())
        cached = self.cache_ttl_s > 0
        early = await self._prefetch_async(
            loop_redis, offload, account_id, record, cached, now, queue, admission
        )
        read = await self._read_graph_on_loop(account_id, record, early.row)
        if read is None:
            response, audit = await offload(
                self._decided_reviewed, account_id, checkpoint, record, now, cached, early, started
            )
        else:
            # The graph read came back on the loop (both stores read from it): features
            # and rules run here too, a fraction of a millisecond, instead of a hop to a pool
            # thread and back for them alone. A review decision still writes its review item
            # from the pool, after its audit record, as `decide` does.
            response, audit = self._decided(
                account_id, checkpoint, record, now, cached, early, started, read=read
            )
            if response["action"] == "review":
                await offload(self._record_reviewed, response, audit)
                audit = None
        if audit is not None:
            await self.log.record_async(loop_redis, *audit)
        result: dict[str, Any] = response
        return result

    async def _read_graph_on_loop(
        self, account_id: str, record: Record | None, row: dict[str, Any] | None
    ) -> tuple[dict[str, Any], LiveFacts] | None:
        """`_read_graph` from the event loop, or None when the store cannot read from it."""
        keys, subnet = _lookups(row or {}, record)
        live = await self.store.live_facts_on_loop(
            account_id, keys, subnet, EXPAND_CAP, own=row is None
        )
        if live is None:
            return None
        return (live.account or {}) if row is None else row, live

    def _record_reviewed(self, response: dict[str, Any], audit: Audit) -> None:
        """A review decision's audit record, then its review item (`decide`'s order)."""
        self.log.record(*audit)
        reviews.queue_decision(self.store, response)

    def _decided_reviewed(
        self,
        account_id: str,
        checkpoint: str,
        record: Record | None,
        now: int,
        cached: bool,
        early: Prefetched,
        started: float,
    ) -> tuple[dict[str, Any], Audit | None]:
        """`_decided` in the pool for `decide_async`; a `review` decision, which writes its review
        item to the graph after its audit record, has both written here, in the same hop and in
        `decide`'s order (audit None: done), instead of a second hop back to the pool."""
        response, audit = self._decided(account_id, checkpoint, record, now, cached, early, started)
        if response["action"] != "review":
            return response, audit
        self._record_reviewed(response, audit)
        return response, None

    def _decided(
        self,
        account_id: str,
        checkpoint: str,
        record: Record | None,
        now: int,
        cached: bool,
        early: Prefetched,
        started: float,
        *,
        read: tuple[dict[str, Any], LiveFacts] | None = None,
    ) -> tuple[dict[str, Any], Audit]:
        """The decision after its prefetch: the graph read (unless `read` brings it), features,
        rules; its answer and what `DecisionLog.record` writes."""
        account_row, live_facts = read or self._read_graph(account_id, record, early.row, cached)
        account = self._account_facts(account_row, record)
        graph, detection, evidence = self._graph_facts(
            account_row, record, now, live_facts, account.subnet, early
        )
        features = assemble(
            checkpoint,
            now,
            account,
            graph,
            detection,
            datacenter=self.datacenter,
            min_age=self.strategies.live.min_age,
        )
        live = self.strategies.live.decide(checkpoint, features)
        shadows = {s.key: s.decide(checkpoint, features).to_dict() for s in self.strategies.shadows}
        decision_id = "dec_" + unique_hex()
        response = {
            "decision_id": decision_id,
            "account_id": account_id,
            "checkpoint": checkpoint,
            "action": live.action,
            "score": live.score,
            "reasons": [
                {"rule": f.rule, "points": f.points, "reason": f.reason, "seen": dict(f.seen)}
                for f in live.reasons
            ],
            "ring": evidence["ring"],
            "evader": evidence["evader"],
            "strategy_version": live.strategy_version,
            "strategy": self.strategies.live.key,
            "at": now,
        }
        cache = (
            Cached(f"rw:feat:account:{account_id}", orjson.dumps(account_row), self.cache_ttl_s)
            if cached and early.row is None
            else None
        )
        logged = {
            **response,
            "features": dict(features),
            "decision": live.to_dict(),
            "context_event": record["id"] if record else None,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        return response, (logged, shadows, cache)

    def shadow_report(self, strategy_key: str, limit: int = 10_000) -> dict[str, Any]:
        from ringwatch.scoring.shadow import compare

        if strategy_key not in {s.key for s in self.strategies.shadows}:
            candidates = [s.key for s in self.strategies.shadows]
            matches = [k for k in candidates if k.split("@")[0] == strategy_key]
            if len(matches) != 1:
                raise NotFound(f"no shadow strategy {strategy_key!r}; shadows: {candidates}")
            strategy_key = matches[0]
        records = self.log.shadow_records(strategy_key, limit)
        report = compare((r["live"], r["candidate"]) for r in records).to_dict()
        return {"strategy": strategy_key, "live": self.strategies.live.key, **report}

    # -- facts ---------------------------------------------------------------------------------
    def _context_record(self, account_id: str, context: Mapping[str, Any] | None) -> Record | None:
        if not context:
            return None
        raw = _raw_with_account(context, account_id)
        if raw["account_id"] != account_id:
            raise Invalid(
                "context event is for another account",
                [Problem(field="context.account_id", reason="must equal account_id")],
            )
        try:
            return normalise(parse_event(raw), self.ingest.hasher)
        except ValidationError as e:
            problems = [
                Problem(field=f"context.{p.field}", reason=p.reason) for p in problems_of(e, 0)
            ]
            raise Invalid("invalid context event", problems) from e
        except FieldError as e:
            raise Invalid(
                "invalid context event", [Problem(field=f"context.{e.field}", reason=e.reason)]
            ) from e

    def _admit_first(self, admission: Admission | None) -> None:
        """For a request that fails before its key's check has been sent: check the key on its
        own first, so that a refused key is what the caller hears."""
        if admission is not None:
            self._keys().admit(admission)

    def _keys(self) -> KeyService:
        if self.keys is None:
            raise RuntimeError("DecisionService was built without a KeyService: no admission")
        return self.keys

    def _gate(self, admission: Admission | None, record: Record | None) -> Gate | None:
        if admission is None:
            return None
        keys = self._keys()
        gate_args = keys.gate_args(admission)
        if gate_args is None or self._gates is None:
            keys.admitted(admission, None)  # a token of the wrong shape: 401, no round trip
            raise AssertionError("unreachable")
        script = self._gates[0] if record is not None else self._gates[1]
        return Gate(script, *gate_args)

    def _prefetch(
        self,
        account_id: str,
        record: Record | None,
        cached: bool,
        now: int,
        queue: BatchQueue,
        admission: Admission | None = None,
    ) -> Prefetched:
        """The context event's acceptance (with its velocity count) and everything Redis holds
        for the decision, in ONE round trip: the cached account row, and the signup counts of
        the event's subnet (the decision's subnet whenever the event has an IP), read after the
        acceptance script in the same pipeline, so they include the event's own signup. With an
        `admission`, the key's check leads that script (`KeyService.gate`): a refused key's
        request accepts nothing, and its reads' answers are dropped."""
        for attempt in (1, 2):
            pipe = self.redis.pipeline(transaction=False)
            try:
                sent = self._prefetch_commands(pipe, account_id, record, cached, now, admission)
            except Exception:
                self._admit_first(admission)
                raise
            if not len(pipe):
                return Prefetched(None, None, None)
            try:
                answers = pipe.execute(raise_on_error=False)
            except redis.RedisError as e:
                raise self._unreachable(e, sent, admission) from e
            if self._lost_script(sent, answers, attempt):
                # Redis restarted: nothing ran; load the script and send again
                self._load_script(sent)
                continue
            break
        return self._prefetched(sent, answers, cached, queue, admission)

    async def _prefetch_async(
        self,
        loop_redis: LoopRedis,
        offload: Offload,
        account_id: str,
        record: Record | None,
        cached: bool,
        now: int,
        queue: BatchQueue,
        admission: Admission | None,
    ) -> Prefetched:
        """`_prefetch`, its round trip sent from the event loop."""
        for attempt in (1, 2):
            commands = _Commands()
            try:
                sent = self._prefetch_commands(commands, account_id, record, cached, now, admission)
            except Exception:
                await offload(self._admit_first, admission)
                raise
            if not len(commands):
                return Prefetched(None, None, None)
            try:
                answers = await loop_redis.execute(commands.commands)
            except redis.RedisError as e:
                raise self._unreachable(e, sent, admission) from e
            if self._lost_script(sent, answers, attempt):
                await offload(self._load_script, sent)
                continue
            break
        return self._prefetched(sent, answers, cached, queue, admission)

    def _prefetch_commands(
        self,
        pipe: _Prefetch,
        account_id: str,
        record: Record | None,
        cached: bool,
        now: int,
        admission: Admission | None,
    ) -> _Sent:
        subnet = _event_subnet(record)
        gate = self._gate(admission, record)
        # The event is part of the account's history whatever the decision says. It was
        # validated and normalised just above: accepted as is (IngestService.accept would parse
        # and hash it a second time, a measurable share of a decision's CPU).
        staged = None if record is None else self.ingest.stage(record, pipe, gate)
        if staged is None and gate is not None:
            gate.send(pipe)
        first = len(pipe)
        if cached:
            pipe.get(f"rw:feat:account:{account_id}")
        if subnet is not None:
            pipe.mget(velocity.window(subnet, now))
        return _Sent(gate, staged, first, subnet)

    def _unreachable(
        self, e: redis.RedisError, sent: _Sent, admission: Admission | None
    ) -> Exception:
        if sent.gate is not None and admission is not None:
            self._keys().admitted(admission, e)  # the key's check failed first: its 503
        if isinstance(e, redis.ConnectionError | redis.TimeoutError):
            return Unavailable(f"Redis is unreachable: {e}")
        return e

    @staticmethod
    def _lost_script(sent: _Sent, answers: Sequence[Any], attempt: int) -> bool:
        scripted = sent.staged is not None or sent.gate is not None
        return scripted and attempt == 1 and isinstance(answers[0], NoScriptError)

    def _load_script(self, sent: _Sent) -> None:
        if sent.gate is not None:
            sent.gate.load(self.redis)
        else:
            self.ingest.intake.load_script()

    def _prefetched(
        self,
        sent: _Sent,
        answers: list[Any],
        cached: bool,
        queue: BatchQueue,
        admission: Admission | None,
    ) -> Prefetched:
        if sent.gate is not None and admission is not None:
            # 401 / 429 / 403 here, before any other answer is looked at.
            _, answers[0] = self._keys().admitted(admission, answers[0])
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        if sent.staged is not None:
            self.ingest.finish(sent.staged, answers, queue)
        answers = answers[sent.first :]
        raw = answers.pop(0) if cached else None
        signups = velocity.total(answers[0]) if sent.subnet is not None else None
        return Prefetched(None if raw is None else dict(orjson.loads(raw)), sent.subnet, signups)

    def _read_graph(
        self, account_id: str, record: Record | None, row: dict[str, Any] | None, cached: bool
    ) -> tuple[dict[str, Any], LiveFacts]:
        """The account's row and the decision's live graph facts, in ONE read of the store.

        A row from the cache brings its identifiers, looked up with the context event's. Without
        one, the same read fetches the row and looks up the account's own identifiers itself.
        Either way the lookups (who else uses them, banned, rings, subnet counts) are live.
        (The row read here is cached by `decide`, with the decision's log, when `cached`.)
        """
        keys, subnet = _lookups(row or {}, record)
        live = self.store.live_facts(account_id, keys, subnet, EXPAND_CAP, own=row is None)
        return (live.account or {}) if row is None else row, live

    def _account_facts(self, row: Mapping[str, Any], record: Record | None) -> AccountFacts:
        rec: Mapping[str, Any] = record or {}
        profile = rec.get("profile") or {}
        domain = rec.get("email_domain", [None, None])[1]
        for rel, key, _ in row.get("identifiers", []):
            if rel == "USES_EMAIL_DOMAIN" and domain is None:
                domain = key
        _, subnet = _lookups(row, record)
        created = row.get("created_at")
        if created is None and record is not None and record["t"] == "signup":
            created = record["ts"]
        return AccountFacts(
            created_at=int(created) // 1000 if created is not None else None,
            birthdate=profile.get("birthdate") or row.get("birthdate"),
            email_domain=domain,
            subnet=subnet,
            banned=row.get("banned_at") is not None,
            emulator=on_emulator(record),
        )

    def _other_signups(
        self, subnet: str | None, record: Record | None, now: int, early: Prefetched
    ) -> int:
        """Signups of *other* accounts from the subnet in the last hour (docs/features.md): the
        decision's own signup was counted when its event was accepted, just before."""
        if not subnet:
            return 0
        if early.subnet == subnet and early.signups is not None:
            count = early.signups
        else:  # no IP in the event: the account's latest subnet, known from its row only now
            count = self.velocity.signups_last_hour(subnet, now)
        own = (
            record is not None
            and record["t"] == "signup"
            and record.get("ip_subnet", [None, None])[1] == subnet
        )
        return max(0, count - 1) if own else count

    def _graph_facts(
        self,
        row: Mapping[str, Any],
        record: Record | None,
        now: int,
        live: LiveFacts,
        subnet: str | None,
        early: Prefetched,
    ) -> tuple[GraphFacts, DetectionFacts, dict[str, Any]]:
        """`subnet`: the decision's one subnet (AccountFacts.subnet, from _lookups)."""
        device_accounts = 0
        shared_with_banned = 0
        banned: set[str] = set()
        rings: dict[str, tuple[str, int, float]] = {}
        for kind, hits in live.shared.items():
            own = _own(row, kind)
            for hit in hits:
                others = int(hit["accounts"] or 0) - (1 if hit["key"] in own else 0)
                if kind is IdentifierKind.DEVICE:
                    device_accounts = max(device_accounts, others)
                if hit["banned"]:
                    shared_with_banned += 1
                    banned.update(hit["banned"])
                for ring_id, verdict, size, score in hit["rings"]:
                    rings[ring_id] = (verdict, int(size or 0), float(score or 0.0))
        own_ring = row.get("ring_id")
        if own_ring:
            rings[own_ring] = (
                row["ring_verdict"],
                int(row["ring_size"] or 0),
                float(row["ring_score"] or 0.0),
            )
        best = max(
            rings.items(),
            key=lambda kv: (VERDICT_ORDER.get(kv[1][0], 0), kv[1][2], kv[0]),
            default=None,
        )
        subnet_accounts = live.subnets.get(subnet, 0) if subnet else 0
        graph = GraphFacts(
            device_accounts=device_accounts,
            subnet_accounts=max(0, subnet_accounts - (1 if row.get("identifiers") else 0)),
            subnet_signups_1h=self._other_signups(subnet, record, now, early),
            shared_with_banned=shared_with_banned,
            banned_neighbours=len(banned),
        )
        evader_score = float(row.get("evader_score") or 0.0)
        detection = DetectionFacts(
            ring_verdict=best[1][0] if best else "none",
            ring_size=best[1][1] if best else 0,
            ring_score=best[1][2] if best else 0.0,
            evader_score=evader_score,
            sybil_score=_float_or_none(row.get("sybil_score")),
            engagement_score=float(row.get("engagement_score") or 0.0),
        )
        evidence = {
            "ring": (
                {
                    "id": best[0],
                    "verdict": best[1][0],
                    "size": best[1][1],
                    "score": best[1][2],
                    "member": best[0] == own_ring,
                }
                if best
                else None
            ),
            "evader": {"score": evader_score, "banned_neighbours": sorted(banned)[:20]}
            if evader_score or banned
            else None,
        }
        return graph, detection, evidence


@dataclass(frozen=True)
class _Sent:
    """What a prefetch sent: the key's gate, the context event's acceptance, where the reads'
    answers begin, and the subnet whose counts were read."""

    gate: Gate | None
    staged: Staged | None
    first: int
    subnet: str | None


class _Prefetch(Commands, Protocol):
    """A prefetch's round trip: a redis-py pipeline, or `_Commands`."""

    def get(self, name: str, /) -> Any: ...

    def mget(self, keys: Sequence[str], /) -> Any: ...


class _Commands:
    """The prefetch's commands, gathered as a redis-py pipeline gathers them, for `LoopRedis`."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self.commands)

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> None:
        self.commands.append(("EVALSHA", sha, numkeys, *keys_and_args))

    def get(self, key: str) -> None:
        self.commands.append(("GET", key))

    def mget(self, keys: Sequence[str]) -> None:
        self.commands.append(("MGET", *keys))


@dataclass(frozen=True)
class Prefetched:
    row: dict[str, Any] | None  # the cached account row (None: not cached, or not asked)
    subnet: str | None  # the context event's subnet, whose signup counts were read
    signups: int | None  # its signups in the last hour, the decision's own included


def _event_subnet(record: Record | None) -> str | None:
    """The event's subnet, as `_lookups` picks it (the last one listed)."""
    rec: Mapping[str, Any] = record or {}
    subnets = [k for kind, k in rec.get("ids", []) if kind == IdentifierKind.SUBNET]
    return str(subnets[-1]) if subnets else None


def _lookups(
    row: Mapping[str, Any], record: Record | None
) -> tuple[dict[IdentifierKind, set[str]], str | None]:
    """The strong identifiers to look up (the account's, from its row, and the context event's),
    and THE subnet of the decision, used for every subnet feature: the event's, else the
    account's most recent one (the row lists identifiers newest first)."""
    keys: dict[IdentifierKind, set[str]] = {k: set() for k in STRONG}
    subnet: str | None = None
    for rel, key, _ in row.get("identifiers", []):
        kind = KIND_OF_REL.get(rel)
        if kind is not None and kind in keys:
            keys[kind].add(key)
        elif kind is IdentifierKind.SUBNET and subnet is None:
            subnet = key
    rec: Mapping[str, Any] = record or {}
    for kind_name, key in rec.get("ids", []):
        kind = IdentifierKind(kind_name)
        if kind in keys:
            keys[kind].add(key)
        elif kind is IdentifierKind.SUBNET:
            subnet = key
    return keys, subnet


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _own(row: Mapping[str, Any], kind: IdentifierKind) -> set[str]:
    rel = IDENTIFIER_REL[kind].value
    return {key for r, key, _ in row.get("identifiers", []) if r == rel}


def _raw_with_account(context: Mapping[str, Any] | None, account_id: str) -> dict[str, Any]:
    raw = dict(context or {})
    raw.setdefault("account_id", account_id)
    return raw

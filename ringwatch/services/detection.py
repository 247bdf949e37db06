"""Detection runs: snapshot from the store -> pure detectors -> write-back with stable ring ids.

Full runs cover every account (nightly, or `ringwatch detect --full`). Incremental runs cover
the components of accounts that just changed: identifiers are followed only while rare enough to
link accounts in detection (the projection's caps), which is what keeps a scope small and a new
signup's ring or ban-evasion match visible within seconds.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ringwatch.detectors.calibration import (
    FIT,
    USE_PRIOR,
    CalibrationParams,
    VerdictModel,
    account_labels,
)
from ringwatch.detectors.overrides import apply_overrides
from ringwatch.detectors.pipeline import DetectionResult, DetectParams, Ring, detect
from ringwatch.detectors.shadow import compare_rings
from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder
from ringwatch.errors import Invalid, NotFound, Problem
from ringwatch.graph.queries import cypher
from ringwatch.graph.store import DetectionWrite, GraphStore, Scope
from ringwatch.identity import IdentifierKind
from ringwatch.services import changes, reviews
from ringwatch.services.fanout import FanOut
from ringwatch.settings import Settings

# An incremental scope stops growing past this many accounts, once crossing fewer places did
# not keep it under (`DetectionService._expand`); the run then says it was capped.
MAX_INCREMENTAL_SCOPE = 50_000
# How many shared places (addresses, subnets, number blocks) an incremental scope crosses from
# the changed accounts, when not set (`Settings.incremental_place_hops`); personal identifiers
# are followed to the end (`expand_scope`).
INCREMENTAL_PLACE_HOPS: int = Settings.model_fields["incremental_place_hops"].default


@dataclass
class DetectionSummary:
    run_id: str
    kind: str
    accounts: int
    rings: dict[str, int] = field(default_factory=dict)  # verdict -> count
    ring_members: int = 0
    evaders: int = 0
    complete: bool = True
    place_hops: int | None = None  # incremental runs: places the scope crossed (None: no bound)
    # Incremental runs: changed accounts left for the next run, past the scope's limit.
    deferred: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    verdict_model: dict[str, Any] = field(default_factory=dict)  # calibration record


def detect_params(settings: Settings) -> DetectParams:
    """Detection parameters with the verdict calibration settings (RINGWATCH_VERDICT_*)."""
    return DetectParams(
        calibration=CalibrationParams(
            enabled=settings.verdict_calibration,
            min_positive_rings=settings.verdict_min_positive_rings,
            target_precision_fraud=settings.verdict_target_precision_fraud,
            target_precision_suspicious=settings.verdict_target_precision_suspicious,
            folds=settings.verdict_cv_folds,
        )
    )


def shadow_params(settings: Settings) -> tuple[DetectParams, dict[str, Any]] | None:
    """The shadow candidate: the live parameters with the overrides of
    RINGWATCH_SHADOW_DETECTION_FILE applied, and the overrides as given (None: no candidate)."""
    path = settings.shadow_detection_file
    if path is None:
        return None
    overrides = read_overrides(path)
    return apply_overrides(detect_params(settings), overrides), overrides


def read_overrides(path: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    field = "RINGWATCH_SHADOW_DETECTION_FILE"
    try:
        loaded = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise Invalid(f"{field}: {exc}", [Problem(field, str(exc))]) from exc
    except YAMLError as exc:
        reason = f"not YAML or JSON: {exc}"
        raise Invalid(f"{field}: {reason}", [Problem(field, reason)]) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        reason = "expected a mapping of detection parameters"
        raise Invalid(f"{field}: {reason}", [Problem(field, reason)])
    return loaded


def deployment_labels(store: GraphStore) -> tuple[list[str], list[str]]:
    """(positive, negative) account ids beyond bans (the Snapshot has those): accounts and
    ring members resolved `fraud` in review, and accounts cleared or resolved `legit`. Per
    account the newest label wins (a clearance after a `fraud` review overturns it)."""
    newest: dict[str, tuple[int, str]] = {}
    rows = store.read(cypher("read/cleared_accounts"))
    rows = [{**r, "label": "legit"} for r in rows]
    rows += store.read(cypher("reviews/labelled_accounts"))
    rows += store.read(cypher("reviews/labelled_ring_members"))
    for r in rows:
        at = int(r.get("at") or 0)
        seen = newest.get(r["id"])
        if seen is None or at >= seen[0]:
            newest[r["id"]] = (at, r["label"])
    positive = sorted(a for a, (_, label) in newest.items() if label == "fraud")
    negative = sorted(a for a, (_, label) in newest.items() if label == "legit")
    return positive, negative


def latest_model(store: GraphStore) -> VerdictModel | None:
    """The verdict model the newest full run fitted (None: none did, the prior holds)."""
    rows = store.read(cypher("read/latest_full_run"))
    if not rows or not rows[0].get("stats"):
        return None
    fitted = orjson.loads(rows[0]["stats"]).get("verdict_model", {}).get("fitted")
    return VerdictModel.from_record(fitted) if fitted else None


def shadow_report(store: GraphStore, run_id: str | None = None, limit: int = 100) -> dict[str, Any]:
    """The shadow candidate against the live verdicts of the newest full run (or of `run_id`):
    agreement, rings gained and lost (at most `limit` of each, largest first), members affected."""
    if run_id is None:
        rows = store.read(cypher("read/latest_full_run"))
        if not rows:
            raise NotFound("no full detection run yet")
    else:
        rows = store.read(cypher("read/detection_run"), {"id": run_id})
        if not rows:
            raise NotFound(f"no detection run {run_id!r}")
    stats = orjson.loads(rows[0].get("stats") or "{}")
    shadow = stats.get("shadow")
    if not shadow:
        raise NotFound(
            f"detection run {rows[0]['id']!r} ran no shadow candidate "
            "(set RINGWATCH_SHADOW_DETECTION_FILE for the process that runs full detection)"
        )
    comparison = dict(shadow["comparison"])
    for side in ("rings_gained", "rings_lost"):
        rings = sorted(comparison[side], key=lambda c: (-c["members"], c["ring_id"]))
        comparison[f"{side}_total"] = len(rings)
        comparison[side] = rings[:limit]
    return {
        "run_id": rows[0]["id"],
        "candidate": shadow["candidate"],
        "live": shadow["live"],
        "comparison": comparison,
    }


def run_view(row: dict[str, Any]) -> dict[str, Any]:
    stats = orjson.loads(row.get("stats") or "{}")
    return {
        "run_id": row["id"],
        "kind": row["kind"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "accounts": row["accounts"],
        "rings": row["rings"],
        "evaders": row["evaders"],
        "timings": stats.get("timings", {}),
        "verdict_model": stats.get("verdict_model", {}),
    }


def runs_page(store: GraphStore, limit: int = 20) -> dict[str, Any]:
    rows = store.read(cypher("read/detection_runs"), {"limit": int(limit)})
    return {"runs": [run_view(r) for r in rows]}


def get_run(store: GraphStore, run_id: str) -> dict[str, Any]:
    rows = store.read(cypher("read/detection_run"), {"id": run_id})
    if not rows:
        raise NotFound(f"no detection run {run_id!r}")
    return run_view(rows[0])


def link_caps(params: DetectParams) -> dict[IdentifierKind, int]:
    """Largest identifier degree at which a shared identifier still links two accounts in the
    projection: under the kind's cap, and (for rarity-weighted kinds) heavy enough to survive
    the minimum pair weight."""
    proj = params.projection
    caps: dict[IdentifierKind, int] = {}
    for kind in IdentifierKind:
        # Kinds outside the projection (phone runs are a behavioural link) link no pair here.
        weight = proj.kind_weight.get(kind.value, 0.0)
        if weight <= 0:
            continue
        cap = int(proj.kind_cap[kind.value])
        exponent = proj.rarity_exponent[kind.value]
        if exponent > 0:
            cap = min(cap, math.floor((weight / proj.min_pair_weight) ** (1 / exponent)))
        if cap >= 2:
            caps[kind] = cap
    return caps


def written_scope(
    rings: Iterable[Ring],
    scope: Sequence[str],
    core: Sequence[str],
    previous: Mapping[str, Sequence[str]],
) -> tuple[list[str], dict[str, list[str]]]:
    """What an incremental run over `scope` writes back, when only `core` saw all its places
    (`GraphStore.expand_scope`): (accounts whose ring, risk and evader links are rewritten,
    the previous rings that may be retired).

    Accounts outside the core lack some neighbours, so a ring found among them alone may be a
    piece of one that reaches past the scope: it is not written, and their stored results
    stand. Written: every ring with a member in the core or in a previous ring of the core
    (re-formed, split or dissolved), with all its members; previous rings are retired only
    where they touch a written account. Accounts stay inside `scope`: one outside was not
    detected over, as in a run without the bound."""
    touched = with_ring_members(core, previous)
    written = with_ring_members(touched, {r.ring_id: r.members for r in rings})
    written &= set(scope)
    kept = {ring: list(m) for ring, m in previous.items() if not written.isdisjoint(m)}
    return sorted(written), kept


def with_ring_members(accounts: Iterable[str], rings: Mapping[str, Sequence[str]]) -> set[str]:
    """The accounts, and every member of each of `rings` that one of them is in."""
    given = set(accounts)
    found = set(given)
    for members in rings.values():
        if not given.isdisjoint(members):
            found.update(members)
    return found


class DetectionService:
    def __init__(
        self,
        store: GraphStore,
        params: DetectParams | None = None,
        seed: int = 0,
        shadow: tuple[DetectParams, dict[str, Any]] | None = None,
        fanout: FanOut | None = None,
        *,
        place_hops: int | None = INCREMENTAL_PLACE_HOPS,
    ) -> None:
        self.store = store
        self.params = params or DetectParams()
        self.seed = seed
        # None: an incremental scope is the changed accounts' whole component.
        self.incremental_place_hops = place_hops
        # (candidate parameters, the overrides that made them): run beside full runs only.
        self.shadow = shadow
        # Full runs fan out over shard tasks when given (RINGWATCH_DETECTION_SHARDS > 1);
        # incremental scopes are small and stay in this process.
        self.fanout = fanout

    @classmethod
    def from_settings(
        cls, store: GraphStore, settings: Settings, seed: int = 0, fanout: FanOut | None = None
    ) -> DetectionService:
        return cls(
            store,
            detect_params(settings),
            seed,
            shadow_params(settings),
            fanout,
            place_hops=settings.incremental_place_hops,
        )

    def snapshot(self, progress: Callable[[int], None] | None = None) -> Snapshot:
        builder = SnapshotBuilder()
        self.store.stream_snapshot(builder, progress=progress)
        return builder.build()

    def run_full(
        self, progress: Callable[[str, int], None] | None = None
    ) -> tuple[DetectionResult, DetectionSummary]:
        started = time.time()
        clock = time.perf_counter()
        snapshot = self.snapshot(progress=(lambda n: progress("snapshot", n)) if progress else None)
        t_snapshot = time.perf_counter() - clock
        clock = time.perf_counter()
        previous = self.store.active_rings()
        t_previous = time.perf_counter() - clock
        scope = [str(a) for a in snapshot.accounts]
        positive, negative = deployment_labels(self.store)
        labels = account_labels(snapshot, positive, negative)
        # Accounts flagged before but absent from the snapshot cannot exist (accounts are never
        # deleted), so the snapshot is the whole scope.
        shadow = None
        if self.shadow is not None:
            clock = time.perf_counter()
            shadow = self._shadow(snapshot, previous, labels, *self.shadow)
            summary_shadow_s = time.perf_counter() - clock
        result, summary = self._run(
            "full",
            snapshot,
            previous,
            scope,
            started,
            t_snapshot,
            labels,
            FIT,
            shadow=shadow,
            fan_out=True,
            progress=progress,
        )
        summary.seconds["previous_rings"] = round(t_previous, 3)
        if shadow is not None:
            summary.seconds["shadow"] = round(summary_shadow_s, 3)
        return result, summary

    def _shadow(
        self,
        snapshot: Snapshot,
        previous: dict[str, list[str]],
        labels: Any,
        params: DetectParams,
        overrides: dict[str, Any],
    ) -> Callable[[DetectionResult], dict[str, Any]]:
        """The candidate's verdicts over the live run's snapshot, history and labels; returns
        the comparison to make once the live result is known. Nothing of it is written but the
        comparison, in the run's record."""
        candidate = detect(
            snapshot, previous, seed=self.seed, params=params, labels=labels, verdict_model=FIT
        )
        # A ring an analyst cleared is benign for the candidate too: shadow compares models,
        # not the review queue.
        candidate = reviews.apply_suppressions(self.store, candidate)

        def against(live: DetectionResult) -> dict[str, Any]:
            def counts(r: DetectionResult) -> dict[str, int]:
                out: dict[str, int] = {}
                for ring in r.rings:
                    out[ring.verdict] = out.get(ring.verdict, 0) + 1
                return out

            return {
                "candidate": {
                    "overrides": overrides,
                    "rings": counts(candidate),
                    "verdict_model": candidate.verdict_model,
                },
                "live": {"rings": counts(live), "verdict_model": live.verdict_model},
                "comparison": compare_rings(live.rings, candidate.rings).to_dict(),
            }

        return against

    def run_incremental(
        self, changed: Iterable[str]
    ) -> tuple[DetectionResult, DetectionSummary] | None:
        started = time.time()
        clock = time.perf_counter()
        accounts = sorted(set(changed))
        if not accounts:
            return None
        part, expansion, place_hops = self._expand(accounts)
        previous = self.store.active_rings(expansion.accounts)
        # The rings the run may rewrite are read whole, for the same reason as the seeds'.
        scope = sorted(set(expansion.accounts) | with_ring_members(expansion.core, previous))
        builder = SnapshotBuilder()
        # Repeat offenders are matched against every banned account, not only those in scope.
        self.store.snapshot_of(builder, scope, banned_profiles=True)
        snapshot = builder.build()
        # The verdict model is fitted on the whole deployment at full runs only: a scope's few
        # labels would fit a different model, and verdicts would flap between runs.
        model = latest_model(self.store) if self.params.calibration.enabled else None
        # Review labels still seed trust propagation over the scope (they fit nothing here).
        positive, negative = deployment_labels(self.store)
        trust_labels = account_labels(snapshot, positive, negative)
        t_snapshot = time.perf_counter() - clock
        result, summary = self._run(
            "incremental",
            snapshot,
            previous,
            scope,
            started,
            t_snapshot,
            None,
            model or USE_PRIOR,
            trust_labels,
            core=expansion.core,
        )
        summary.complete = expansion.complete
        summary.place_hops = place_hops
        summary.deferred = accounts[len(part) :]
        return result, summary

    def _expand(self, changed: list[str]) -> tuple[list[str], Scope, int | None]:
        """(the changed accounts this run covers, its scope, the places the scope crosses).

        Past `MAX_INCREMENTAL_SCOPE` (a burst of changed accounts) the run covers the first half
        of them, and so on, and leaves the rest to the next run (`DetectionSummary.deferred`).
        A single account whose neighbourhood alone is past it crosses one place fewer, down to
        one, before its scope is cut at an arbitrary edge, where rings would be pieces."""
        caps = link_caps(self.params)
        hops = self.incremental_place_hops
        part = changed
        while True:
            seeds = self._with_rings(part)
            expansion = self.store.expand_scope(seeds, caps, MAX_INCREMENTAL_SCOPE, place_hops=hops)
            if expansion.complete or len(part) == 1:
                break
            part = part[: len(part) // 2]
        while not expansion.complete and hops is not None and hops > 1:
            hops -= 1
            expansion = self.store.expand_scope(seeds, caps, MAX_INCREMENTAL_SCOPE, place_hops=hops)
        return part, expansion, hops

    def _with_rings(self, accounts: list[str]) -> list[str]:
        """The accounts and every member of their stored rings: a changed account's ring is
        recomputed whole, since members tied by behaviour (lockstep, runs of phone numbers,
        mail stems) share no identifier a walk could follow."""
        return sorted(with_ring_members(accounts, self.store.active_rings(accounts)))

    def _run(
        self,
        kind: str,
        snapshot: Snapshot,
        previous: dict[str, list[str]],
        scope: list[str],
        started: float,
        t_snapshot: float,
        labels: Any,
        model: VerdictModel | str,
        trust_labels: Any = None,
        shadow: Callable[[DetectionResult], dict[str, Any]] | None = None,
        fan_out: bool = False,
        progress: Callable[[str, int], None] | None = None,
        core: list[str] | None = None,
    ) -> tuple[DetectionResult, DetectionSummary]:
        """`fan_out`: detect through `self.fanout`, when the service has one. `core`: the
        accounts of `scope` whose results are written (`written_scope`); None: all of it."""
        run_id = _run_id(kind, started)
        clock = time.perf_counter()
        result = self._detect(
            snapshot, previous, labels, model, trust_labels, run_id, fan_out, progress
        )
        t_detect = time.perf_counter() - clock
        if core is not None:
            scope, previous = written_scope(result.rings, scope, core, previous)
        scope_set = set(scope)
        clock = time.perf_counter()
        write = self._to_write(
            result,
            run_id,
            kind,
            int(started * 1000),
            scope,
            scope_set,
            previous,
            shadow(result) if shadow is not None else None,
        )
        t_prepare = time.perf_counter() - clock
        clock = time.perf_counter()
        self._save(write)
        t_write = time.perf_counter() - clock
        seconds = {
            "snapshot": round(t_snapshot, 3),
            "detect": round(t_detect, 3),
            "prepare_write": round(t_prepare, 3),
            "write_back": round(t_write, 3),
        }
        return result, _summary(result, run_id, kind, scope, scope_set, seconds)

    def _detect(
        self,
        snapshot: Snapshot,
        previous: dict[str, list[str]],
        labels: Any,
        model: VerdictModel | str,
        trust_labels: Any,
        run_id: str,
        fan_out: bool,
        progress: Callable[[str, int], None] | None,
    ) -> DetectionResult:
        """`detect`, or the same result through the shard tasks (`self.fanout`) when asked and
        configured; the shards write files only, the store is written after the merge."""
        # One argument list for both paths: the sharded path once dropped `trust_labels`.
        inputs: dict[str, Any] = {
            "seed": self.seed,
            "params": self.params,
            "labels": labels,
            "verdict_model": model,
            "trust_labels": trust_labels,
        }
        if fan_out and self.fanout is not None:
            result = self.fanout.detect(
                snapshot, previous, run_id=run_id, progress=progress, **inputs
            )
        else:
            result = detect(snapshot, previous, **inputs)
        # Review labels: a ring cleared as legit stays benign while its evidence is unchanged.
        return reviews.apply_suppressions(self.store, result)

    def _save(self, write: DetectionWrite) -> None:
        self.store.save_detection(write)
        reviews.sync_ring_reviews(self.store)  # queue rings that became suspicious

    def _to_write(
        self,
        result: DetectionResult,
        run_id: str,
        kind: str,
        started_ms: int,
        scope: list[str],
        scope_set: set[str],
        previous: dict[str, list[str]],
        shadow: dict[str, Any] | None = None,
    ) -> DetectionWrite:
        rings = [r for r in result.rings if set(r.members) <= scope_set]
        old_history = self.store.ring_histories([r.ring_id for r in rings])
        before_rings = self.store.ring_states(sorted(set(previous) | {r.ring_id for r in rings}))
        before_risk = self.store.account_risks(None if kind == "full" else scope)
        risk = _risk_rows(result, rings, scope_set)
        return DetectionWrite(
            ring_changes=_ring_change_rows(result, rings, before_rings, previous),
            account_changes=changes.account_changes(
                before_risk, {str(r["a"]): r for r in risk}, scope
            ),
            run_id=run_id,
            kind=kind,
            started_at=started_ms,
            rings=[
                {
                    "id": r.ring_id,
                    "score": r.score,
                    "verdict": r.verdict,
                    "size": len(r.members),
                    "evidence": _json(r.evidence),
                }
                for r in rings
            ],
            ring_history=_history_rows(rings, old_history, run_id),
            members=[{"a": a, "ring": r.ring_id} for r in rings for a in r.members],
            risk=risk,
            evader_links=_evader_link_rows(result, scope_set),
            scope=scope,
            previous_rings=sorted(previous),
            stats=_json(
                {
                    "timings": result.timings,
                    "rings": len(rings),
                    "verdict_model": result.verdict_model,
                    **({"shadow": shadow} if shadow is not None else {}),
                }
            ),
        )


def _run_id(kind: str, started: float) -> str:
    return f"{kind}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(started))}-{uuid.uuid4().hex[:8]}"


def _summary(
    result: DetectionResult,
    run_id: str,
    kind: str,
    scope: list[str],
    scope_set: set[str],
    seconds: dict[str, float],
) -> DetectionSummary:
    summary = DetectionSummary(
        run_id=run_id,
        kind=kind,
        accounts=len(scope),
        ring_members=sum(len(r.members) for r in result.rings),
        evaders=len([e for e in result.evaders if e.account_id in scope_set]),
        seconds={**seconds, **{f"detect.{k}": v for k, v in result.timings.items()}},
        verdict_model=result.verdict_model,
    )
    for ring in result.rings:
        summary.rings[ring.verdict] = summary.rings.get(ring.verdict, 0) + 1
    return summary


def _risk_rows(
    result: DetectionResult, rings: list[Ring], scope_set: set[str]
) -> list[dict[str, Any]]:
    """Per account in scope with anything to store: risk, ring, evader, sybil, engagement."""
    ring_of = {a: r.ring_id for r in rings for a in r.members}
    evader_best = {e.account_id: e.score for e in result.evaders}
    n = len(result.accounts)
    sybil = result.sybil_score if result.sybil_score is not None else np.full(n, 0.5)
    engaged = result.engagement_score if result.engagement_score is not None else np.zeros(n)
    # An account left at the trust prior (no labelled account reaches it) has no score
    # worth storing: writing one row per account of a 1M graph would dominate write-back.
    return [
        {
            "a": str(a),
            "risk": float(score),
            "ring": ring_of.get(str(a)),
            "evader": float(evader_best.get(str(a), 0.0)),
            "sybil": float(s) if s != 0.5 else None,
            "engagement": float(e),
        }
        for a, score, s, e in zip(
            result.accounts, result.risk, sybil.tolist(), engaged.tolist(), strict=True
        )
        if (score > 0 or s != 0.5 or e > 0) and str(a) in scope_set
    ]


def _evader_link_rows(result: DetectionResult, scope_set: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "a": e.account_id,
            "banned": m.banned_id,
            "score": m.score,
            "rank": rank,
            "evidence": _json(m.evidence),
        }
        for e in result.evaders
        if e.account_id in scope_set
        for rank, m in enumerate(e.matched, start=1)
    ]


def _ring_change_rows(
    result: DetectionResult,
    rings: list[Ring],
    before_rings: dict[str, dict[str, Any]],
    previous: dict[str, list[str]],
) -> dict[str, list[changes.Change]]:
    """Verdict changes per ring: new and changed verdicts, splits, and retired rings."""
    produced = {r.ring_id for r in rings}
    absorbed = {p for h in result.history if h.get("event") == "merged" for p in h.get("from", [])}
    splits = {h["ring_id"]: h for h in result.history if h.get("event") == "split"}
    ring_changes = changes.ring_changes(before_rings, rings)
    for ring_id, event in sorted(splits.items()):
        # A ring outside what an incremental run writes keeps its stored state.
        if ring_id not in produced and ring_id in previous:
            ring_changes.setdefault(ring_id, []).append(
                changes.change("split", "ring", ring_id, event)
            )
    for ring_id, items in changes.retired_ring_changes(
        {k: v for k, v in before_rings.items() if k in previous},
        produced,
        absorbed | set(splits),
    ).items():
        ring_changes.setdefault(ring_id, []).extend(items)
    return ring_changes


def _history_rows(
    rings: list[Ring], old_history: dict[str, str], run_id: str
) -> list[dict[str, Any]]:
    """Each ring's whole history: what was stored, plus this run's events."""
    return [
        {
            "id": r.ring_id,
            "history": _json(
                orjson.loads(old_history.get(r.ring_id, "[]"))
                + [{**h, "run": run_id} for h in r.history]
            ),
        }
        for r in rings
        if r.history
    ]


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()

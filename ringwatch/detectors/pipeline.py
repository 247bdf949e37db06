"""`detect`: the whole detection run over one Snapshot, composing the detectors.

strong components  ->  evidence columns, incremental scope
projection (identifiers by kind and rarity) + soft links (behaviour)  ->  weighted graph
Leiden/CPM per connected component  ->  communities of >= min_ring_size accounts
evader matching (independent of the rings)
ring features -> score -> verdict + evidence;  ring ids matched to the previous run
per-account risk = 1 - (1 - ring score) * (1 - best evader score)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ringwatch.detectors._common import binary_links, check_snapshot, identifier_degree
from ringwatch.detectors.age import age_suspect
from ringwatch.detectors.behaviour import BehaviourParams, SoftLinks, soft_links
from ringwatch.detectors.calibration import (
    NEGATIVE,
    POSITIVE,
    USE_PRIOR,
    CalibrationParams,
    VerdictModel,
    account_labels,
    judge_rings,
)
from ringwatch.detectors.communities import (
    LeidenPlan,
    Partition,
    ProjectionParams,
    drop_loose_members,
    identifier_weights,
    leiden_assemble,
    leiden_batches,
    leiden_plan,
    merge_along,
    merge_by_operated_bridges,
    merge_by_shared_infrastructure,
    merge_by_strong_bridges,
    projection,
)
from ringwatch.detectors.engagement import (
    EngagementRing,
    FraudarParams,
    SyncParams,
    engagement_rings,
    overlaps_evidence,
    ring_member_score,
)
from ringwatch.detectors.engagement import ring_records as engagement_records
from ringwatch.detectors.evaders import EvaderMatches, EvaderParams, match_evaders
from ringwatch.detectors.linkage import LinkParams, LinkRecords, Links, score_pairs
from ringwatch.detectors.linkage_snapshot import link_snapshot
from ringwatch.detectors.ring_ids import MatchParams, RingIdentity, assign_ring_ids
from ringwatch.detectors.snapshot import KINDS, NOT_BANNED, Snapshot
from ringwatch.detectors.strong import DEFAULT_STRONG_CAPS, strong_columns, strong_pairs
from ringwatch.detectors.trust import TrustParams, sybil_scores
from ringwatch.detectors.verdicts import (
    BENIGN,
    VerdictParams,
    ring_evidence,
    ring_features,
    score_rings,
    verdict_of,
)
from ringwatch.identity import IdentifierKind


@dataclass(frozen=True)
class DetectParams:
    """Every knob of a detection run, with defaults documented in the detectors' modules.

    resolution: CPM density threshold, in units of one shared strong identifier per pair: a
        group forms when its members are, on average, linked more strongly than this (0.25 is
        e.g. a shared home IP plus a burst, or one device per four pairs).
    n_iterations: Leiden iterations per component batch (negative: until stable).
    leiden_batch_nodes: about how many accounts one Leiden batch holds (whole components).
        Each batch's RNG is seeded by its index, so changing this changes the partition; the
        batches are also the unit a sharded run (services/fanout.py) distributes.
    min_ring_size: smaller communities are not reported as rings.
    bridge_min_pairs: communities joined by at least this many strong-identifier account pairs
        are one ring (a farm spread over a pool of devices); 0 disables the merge.
    operated_bridges: suspicious communities that meet on at least this many different places
        of their own (small IPs and devices, cards or phones mostly used by suspects) are one
        operation with several rooms (communities.merge_by_operated_bridges); 0 disables it.
    operated_place_max_degree: places with more accounts are not an operation's own room.
    banned_are_suspects: an account already banned counts as a suspect when the
        infrastructure merge and the operated bridges decide whether a place is an operation's
        own: a connection used mostly by banned accounts and suspicious communities is the
        operation's, and its accounts in no ring (the banned personas CPM left alone) join the
        operation's ring.
    campaign_window: engagement on one target within this window is one campaign cell, a
        candidate piece of infrastructure for the infrastructure merge (0 disables): a farm
        pushing the same targets from many rooms is one operation.
    min_campaign_targets: an ordinary account (not a suspect, not created near the suspects
        of the cell) joins an operation through its campaign cells only when it, or its
        community, sits in cells of at least this many different targets: a farm's workers
        push campaign after campaign, while an ordinary user who once liked a post the farm
        is pushing (at a million accounts, dozens per farm) did nothing else with it.
    keep_benign: also return rings judged benign (families...), so their ids stay stable and an
        investigator can see why they were cleared.
    review_threshold: account risk at or above which the account's action is "review".
    min_age: the platform's minimum age; younger declared ages make accounts age-suspect
        (detectors.age), for young cohorts and for ring verdicts alike.
    linkage: Fellegi-Sunter record linkage of new accounts against banned ones (detectors.
        linkage); its matches at `linkage.min_probability` or above join the identifier-based
        evader matches, and every evader match carries its match weight, probability and levels.
    use_linkage: False keeps the identifier-based evader matcher alone.
    linkage_adds_matches: also report Fellegi-Sunter matches the identifier-based matcher did
        not find. Off by default: on snapshots the names are whole-name sketches only (no
        given/surname split, no phonetic key), and on the planted fixture the extra matches
        raised recall@3 from 0.93 to 0.97 but false matches from 18 to 228 (docs/detection.md).
    """

    projection: ProjectionParams = field(default_factory=ProjectionParams)
    behaviour: BehaviourParams = field(default_factory=BehaviourParams)
    evaders: EvaderParams = field(default_factory=EvaderParams)
    linkage: LinkParams = field(default_factory=LinkParams)
    use_linkage: bool = True
    linkage_adds_matches: bool = False
    verdicts: VerdictParams = field(default_factory=VerdictParams)
    calibration: CalibrationParams = field(default_factory=CalibrationParams)
    matching: MatchParams = field(default_factory=MatchParams)
    strong_caps: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType(dict(DEFAULT_STRONG_CAPS))
    )
    resolution: float = 0.25
    n_iterations: int = 4
    leiden_batch_nodes: int = 200_000
    min_ring_size: int = 3
    bridge_min_pairs: int = 3
    operated_bridges: int = 2
    banned_are_suspects: bool = True
    operated_place_max_degree: int = 50
    campaign_window: int = 2 * 3600
    min_campaign_targets: int = 2
    keep_benign: bool = True
    review_threshold: float = 0.7
    min_age: int = 13
    infrastructure_max_degree: int = 2000
    infrastructure_suspect_share: float = 0.5
    trust: TrustParams = field(default_factory=TrustParams)
    fraudar: FraudarParams = field(default_factory=FraudarParams)
    sync: SyncParams = field(default_factory=SyncParams)


@dataclass(frozen=True)
class Ring:
    ring_id: str
    members: tuple[str, ...]  # account ids, sorted
    score: float
    verdict: str  # fraud | suspicious | benign
    evidence: dict[str, Any]
    history: tuple[dict[str, Any], ...]  # this run's events for the ring


@dataclass(frozen=True)
class BannedMatch:
    banned_id: str
    score: float
    evidence: dict[str, Any]


@dataclass(frozen=True)
class EvaderMatch:
    account_id: str
    matched: tuple[BannedMatch, ...]  # best first

    @property
    def score(self) -> float:
        return self.matched[0].score


@dataclass(frozen=True, eq=False)
class DetectionResult:
    """What services write back. `accounts`/`risk`/`ring_of` are aligned with the snapshot's
    rows; `ring_of[i]` indexes `rings` (-1: none)."""

    rings: tuple[Ring, ...]
    evaders: tuple[EvaderMatch, ...]
    accounts: np.ndarray
    risk: np.ndarray
    ring_of: np.ndarray
    history: tuple[dict[str, Any], ...]
    timings: dict[str, float] = field(compare=False, default_factory=dict)
    # The verdict model's record (detectors.calibration): calibrated or prior, why, CV figures.
    verdict_model: dict[str, Any] = field(compare=False, default_factory=dict)
    # detectors.trust: per-account Sybil probability (0.5: nothing known), aligned with rows.
    sybil_score: np.ndarray | None = None
    # detectors.engagement: per-account strongest engagement ring (0: none), and the rings.
    engagement_score: np.ndarray | None = None
    engagement_rings: tuple[dict[str, Any], ...] = ()

    def __eq__(self, other: object) -> bool:
        """Equal results: same rings, matches, history and per-account arrays (not timings)."""
        if not isinstance(other, DetectionResult):
            return NotImplemented
        return (
            self.rings == other.rings
            and self.evaders == other.evaders
            and self.history == other.history
            and np.array_equal(self.accounts, other.accounts)
            and np.array_equal(self.risk, other.risk)
            and np.array_equal(self.ring_of, other.ring_of)
            and _same(self.sybil_score, other.sybil_score)
            and _same(self.engagement_score, other.engagement_score)
            and self.engagement_rings == other.engagement_rings
        )

    __hash__ = None  # type: ignore[assignment]

    def account_risk(self) -> dict[str, float]:
        return {str(a): float(r) for a, r in zip(self.accounts, self.risk, strict=True) if r > 0}

    def ring_records(self) -> list[dict[str, Any]]:
        """rings.jsonl rows (docs/exports.md): ring_id, members, verdict, score (+ evidence)."""
        return [
            {
                "ring_id": r.ring_id,
                "members": list(r.members),
                "verdict": r.verdict,
                "score": r.score,
                "evidence": r.evidence,
                "history": list(r.history),
            }
            for r in self.rings
        ]

    def evader_records(self) -> list[dict[str, Any]]:
        """evaders.jsonl rows: account_id, matched (banned ids best first), score, evidence."""
        return [
            {
                "account_id": e.account_id,
                "matched": [m.banned_id for m in e.matched],
                "score": e.score,
                "evidence": [m.evidence for m in e.matched],
            }
            for e in self.evaders
        ]

    def account_records(self, review_threshold: float = 0.7) -> list[dict[str, Any]]:
        """accounts.jsonl rows for every account with risk > 0, a Sybil score above the 0.5
        prior or an engagement ring: account_id, score, action, ring_id, sybil_score,
        engagement_score."""
        out = []
        sybil = self.sybil_score if self.sybil_score is not None else np.full(len(self.risk), 0.5)
        engaged = (
            self.engagement_score if self.engagement_score is not None else np.zeros(len(self.risk))
        )
        for i in np.flatnonzero((self.risk > 0) | (sybil > 0.5) | (engaged > 0)).tolist():
            ring = int(self.ring_of[i])
            out.append(
                {
                    "account_id": str(self.accounts[i]),
                    "score": round(float(self.risk[i]), 6),
                    "action": "review" if self.risk[i] >= review_threshold else "none",
                    "ring_id": self.rings[ring].ring_id if ring >= 0 else None,
                    "sybil_score": round(float(sybil[i]), 6),
                    "engagement_score": round(float(engaged[i]), 6),
                }
            )
        return out


def weighted_graph(
    snapshot: Snapshot, params: DetectParams
) -> tuple[sp.csr_matrix, sp.csr_matrix, dict[str, sp.csr_matrix]]:
    """(identifier projection + soft links, soft links alone, soft links per signal)."""
    proj = projection(snapshot, params.projection)
    soft = soft_links(
        snapshot, params.behaviour, young=age_suspect(snapshot, min_age=params.min_age)
    )
    soft_total = soft.total()
    return (proj + soft_total).tocsr(), soft_total, soft.kinds()


def detect(
    snapshot: Snapshot,
    previous_rings: Mapping[str, Sequence[str]] | None = None,
    *,
    seed: int = 0,
    params: DetectParams = DetectParams(),
    labels: np.ndarray | None = None,
    verdict_model: VerdictModel | str = USE_PRIOR,
    trust_labels: np.ndarray | None = None,
) -> DetectionResult:
    """Rings (with ids, scores, verdicts, evidence, history), evader matches and account risk.

    `verdict_model`: calibration.USE_PRIOR (the hand-set weights), FIT (fit on `labels`: per
    snapshot row, calibration.POSITIVE / NEGATIVE / UNLABELLED; default: banned accounts
    positive, the rest unlabelled; services pass the deployment's review labels and
    clearances), or a model an earlier (full) run fitted. `trust_labels` (same coding, default
    `labels`): review labels that seed trust propagation, fraud as distrust, legit as trust.

    >>> from ringwatch.detectors.snapshot import SnapshotBuilder
    >>> b = SnapshotBuilder()
    >>> for i in range(8):
    ...     b.add_account(f"a{i}", {"created_at": 1_000_000 + 600 * i})
    ...     b.add_link(f"a{i}", "device", "farm", 1, 1_000_000)
    ...     b.add_link(f"a{i}", "card", "stolen", 1, 1_000_000)
    >>> result = detect(b.build(), seed=1)
    >>> [(len(r.members), r.verdict) for r in result.rings]
    [(8, 'fraud')]
    """
    snapshot = check_snapshot(snapshot)
    lap = Laps()
    prepared = prepare(snapshot, params, lap)
    memberships = leiden_batches(
        prepared.plan,
        range(prepared.plan.n_batches),
        resolution=params.resolution,
        seed=seed,
        n_iterations=params.n_iterations,
    )
    part = communities_of(prepared, memberships, params)
    lap("communities")
    side = side_part(snapshot, params, labels, trust_labels, lap)
    evaders = evader_part(snapshot, params)
    lap("evaders")
    return finish(
        prepared,
        part,
        evaders,
        side,
        previous_rings,
        seed=seed,
        params=params,
        labels=labels,
        verdict_model=verdict_model,
        lap=lap,
    )


# `detect` in phases, so that a coordinator can run the per-component and per-account parts
# (Leiden batches, the evader matcher) in other processes and still get the same result:
# prepare -> leiden_batches (any grouping) + evader_part + side_part -> communities_of -> finish.


@dataclass(frozen=True)
class Prepared:
    """The weighted graph of a run and its Leiden plan (whose batches are the shard unit)."""

    snapshot: Snapshot
    young: np.ndarray
    soft: SoftLinks
    weights: sp.csr_matrix
    plan: LeidenPlan


@dataclass(frozen=True)
class EvaderPart:
    """The evader matcher's ranked matches (the ring features use them) and its output."""

    matches: EvaderMatches
    output: tuple[EvaderMatch, ...]


@dataclass(frozen=True)
class SidePart:
    """Engagement rings and trust scores: per-account stages the rings do not depend on."""

    pushed: list[EngagementRing]
    sybil: np.ndarray


def prepare(snapshot: Snapshot, params: DetectParams, lap: Laps | None = None) -> Prepared:
    """Projection + soft links -> the weighted graph, cut into Leiden batches."""
    snapshot = check_snapshot(snapshot)
    if params.min_ring_size < 2 or params.resolution <= 0:
        raise ValueError("min_ring_size must be >= 2 and resolution > 0")
    lap = lap or Laps()
    proj = projection(snapshot, params.projection)
    lap("projection")
    # Per account: computed once for the young cohorts here and both judgements below.
    young = age_suspect(snapshot, min_age=params.min_age)
    soft = soft_links(snapshot, params.behaviour, young=young)
    soft_total = soft.total()
    lap("behaviour")
    weights = (proj + soft_total).tocsr()
    plan = leiden_plan(
        weights, min_component=params.min_ring_size, batch_nodes=params.leiden_batch_nodes
    )
    return Prepared(snapshot, young, soft, weights, plan)


def communities_of(
    prepared: Prepared, memberships: Mapping[int, np.ndarray], params: DetectParams
) -> Partition:
    """Leiden's batches assembled, merged along strong bridges and fast invites."""
    part = leiden_assemble(prepared.plan, memberships)
    if params.bridge_min_pairs > 0:
        bridges = strong_pairs(prepared.snapshot, caps=params.strong_caps)
        part = merge_by_strong_bridges(part, bridges, min_pairs=params.bridge_min_pairs)
    fast_invites = prepared.soft.invite >= params.behaviour.fast_invite_weight
    return merge_along(part, fast_invites)


def evader_part(snapshot: Snapshot, params: DetectParams) -> EvaderPart:
    """Identifier-based evader matches, with Fellegi-Sunter linkage unless turned off."""
    snapshot = check_snapshot(snapshot)
    matches = match_evaders(snapshot, params.evaders)
    linked = link_snapshot(snapshot, params.linkage) if params.use_linkage else None
    return EvaderPart(matches, _evader_output(snapshot, matches, linked, params))


def side_part(
    snapshot: Snapshot,
    params: DetectParams,
    labels: np.ndarray | None,
    trust_labels: np.ndarray | None,
    lap: Laps | None = None,
) -> SidePart:
    lap = lap or Laps()
    pushed = engagement_rings(snapshot, params.fraudar, params.sync)
    lap("engagement")
    seeds = labels if trust_labels is None else trust_labels
    sybil = sybil_scores(
        snapshot,
        params.trust,
        distrusted=None if seeds is None else seeds == POSITIVE,
        trusted=None if seeds is None else seeds == NEGATIVE,
    )
    lap("trust")
    return SidePart(pushed, sybil)


def finish(
    prepared: Prepared,
    part: Partition,
    evaders: EvaderPart,
    side: SidePart,
    previous_rings: Mapping[str, Sequence[str]] | None = None,
    *,
    seed: int = 0,
    params: DetectParams = DetectParams(),
    labels: np.ndarray | None = None,
    verdict_model: VerdictModel | str = USE_PRIOR,
    lap: Laps | None = None,
) -> DetectionResult:
    """The global steps: infrastructure merge, verdicts, ring ids, evidence and risk."""
    lap = lap or Laps()
    snapshot, soft, weights = prepared.snapshot, prepared.soft, prepared.weights
    judge = _Judge.of(snapshot, soft, weights, evaders.matches, prepared.young, params)
    groups, features, scores = _judge_groups(snapshot, part, judge, params)
    # Grouping above used the hand-set prior; the verdicts come from the calibrated model.
    scores, explained, model_record = judge_rings(
        features,
        groups,
        scores,
        account_labels(snapshot) if labels is None else labels,
        model=verdict_model,
        params=params.calibration,
        fraud_at=params.verdicts.fraud_threshold,
        suspicious_at=params.verdicts.suspicious_threshold,
        seed=seed,
        prior=params.verdicts,
    )
    lap("verdicts")

    keep = [
        i
        for i in range(len(groups))
        if params.keep_benign or verdict_of(float(scores[i]), params.verdicts) != BENIGN
    ]
    rings, ring_of, ring_score, identity = _rings(
        snapshot,
        [groups[i] for i in keep],
        {k: v[keep] for k, v in features.items()},
        scores[keep],
        [explained[i] for i in keep],
        judge.evidence_cols,
        soft.kinds(),
        side.pushed,
        previous_rings,
        params,
    )
    lap("ring_ids_evidence")

    risk = _risk(snapshot, ring_score, evaders.output)
    lap("risk")
    return DetectionResult(
        rings=tuple(rings),
        evaders=evaders.output,
        accounts=snapshot.accounts,
        risk=np.round(risk, 6),
        ring_of=ring_of,
        history=identity.history,
        timings=lap.timings,
        verdict_model=model_record,
        sybil_score=side.sybil,
        engagement_score=np.round(ring_member_score(snapshot.n_accounts, side.pushed), 6),
        engagement_rings=engagement_records(snapshot, side.pushed),
    )


class Laps:
    """Seconds per stage of a run, each stage timed from the end of the one before."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._clock, 4)
        self._clock = now


@dataclass(frozen=True)
class _Judge:
    """What a group's features are computed from, fixed for the run: call it with groups for
    (features, prior scores)."""

    snapshot: Snapshot
    soft: SoftLinks
    weights: sp.csr_matrix
    young: np.ndarray
    params: DetectParams
    evidence_cols: np.ndarray
    coordination: sp.csr_matrix
    look_alike: sp.csr_matrix
    evader_rows: np.ndarray
    evader_continues: np.ndarray

    @classmethod
    def of(
        cls,
        snapshot: Snapshot,
        soft: SoftLinks,
        weights: sp.csr_matrix,
        matches: EvaderMatches,
        young: np.ndarray,
        params: DetectParams,
    ) -> _Judge:
        evidence_cols = np.union1d(
            strong_columns(snapshot, ("card", "device", "email", "phone"), params.strong_caps),
            np.flatnonzero(_weak_columns(snapshot, params.projection)),
        )
        # Only credible matches count against a group (a namesake is not a returning offender).
        credible = matches.credible()
        evader_rows = np.unique(matches.query[credible])
        best = credible & (matches.rank == 0)
        evader_continues = np.full(snapshot.n_accounts, -1, dtype=np.int64)
        evader_continues[matches.query[best]] = matches.banned[best]
        return cls(
            snapshot,
            soft,
            weights,
            young,
            params,
            evidence_cols,
            coordination=(soft.lockstep + soft.invite).tocsr(),
            look_alike=(0.5 * soft.template).tocsr(),
            evader_rows=evader_rows,
            evader_continues=evader_continues,
        )

    def __call__(self, groups: list[np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        soft, verdicts = self.soft, self.params.verdicts
        features = ring_features(
            self.snapshot,
            groups,
            identifier_cols=self.evidence_cols,
            soft=self.coordination,
            look_alike=self.look_alike,
            networks=soft.networks.multiply(soft.rotating > 0).tocsr(),
            rotating=soft.rotating,
            bursts=soft.burst,
            runs=soft.runs(),
            weights=self.weights,
            evader_rows=self.evader_rows,
            evader_continues=self.evader_continues,
            burst_window=verdicts.burst_window,
            slow_window=verdicts.slow_window,
            household_max=verdicts.household_max,
            young=self.young,
            embedded_min_friends=verdicts.embedded_min_friends,
        )
        return features, score_rings(features, verdicts)


def _judge_groups(
    snapshot: Snapshot, part: Partition, judge: _Judge, params: DetectParams
) -> tuple[list[np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """The communities as groups with their features and prior scores; with infrastructure
    merging on, groups of suspects sharing infrastructure are merged and judged again."""
    # Email look-alikes group the pieces of a farm, but hold no member on their own (see
    # communities.drop_loose_members).
    part = drop_loose_members(part, judge.weights - judge.soft.template)
    groups = part.members(params.min_ring_size)
    features, scores = judge(groups)
    if params.infrastructure_max_degree <= 0:
        return groups, features, scores
    suspect = np.zeros(snapshot.n_accounts, bool)
    for g, score in zip(groups, scores.tolist(), strict=True):
        if score >= params.verdicts.suspicious_threshold:
            suspect[g] = True
    if params.banned_are_suspects:
        suspect |= snapshot.banned_at != NOT_BANNED
    links = binary_links(snapshot)
    infrastructure = _infrastructure_links(snapshot, links, params.infrastructure_max_degree)
    campaigns, campaign_target = _campaign_links(snapshot, params.campaign_window)
    part = merge_by_shared_infrastructure(
        part,
        sp.hstack([infrastructure, campaigns], format="csc"),
        suspect,
        min_suspect_share=params.infrastructure_suspect_share,
        min_suspects=params.min_ring_size,
        created=snapshot.created_at,
        campaign_target=np.r_[np.full(infrastructure.shape[1], -1, np.int64), campaign_target],
        min_campaign_targets=params.min_campaign_targets,
        homed=_homed(snapshot, links, suspect, params.verdicts.household_max),
    )
    if params.operated_bridges > 0:
        part = merge_by_operated_bridges(
            part,
            _places(snapshot, links, params.operated_place_max_degree),
            suspect,
            min_bridges=params.operated_bridges,
        )
    groups = part.members(params.min_ring_size)
    features, scores = judge(groups)
    return groups, features, scores


def _rings(
    snapshot: Snapshot,
    groups: list[np.ndarray],
    features: dict[str, np.ndarray],
    scores: np.ndarray,
    explained: list[dict[str, Any]],
    evidence_cols: np.ndarray,
    soft_kinds: dict[str, sp.csr_matrix],
    pushed: list[EngagementRing],
    previous_rings: Mapping[str, Sequence[str]] | None,
    params: DetectParams,
) -> tuple[list[Ring], np.ndarray, np.ndarray, RingIdentity]:
    """The kept groups as Rings (ids matched to the previous run, evidence), each account's
    ring index (-1: none) and ring score, and the id assignment (its history)."""
    member_ids = [tuple(sorted(str(a) for a in snapshot.accounts[g])) for g in groups]
    identity = assign_ring_ids(member_ids, previous_rings, params.matching)
    per_ring: dict[str, list[dict[str, Any]]] = {}
    for event in identity.history:
        per_ring.setdefault(event["ring_id"], []).append(event)
    evidence = ring_evidence(
        snapshot, groups, features, identifier_cols=evidence_cols, soft_kinds=soft_kinds
    )
    overlaps = overlaps_evidence(snapshot, groups, pushed)
    rings = []
    ring_of = np.full(snapshot.n_accounts, -1, dtype=np.int64)
    ring_score = np.zeros(snapshot.n_accounts)
    for out_index, (rows, ring_id, members) in enumerate(
        zip(groups, identity.ids, member_ids, strict=True)
    ):
        score = round(float(scores[out_index]), 6)
        if engaged := overlaps[out_index]:
            evidence[out_index]["engagement"] = engaged
        ring_of[rows] = out_index
        ring_score[rows] = score
        rings.append(
            Ring(
                ring_id=ring_id,
                members=members,
                score=score,
                verdict=verdict_of(score, params.verdicts),
                evidence={**evidence[out_index], "verdict_model": explained[out_index]},
                history=tuple(per_ring.get(ring_id, ())),
            )
        )
    return rings, ring_of, ring_score, identity


def _risk(
    snapshot: Snapshot, ring_score: np.ndarray, evaders: tuple[EvaderMatch, ...]
) -> np.ndarray:
    """Per account: 1 - (1 - ring score) * (1 - best evader score)."""
    best_evader = np.zeros(snapshot.n_accounts)
    index = snapshot.account_index()
    for e in evaders:
        best_evader[index[e.account_id]] = e.score
    return 1.0 - (1.0 - ring_score) * (1.0 - best_evader)


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


def _weak_columns(snapshot: Snapshot, params: ProjectionParams) -> np.ndarray:
    weak = snapshot.kind_mask(
        IdentifierKind.IP,
        IdentifierKind.SUBNET,
        IdentifierKind.EMAIL_DOMAIN,
        IdentifierKind.PHONE_BLOCK,
    )
    return np.asarray(weak & (identifier_weights(snapshot, params) > 0))


def _homed(
    snapshot: Snapshot, links: sp.csc_matrix, suspect: np.ndarray, household_max: int
) -> np.ndarray:
    """Per account: whether it has a home of its own, an IP address at most `household_max`
    accounts use, that it used on two events or more, and that no suspect uses. `links`:
    `binary_links(snapshot)`.

    >>> from ringwatch.detectors.snapshot import SnapshotBuilder
    >>> b = SnapshotBuilder()
    >>> for a, ip, uses in [("home", "flat", 5), ("once", "cafe", 1), ("room", "farm", 4),
    ...                     ("op", "farm", 4)]:
    ...     b.add_account(a, {"created_at": 1})
    ...     b.add_link(a, "ip", ip, uses, 1)
    >>> s = b.build()
    >>> _homed(s, binary_links(s), np.array([False, False, False, True]), 6).tolist()
    [True, False, False, False]
    """
    degree = identifier_degree(snapshot)
    small = snapshot.kind_mask(IdentifierKind.IP) & (degree <= household_max)
    cols = np.flatnonzero(small)
    counts = snapshot.links_by_identifier[:, cols]
    suspects_on = np.asarray(links[:, cols].T @ suspect.astype(np.float64)).ravel()
    # A suspect's own address is not a home elsewhere, for it or for anyone on it.
    clean = sp.csc_matrix(counts.multiply(suspects_on == 0))
    return np.asarray((clean >= 2).sum(axis=1)).ravel() > 0


def _infrastructure_links(
    snapshot: Snapshot, links: sp.csc_matrix, max_degree: int, window: int = 60 * 86400
) -> sp.csc_matrix:
    """Accounts x candidate infrastructure (binary): the connections and number runs an
    operation may run on (see `communities.merge_by_shared_infrastructure`, which joins only
    through identifiers mostly used by suspicious communities).

    IPs (3..max_degree accounts) are used as they are. Subnets and phone blocks are shared
    more widely: one residential-proxy /24 or one carrier block serves many unrelated
    operations, one after another. So each is split by when its accounts were created, into
    `window`-long periods, twice (the second tiling shifted by half a window, so two pieces of
    one operation created days apart always meet in one of them): pieces of one operation
    arrive together, two operations reusing a block months apart stay apart. `links`:
    `binary_links(snapshot)`.
    """
    degree = identifier_degree(snapshot)
    ip = snapshot.kind_mask(IdentifierKind.IP) & (degree >= 3) & (degree <= max_degree)
    shared = snapshot.kind_mask(IdentifierKind.SUBNET, IdentifierKind.PHONE_BLOCK)
    shared &= (degree >= 3) & (degree <= max_degree)
    parts = [sp.csc_matrix(links[:, np.flatnonzero(ip)])]
    coo = sp.csr_matrix(links[:, np.flatnonzero(shared)]).tocoo()
    n = snapshot.n_accounts
    for shift in (0, window // 2):
        period = (snapshot.created_at[coo.row] + shift) // window
        key = coo.col.astype(np.int64) * (1 << 20) + (period - period.min(initial=0))
        _, column = np.unique(key, return_inverse=True)
        width = int(column.max()) + 1 if column.shape[0] else 0
        parts.append(
            sp.csc_matrix((np.ones(coo.nnz, dtype=np.float32), (coo.row, column)), shape=(n, width))
        )
    return sp.csc_matrix(sp.hstack(parts, format="csc"))


def _places(snapshot: Snapshot, links: sp.csc_matrix, max_degree: int) -> sp.csc_matrix:
    """Accounts x the places an operation's rooms are made of (binary): IP addresses and the
    hardware and instruments in a room (devices, cards, phone numbers), each used by 2 to
    `max_degree` accounts (`links`: `binary_links(snapshot)`). Subnets are left out: an
    address and its /24 are one place, not two meetings."""
    degree = identifier_degree(snapshot)
    kinds = snapshot.kind_mask(
        IdentifierKind.IP, IdentifierKind.DEVICE, IdentifierKind.CARD, IdentifierKind.PHONE
    )
    return sp.csc_matrix(links[:, np.flatnonzero(kinds & (degree >= 2) & (degree <= max_degree))])


def _campaign_links(snapshot: Snapshot, window: int) -> tuple[sp.csc_matrix, np.ndarray]:
    """Accounts x campaign cells (binary): engagement on one target inside one `window`,
    tiled twice (the second tiling shifted by half a window), cells of 3 or more accounts;
    and each cell's target.

    A paid engagement farm fires each campaign from all its rooms within minutes, too many at
    once for the pairwise lockstep link (behaviour.lockstep caps its buckets, as a viral post
    fills them too). As a candidate for the infrastructure merge a cell joins communities only
    when most of its accounts already sit in suspicious communities, which a viral post's
    crowd never does.
    """
    n = snapshot.n_accounts
    eng = snapshot.engagements
    if window <= 0 or eng.shape[0] == 0:
        return sp.csc_matrix((n, 0)), np.empty(0, np.int64)
    acct, target, ts = eng[:, 0].astype(np.int64), eng[:, 1].astype(np.int64), eng[:, 3]
    parts, targets = [], []
    for shift in (0, window // 2):
        slot = (ts.astype(np.int64) + shift) // window
        key = target * (1 << 24) + (slot - slot.min())
        pair = np.unique(np.column_stack([key, acct]), axis=0)
        cells, column, size = np.unique(pair[:, 0], return_inverse=True, return_counts=True)
        keep = size[column] >= 3
        kept, col = np.unique(column[keep], return_inverse=True)
        width = int(col.max()) + 1 if col.shape[0] else 0
        parts.append(
            sp.csc_matrix(
                (np.ones(col.shape[0], dtype=np.float32), (pair[keep, 1], col)), shape=(n, width)
            )
        )
        targets.append(cells[kept] >> 24)
    return sp.csc_matrix(sp.hstack(parts, format="csc")), np.concatenate(targets)


def _evader_output(
    snapshot: Snapshot,
    matches: EvaderMatches,
    linked: tuple[LinkRecords, Links] | None,
    params: DetectParams,
) -> tuple[EvaderMatch, ...]:
    """Identifier-based matches plus Fellegi-Sunter matches at min_probability or above,
    best score first per account (top_k); every match explains its linkage levels."""
    per_query: dict[int, dict[int, BannedMatch]] = {}
    fs_evidence: dict[tuple[int, int], dict[str, Any]] = {}
    if linked is not None and matches.query.shape[0]:
        records, links = linked
        scored = score_pairs(records, links.model, matches.query, matches.banned, params.linkage)
        for i in range(scored.query.shape[0]):
            fs_evidence[(int(scored.query[i]), int(scored.banned[i]))] = scored.explain(i)
    for i in range(matches.query.shape[0]):
        q, b = int(matches.query[i]), int(matches.banned[i])
        evidence = matches.evidence(snapshot, i)
        if (q, b) in fs_evidence:
            evidence["linkage"] = fs_evidence[(q, b)]
        per_query.setdefault(q, {})[b] = BannedMatch(
            banned_id=str(snapshot.accounts[b]),
            score=round(float(matches.score[i]), 6),
            evidence=evidence,
        )
    if linked is not None and params.linkage_adds_matches:
        _, links = linked
        sure = np.flatnonzero(links.probability >= params.linkage.min_probability)
        for i in sure.tolist():
            q, b = int(links.query[i]), int(links.banned[i])
            found = per_query.setdefault(q, {})
            if b in found:
                continue
            found[b] = BannedMatch(
                banned_id=str(snapshot.accounts[b]),
                score=round(float(links.probability[i]), 6),
                evidence={
                    "identifiers": _shared_identifiers(snapshot, q, b),
                    **{"linkage": links.explain(i)},
                },
            )
    out: list[EvaderMatch] = []
    top_k = params.evaders.top_k
    for q in sorted(per_query):
        ranked = sorted(per_query[q].values(), key=lambda m: -m.score)[:top_k]
        out.append(EvaderMatch(account_id=str(snapshot.accounts[q]), matched=tuple(ranked)))
    return tuple(out)


def _shared_identifiers(snapshot: Snapshot, q: int, b: int) -> list[dict[str, str]]:
    links = snapshot.links
    qi = links.indices[links.indptr[q] : links.indptr[q + 1]]
    bi = links.indices[links.indptr[b] : links.indptr[b + 1]]
    shared = np.intersect1d(qi, bi)
    return [
        {"kind": KINDS[int(snapshot.identifier_kind[j])].value, "key": str(snapshot.identifiers[j])}
        for j in shared.tolist()
    ]


def affected_accounts(
    snapshot: Snapshot,
    changed: Iterable[str],
    *,
    params: DetectParams = DetectParams(),
) -> frozenset[str]:
    """Accounts whose rings may change when `changed` accounts changed: the union of their
    connected components in the weighted graph (identifiers + behaviour), i.e. exactly what a
    service needs to recompute. Unknown ids are ignored (a brand-new account is its own scope).

    >>> from ringwatch.detectors.snapshot import SnapshotBuilder
    >>> b = SnapshotBuilder()
    >>> for a in ("a", "b"):
    ...     b.add_link(a, "device", "d1", 1, 0)
    >>> b.add_link("c", "device", "d2", 1, 0)
    >>> sorted(affected_accounts(b.build(), ["a"]))
    ['a', 'b']
    """
    snapshot = check_snapshot(snapshot)
    if isinstance(changed, str):
        raise ValueError("changed must be an iterable of account ids, not one string")
    index = snapshot.account_index()
    rows = np.array(sorted({index[a] for a in changed if a in index}), dtype=np.int64)
    if rows.shape[0] == 0:
        return frozenset(a for a in changed if a not in index)
    weights, _, _ = weighted_graph(snapshot, params)
    _, labels = connected_components(weights, directed=False)
    hit = np.isin(labels, labels[rows])
    return frozenset(str(a) for a in snapshot.accounts[hit])

"""Facts -> feature set: the one place derived features are defined.

The decision service gathers `AccountFacts` from the event and the account node, `GraphFacts`
from 1-2 hop queries and `DetectionFacts` from cached detection results; backtests gather the
same facts from an in-memory replay (`features.replay`). Both call `assemble`, so a feature
cannot mean one thing live and another in a backtest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ringwatch.features.registry import FEATURES, FeatureValue
from ringwatch.features.signals import DatacenterRanges, declared_age_years, is_disposable


@dataclass(frozen=True)
class AccountFacts:
    """The account itself, from the event or its own node (no hops)."""

    created_at: int | None = None  # epoch seconds of signup; None: unknown account
    birthdate: str | None = None  # YYYY-MM-DD as declared (event first, else stored)
    email_domain: str | None = None
    ip: str | None = None  # raw address if the caller has it (never stored), else None
    subnet: str | None = None  # /24 or /48 of the event, else of the account's latest event
    banned: bool = False
    # The event's agent names an emulator image (records.on_emulator); None: no agent.
    emulator: bool | None = None


@dataclass(frozen=True)
class GraphFacts:
    """Counts over the identity graph around the account, excluding the account itself."""

    device_accounts: int = 0
    subnet_accounts: int = 0
    subnet_signups_1h: int = 0
    shared_with_banned: int = 0
    banned_neighbours: int = 0


@dataclass(frozen=True)
class DetectionFacts:
    """The account's row of the latest detection run."""

    ring_verdict: str = "none"
    ring_size: int = 0
    ring_score: float = 0.0
    evader_score: float = 0.0
    account_risk: float | None = None  # None: derive from ring and evader scores
    sybil_score: float | None = None  # None: at the trust prior (no labelled account near)
    engagement_score: float = 0.0

    def risk(self) -> float:
        if self.account_risk is not None:
            return self.account_risk
        return round(1.0 - (1.0 - self.ring_score) * (1.0 - self.evader_score), 6)


def assemble(
    checkpoint: str,
    now: int,
    account: AccountFacts,
    graph: GraphFacts | None,
    detection: DetectionFacts | None,
    *,
    datacenter: DatacenterRanges | None = None,
    min_age: int | None = None,
) -> dict[str, FeatureValue]:
    """The feature set of one decision at epoch second `now`.

    `graph=None` (store unreachable) leaves the live counts null and `detection=None` (no cached
    result) the precomputed ones, so rules on them do not fire instead of firing on zeros.
    `min_age` fills `under_min_age`; without it the strategy fills it from its own `min_age`.
    """
    age = declared_age_years(account.birthdate, dt.datetime.fromtimestamp(now, dt.UTC).date())
    values: dict[str, FeatureValue] = {
        "checkpoint": checkpoint,
        "account_age_days": (
            None
            if account.created_at is None
            else round(max(0, now - account.created_at) / 86400, 4)
        ),
        "email_domain": account.email_domain,
        "email_domain_disposable": is_disposable(account.email_domain),
        "datacenter_ip": (
            None if datacenter is None else datacenter.contains(account.ip or account.subnet)
        ),
        "account_banned": account.banned,
        "event_emulator": account.emulator,
        "declared_age_years": age,
        "under_min_age": None if age is None or min_age is None else age < min_age,
    }
    values.update(dict.fromkeys(FEATURES.keys() - values.keys()))
    if graph is not None:
        values.update(
            device_accounts=graph.device_accounts,
            subnet_accounts=graph.subnet_accounts,
            subnet_signups_1h=graph.subnet_signups_1h,
            shared_with_banned=graph.shared_with_banned,
            banned_neighbours=graph.banned_neighbours,
        )
    if detection is not None:
        values.update(
            ring_verdict=detection.ring_verdict,
            ring_size=detection.ring_size,
            ring_score=float(detection.ring_score),
            evader_score=float(detection.evader_score),
            evader_match=detection.evader_score > 0,
            account_risk=float(detection.risk()),
            sybil_score=detection.sybil_score,
            engagement_score=float(detection.engagement_score),
            engagement_ring=detection.engagement_score > 0,
        )
    # Built from typed facts, so it skips feature_set's checks (a third of a decision's cost).
    return values

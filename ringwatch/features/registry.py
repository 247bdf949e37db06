"""Every feature a strategy may read, declared once (docs/features.md is written from this list).

A feature set is a plain mapping name -> value (bool, int, float, str or None). `None` means
"unknown here" (no birthdate given, no detection result cached, no datacenter list configured);
strategies define what a rule does then (docs/strategies.md: a rule reading a null does not fire).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ringwatch.errors import Invalid, Problem
from ringwatch.vocabulary import Checkpoint, Verdict

FeatureValue = bool | int | float | str | None
FeatureSet = Mapping[str, FeatureValue]


class Source(StrEnum):
    EVENT = "event"  # the decision's own event/context (no store access)
    LIVE = "live"  # read from the graph store at decision time (the account, 1-2 hops)
    PRECOMPUTED = "precomputed"  # detection results, cached with a TTL


@dataclass(frozen=True)
class Feature:
    name: str
    type: type  # bool | int | float | str
    description: str
    computation: str
    source: Source
    freshness: str
    values: tuple[str, ...] = ()  # the closed vocabulary of a str feature, if it has one


# Ordered from least to most severe: strategies compare verdicts by this order.
RING_VERDICTS: tuple[str, ...] = ("none", Verdict.BENIGN, Verdict.SUSPICIOUS, Verdict.FRAUD)
CHECKPOINTS: tuple[str, ...] = tuple(Checkpoint)

_DECLARED = (
    Feature(
        "checkpoint",
        str,
        "The checkpoint being decided.",
        "Given by the caller (backtests: signup -> signup, login -> login, payment -> payment, "
        "engage -> content).",
        Source.EVENT,
        "live",
        CHECKPOINTS,
    ),
    Feature(
        "account_age_days",
        float,
        "Days since the account signed up, at decision time.",
        "(decision time - account created_at) / 86400; 0 at its own signup. Null when the "
        "account is unknown to the store.",
        Source.LIVE,
        "live",
    ),
    Feature(
        "email_domain",
        str,
        "The account's email domain (lower-case, clear text).",
        "Domain of the event's email, else of the account's latest email (records keep the "
        "domain in clear, the address only as a keyed hash). Null without an email.",
        Source.EVENT,
        "live",
    ),
    Feature(
        "email_domain_disposable",
        bool,
        "The email domain is a known throwaway provider.",
        "email_domain or any parent domain is in the built-in list "
        "(ringwatch/features/disposable_domains.txt). Null without an email. The list is "
        "finite: new throwaway services are missed until added.",
        Source.EVENT,
        "release",
    ),
    Feature(
        "datacenter_ip",
        bool,
        "The event's IP/subnet lies in a configured datacenter or proxy range.",
        "The IP (decision service: the raw IP of the request) or, failing that, the account's "
        "/24 (/48) subnet overlaps a CIDR of the configured list. Null when no list is "
        "configured or no IP is known. Cannot see residential proxies, which use ordinary "
        "consumer addresses, and is only as fresh as the list.",
        Source.EVENT,
        "as fresh as the configured list",
    ),
    Feature(
        "event_emulator",
        bool,
        "The decision's event came from an emulator image's user agent.",
        "The event's user_agent names an emulator image (Android Studio's sdk_gphone, "
        "Genymotion, a desktop player's default model; identity.emulator_family) and the event "
        "has a device_id. Null when the event carries no user agent. An agent is self-reported: "
        "a farm that spoofs a phone's agent reads false, and people also play apps on a "
        "computer through desktop players, so it is a hint to weigh with others, not a verdict.",
        Source.EVENT,
        "live",
    ),
    Feature(
        "subnet_signups_1h",
        int,
        "Other accounts that signed up from the account's subnet in the hour up to the decision.",
        "Signups (of other accounts) whose IP lies in the /24 (IPv4) or /48 (IPv6) of the "
        "decision's event, else of the account's latest event, with ts in (t - 3600 s, t]. "
        "0 without a subnet.",
        Source.LIVE,
        "live",
    ),
    Feature(
        "subnet_accounts",
        int,
        "Other accounts ever seen on the account's subnet.",
        "Distinct accounts linked to the same subnet node, excluding the account. CGNAT "
        "gateways and mobile IPv6 /48s make this large for honest users.",
        Source.LIVE,
        "live",
    ),
    Feature(
        "device_accounts",
        int,
        "Most other accounts sharing one of the account's devices.",
        "max over the account's devices of (distinct accounts linked to the device - 1). 0 "
        "without a device.",
        Source.LIVE,
        "live",
    ),
    Feature(
        "shared_with_banned",
        int,
        "How many of the account's strong identifiers are also used by a banned account.",
        "Count of the account's device, phone, card and email identifiers linked to at least "
        "one other account whose latest ban/clear enforcement is a ban.",
        Source.LIVE,
        "live",
    ),
    Feature(
        "banned_neighbours",
        int,
        "Banned accounts one hop away over strong identifiers.",
        "Distinct other banned accounts linked to any of the account's device, phone, card or "
        "email identifiers.",
        Source.LIVE,
        "live",
    ),
    Feature(
        "account_banned",
        bool,
        "The account itself is banned.",
        "Its latest ban/clear enforcement is a ban.",
        Source.LIVE,
        "live",
    ),
    Feature(
        "ring_verdict",
        str,
        "Verdict of the detected ring the account belongs to.",
        "From the latest detection run: the verdict of the account's ring, 'none' when it is in "
        "no ring (the highest-scored ring if several).",
        Source.PRECOMPUTED,
        "ttl 300s (cache) over the latest detection run",
        RING_VERDICTS,
    ),
    Feature(
        "ring_size",
        int,
        "Members of the account's detected ring (0: none).",
        "len(ring.members) of the ring in ring_verdict.",
        Source.PRECOMPUTED,
        "ttl 300s (cache) over the latest detection run",
    ),
    Feature(
        "ring_score",
        float,
        "Risk score of the account's detected ring (0: none).",
        "ring.score in [0, 1] of the ring in ring_verdict.",
        Source.PRECOMPUTED,
        "ttl 300s (cache) over the latest detection run",
    ),
    Feature(
        "evader_score",
        float,
        "Best ban-evader match score (0: no match).",
        "Score of the account's best match to a banned account, in [0, 1].",
        Source.PRECOMPUTED,
        "ttl 300s (cache) over the latest detection run",
    ),
    Feature(
        "evader_match",
        bool,
        "Detection matched the account to a banned account.",
        "evader_score > 0, i.e. the account has a row in the evader matches.",
        Source.PRECOMPUTED,
        "ttl 300s (cache) over the latest detection run",
    ),
    Feature(
        "sybil_score",
        float,
        "Probability the account is a Sybil from trust propagation over its relations.",
        "SybilSCAR (detectors.trust) over friend/follow/invite relations with banned accounts "
        "as Sybil seeds and verified ones as benign seeds, in [0, 1]; null when no labelled "
        "account reaches the account (the 0.5 prior).",
        Source.PRECOMPUTED,
        "ttl 300s (cache) over the latest detection run",
    ),
    Feature(
        "engagement_score",
        float,
        "Strength of the densest engagement ring the account belongs to (0: none).",
        "Fill of the account's Fraudar block or SynchroTrap cluster (detectors.engagement) "
        "over the targets it pushed, in [0, 1].",
        Source.PRECOMPUTED,
        "ttl 300s (cache) over the latest detection run",
    ),
    Feature(
        "engagement_ring",
        bool,
        "Detection put the account in an engagement ring (review/like farm).",
        "engagement_score > 0.",
        Source.PRECOMPUTED,
        "ttl 300s (cache) over the latest detection run",
    ),
    Feature(
        "account_risk",
        float,
        "Detection's per-account risk.",
        "1 - (1 - ring_score) * (1 - evader_score), as detection computes it; 0 when unscored.",
        Source.PRECOMPUTED,
        "ttl 300s (cache) over the latest detection run",
    ),
    Feature(
        "declared_age_years",
        int,
        "Age in whole years from the declared birthdate.",
        "Completed years between the event's birthdate, else the account's stored one, and the "
        "decision date. Null when no birthdate was ever declared. Declared, not verified.",
        Source.EVENT,
        "live",
    ),
    Feature(
        "under_min_age",
        bool,
        "The declared age is below the platform's minimum age.",
        "declared_age_years < the strategy's min_age (default 13). Null when the age is "
        "unknown. Strategy.decide fills it in when the caller leaves it out.",
        Source.EVENT,
        "live",
    ),
)

FEATURES: Mapping[str, Feature] = MappingProxyType({f.name: f for f in _DECLARED})


def feature_names() -> frozenset[str]:
    return frozenset(FEATURES)


def _coerce(feature: Feature, value: Any) -> FeatureValue:
    """Value in the declared type, or ValueError. int -> float widens; nothing else converts
    silently, because a str "0" in a bool feature is a caller bug, not data."""
    if value is None:
        return None
    kind = feature.type
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind is str and isinstance(value, str):
        if feature.values and value not in feature.values:
            raise ValueError(f"must be one of {', '.join(feature.values)}")
        return value
    raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")


def feature_set(values: Mapping[str, Any], *, strict: bool = True) -> dict[str, FeatureValue]:
    """Check and complete a feature mapping: every declared feature present (missing -> None),
    values in their declared type (ints widen to float). Raises `Invalid` listing every unknown
    name (when `strict`) and badly typed value."""
    problems = []
    if strict:
        problems += [
            Problem(field=name, reason="unknown feature") for name in values if name not in FEATURES
        ]
    out: dict[str, FeatureValue] = {}
    for name, feature in FEATURES.items():
        try:
            out[name] = _coerce(feature, values.get(name))
        except ValueError as e:
            problems.append(Problem(field=name, reason=str(e)))
    if problems:
        raise Invalid("invalid feature values", problems)
    return out

"""The words every layer shares: ring verdicts, decision checkpoints, review labels and statuses,
and which identifier kinds count as strong links.

Each set is spelled once here so that an API parameter, a strategy file, a detector's output and a
stored row can never disagree on a spelling. `StrEnum` members compare and hash as their strings,
so stored rows and JSON need no conversion.
"""

from __future__ import annotations

from enum import StrEnum

from ringwatch.identity import IdentifierKind


class Verdict(StrEnum):
    FRAUD = "fraud"
    SUSPICIOUS = "suspicious"
    BENIGN = "benign"


# What enforcement and the quality report count as "flagged".
FLAGGED_VERDICTS: frozenset[Verdict] = frozenset({Verdict.FRAUD, Verdict.SUSPICIOUS})


class Checkpoint(StrEnum):
    SIGNUP = "signup"
    LOGIN = "login"
    PAYMENT = "payment"
    CONTENT = "content"
    PERIODIC = "periodic"


class ReviewLabel(StrEnum):
    FRAUD = "fraud"
    LEGIT = "legit"
    UNDERAGE = "underage"
    UNSURE = "unsure"


class ReviewStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


# Identifiers one person rarely shares with a stranger: a link through one of them ties accounts
# into a strong component, where IPs, subnets and email domains (shared by thousands) do not.
STRONG_KINDS: tuple[IdentifierKind, ...] = (
    IdentifierKind.DEVICE,
    IdentifierKind.PHONE,
    IdentifierKind.CARD,
    IdentifierKind.EMAIL,
)

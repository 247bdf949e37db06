"""Actions, their strictness order, and checkpoints."""

from __future__ import annotations

from ringwatch.features.registry import CHECKPOINTS

# Least to most strict. age_gate (restricted experience until age is verified) sits above
# challenge but below review: a teen is not a suspect, but an under-age account in a fraud ring
# still gets the ring's review or block.
ACTIONS: tuple[str, ...] = ("allow", "challenge", "age_gate", "review", "block")
STRICTNESS = {a: i for i, a in enumerate(ACTIONS)}

__all__ = ["ACTIONS", "CHECKPOINTS", "STRICTNESS", "at_least", "stricter"]


def stricter(a: str, b: str) -> str:
    return a if STRICTNESS[a] >= STRICTNESS[b] else b


def at_least(action: str, floor: str) -> bool:
    return STRICTNESS[action] >= STRICTNESS[floor]

"""Age signals from declared birthdates, per account (pure, vectorised).

Children who meet an age gate at signup mostly do one of three things: declare their real
birthdate (under the minimum age), or scroll the year picker just far enough to pass a gate
(13 for the platform, 18 for adult features) and keep the default day, January 1st. So an
account is *age-suspect* when, at signup, its declared age is under `min_age`, or its birthdate
is a January 1st that makes it less than one year past a gate. Adults born on January 1st are
flagged only in the one year after each gate; the signal is meant for groups (a school's
cohort), never to act on one account alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ringwatch.detectors.snapshot import Snapshot

DAY = 86400
YEAR_DAYS = 365.2425
# The gate of adult features: who declares a younger age declares a minor.
ADULT_AGE = 18


def birth_days(birthdates: np.ndarray) -> np.ndarray:
    """Days since the epoch of YYYY-MM-DD strings; NaN where unknown or malformed."""
    text = np.asarray(birthdates, dtype=object).astype(str)
    ok = np.char.str_len(text) == 10
    out = np.full(text.shape[0], np.nan)
    if ok.any():
        parsed = np.array(text[ok], dtype="datetime64[D]").astype(np.int64)
        out[ok] = parsed.astype(np.float64)
    return out


def declared_age(snapshot: Snapshot) -> np.ndarray:
    """Declared age in years at signup per account row; NaN where unknown or malformed."""
    try:
        born = birth_days(snapshot.birthdate)
    except ValueError:
        # A malformed date somewhere: fall back to parsing one by one.
        born = np.array([_one(b) for b in snapshot.birthdate], dtype=np.float64)
    return np.asarray((snapshot.created_at // DAY - born) / YEAR_DAYS, dtype=np.float64)


def age_suspect(
    snapshot: Snapshot, *, min_age: int = 13, gates: Sequence[int] = (13, 18)
) -> np.ndarray:
    """Boolean per account row: the declared birthdate looks like a child's (module doc)."""
    age = declared_age(snapshot)
    known = ~np.isnan(age)  # so a malformed "....-01-01" never counts below
    under = known & (age < min_age) & (age >= 0)
    jan1 = np.char.endswith(np.asarray(snapshot.birthdate, dtype=object).astype(str), "-01-01")
    at_gate = np.zeros_like(under)
    for gate in gates:
        at_gate |= known & (age >= gate) & (age < gate + 1)
    return np.asarray(under | (jan1 & at_gate), dtype=bool)


def _one(text: object) -> float:
    try:
        return float(np.datetime64(str(text), "D").astype(np.int64))
    except ValueError:
        return float("nan")

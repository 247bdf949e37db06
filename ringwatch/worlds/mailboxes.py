"""One mailbox per person, as a mail provider hands them out."""

from __future__ import annotations

import numpy as np

from ringwatch.identity import normalise_email
from ringwatch.worlds.locale import COUNTRIES
from ringwatch.worlds.model import World
from ringwatch.worlds.render import email, names

# The Gmail dot/plus variants (fraud.py's `_maybe_gmail_trick`) reach one inbox on purpose.
_SHARED_ON_PURPOSE = 6
# Numbers the planner never draws (1-99, birth years, 100-9999): a re-numbered mailbox cannot
# land on another person's.
_RENUMBER_FROM = 10_000


def unique_mailboxes(w: World) -> int:
    """Give every later holder of an already-issued mailbox (compared normalised, as the
    detectors see it) a number nobody else has, in signup order: a provider refuses a taken
    name and the person picks another. Returns how many accounts were re-numbered.

    Without this, a few thousand name pools and one or two digits hand one mailbox to many
    unrelated people at a million accounts, which no real provider does, and which makes
    unrelated households share a strong identifier."""
    issued: set[str] = set()
    renumbered = 0
    for i in np.argsort(w.signup, kind="stable").tolist():
        style = int(w.email_style[i])
        if style == _SHARED_ON_PURPOSE:
            continue
        region = COUNTRIES[int(w.country[i])].region
        first, last = names(region, int(w.first[i]), int(w.last[i]), int(w.typo[i]))
        attempt = 0
        while True:
            num, dom, nick = int(w.email_num[i]), int(w.email_dom[i]), int(w.nick[i])
            key = normalise_email(email(first, last, style, num, dom, nick))[0]
            if key not in issued:
                break
            w.email_num[i] = _RENUMBER_FROM + i + attempt * w.n
            attempt += 1
        renumbered += attempt > 0
        issued.add(key)
    return renumbered

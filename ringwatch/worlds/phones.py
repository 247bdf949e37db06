"""One phone number per person at a time, as a carrier issues them."""

from __future__ import annotations

import numpy as np

from ringwatch.worlds.model import BENIGN, World
from ringwatch.worlds.plan import random_phones


def unique_phones(w: World, rng: np.random.Generator) -> int:
    """Give every ordinary person whose number an earlier signup already holds a fresh number
    of their country, in signup order. Returns how many were re-numbered.

    Family contracts and company ranges are drawn next to numbers drawn at random, so without
    this a colleague's company phone could be a teenager's number in another family (232
    numbers held by two accounts in a 100k `field` world, 128 of the holders ordinary people),
    which no carrier does, and which ties unrelated households by a strong identifier. Numbers
    shared on purpose are left alone: an evader keeping the banned account's SIM is the same
    person, and fraud personas are planned by their own styles."""
    issued: set[tuple[int, int]] = set()
    renumbered = 0
    for i in np.argsort(w.signup, kind="stable").tolist():
        number, country = int(w.phone[i]), int(w.phone_country[i])
        if number < 0:
            continue
        while (number, country) in issued and w.label[i] == BENIGN:
            number = int(random_phones(rng, country, 1)[0])
        renumbered += number != int(w.phone[i])
        w.phone[i] = number
        issued.add((number, country))
    return renumbered

"""The numeric world model: one numpy column per account attribute, plus sites, groups, rings.

Everything a writer needs to render events lives here as integers, so a million accounts take
tens of megabytes instead of gigabytes of Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from ringwatch.worlds.profiles import Profile

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I16 = npt.NDArray[np.int16]
I8 = npt.NDArray[np.int8]
F32 = npt.NDArray[np.float32]

LABELS: tuple[str, ...] = ("benign", "fraud", "evader", "underage")
BENIGN, FRAUD, EVADER, UNDERAGE = range(4)


class SiteKind(IntEnum):
    """Where an IP address comes from; every kind but FRAUD is a benign shared group in truth."""

    HOME = 0
    GATEWAY = 1
    OFFICE = 2
    CAMPUS = 3
    CAFE = 4
    VPN = 5
    TRAVEL = 6
    FRAUD = 7


GROUP_KIND_NAMES = {
    SiteKind.HOME: "family",
    SiteKind.GATEWAY: "cgnat",
    SiteKind.OFFICE: "office",
    SiteKind.CAMPUS: "campus",
    SiteKind.CAFE: "cafe",
    SiteKind.VPN: "vpn",
    SiteKind.TRAVEL: "travel_hotspot",
}

# Account slots that point at a site; each assigned slot is used by at least one event.
SITE_SLOTS: tuple[str, ...] = ("home", "gw", "work", "cafe", "vpn", "travel")


@dataclass
class Ring:
    ring_id: str
    style: str
    country: int
    members: I64
    # Style-specific resources; empty when a style does not use them.
    subnets: list[int] = field(default_factory=list)  # /24 bases for proxy rotation
    cards: list[int] = field(default_factory=list)  # card-testing pool
    campaigns: list[tuple[int, int, int]] = field(default_factory=list)  # (ts, target, action)


@dataclass
class World:
    n: int
    seed: int
    profile: Profile
    t0: int
    t1: int
    salt: int
    # Per-account columns.
    country: I8
    first: I16
    last: I16
    name_style: I8
    typo: I16
    nick: I16
    bdate: I32
    email_style: I8
    email_num: I32
    email_dom: I16
    phone: I64
    phone_country: I8
    card: I64
    dev1: I64
    ua1: I16
    dev2: I64
    ua2: I16
    tablet: I64
    home: I32
    gw: I32
    v6: I64
    work: I32
    cafe: I32
    vpn: I32
    travel: I32
    signup: I64
    end: I64
    ban: I64
    ban_reason: I8
    ring: I32
    label: I8
    prev: I32
    inviter: I32
    household: I32
    activity: F32
    city: I8
    # Sites (shared IPs) and the groups they belong to.
    site_ip: I64
    site_group: I32
    group_kind: I8
    group_device: I64  # a family's shared tablet, else -1
    rings: list[Ring]
    kept: dict[int, list[str]]  # repeat offender -> identifiers carried over
    benign_start: int

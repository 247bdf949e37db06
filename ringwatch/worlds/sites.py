"""Shared-IP places (homes, CGNAT gateways, offices, campuses, cafés, VPN exits, hotspots).

Popularity inside each pool is Zipf-like, which is what makes IP sharing heavy-tailed: most
gateways carry a few hundred users, a handful carry thousands.
"""

from __future__ import annotations

import numpy as np

from ringwatch.worlds.model import I32, I64, SiteKind

# First octets per kind keep, say, campus and carrier space apart the way real allocations do,
# so a subnet says something about the kind of network behind it.
OCTETS: dict[SiteKind, tuple[int, ...]] = {
    SiteKind.HOME: (
        24,
        47,
        62,
        67,
        71,
        73,
        76,
        78,
        79,
        81,
        82,
        84,
        86,
        88,
        90,
        92,
        98,
        99,
        101,
        109,
        112,
        115,
        120,
        124,
        151,
        174,
        177,
        179,
        186,
        187,
        189,
        191,
        197,
        201,
    ),
    SiteKind.GATEWAY: (37, 39, 46, 94, 107, 166, 176, 188),
    SiteKind.OFFICE: (12, 50, 63, 64, 65, 66, 68, 70, 208, 209, 212, 213, 216, 217),
    SiteKind.CAMPUS: (
        128,
        129,
        130,
        131,
        132,
        134,
        137,
        140,
        141,
        142,
        143,
        146,
        147,
        149,
        152,
        155,
        156,
        158,
        160,
        163,
        164,
    ),
    SiteKind.CAFE: (24, 71, 73, 76, 82, 86, 90, 98, 174, 187),
    SiteKind.VPN: (5, 23, 45, 104, 138, 139, 144, 159, 185, 193, 194, 195),
    SiteKind.TRAVEL: (12, 63, 64, 66, 208, 209),
    SiteKind.FRAUD: (5, 24, 45, 71, 73, 76, 98, 104, 174, 185, 187, 191),
}


def random_ips(rng: np.random.Generator, kind: SiteKind, k: int) -> I64:
    octets = np.asarray(OCTETS[kind], dtype=np.int64)
    first = octets[rng.integers(0, len(octets), k)]
    middle = rng.integers(0, 1 << 16, k, dtype=np.int64)
    # Host .0 and .255 are rarely handed out; avoiding them keeps addresses plausible.
    host = rng.integers(1, 255, k, dtype=np.int64)
    return np.asarray((first << 24) | (middle << 8) | host, dtype=np.int64)


def zipf_weights(rng: np.random.Generator, k: int, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1, dtype=np.float64) ** exponent
    rng.shuffle(w)
    return np.asarray(w / w.sum())


class SiteTable:
    """Append-only table of sites and their groups, built in numpy batches."""

    def __init__(self) -> None:
        self._ips: list[I64] = []
        self._groups: list[I32] = []
        self._kinds: list[np.ndarray] = []
        self._devices: list[I64] = []
        self.n_sites = 0
        self.n_groups = 0

    def add_groups(self, kind: SiteKind, k: int, devices: I64 | None = None) -> I32:
        ids = np.arange(self.n_groups, self.n_groups + k, dtype=np.int32)
        self._kinds.append(np.full(k, int(kind), dtype=np.int8))
        self._devices.append(devices if devices is not None else np.full(k, -1, dtype=np.int64))
        self.n_groups += k
        return ids

    def add_sites(self, ips: I64, groups: I32) -> I32:
        k = len(ips)
        ids = np.arange(self.n_sites, self.n_sites + k, dtype=np.int32)
        self._ips.append(np.asarray(ips, dtype=np.int64))
        self._groups.append(np.asarray(groups, dtype=np.int32))
        self.n_sites += k
        return ids

    def add_simple(self, rng: np.random.Generator, kind: SiteKind, k: int) -> I32:
        """k sites, each its own group."""
        groups = self.add_groups(kind, k)
        return self.add_sites(random_ips(rng, kind, k), groups)

    def finish(self) -> tuple[I64, I32, np.ndarray, I64]:
        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return (
            cat(self._ips, np.int64),
            cat(self._groups, np.int32),
            cat(self._kinds, np.int8),
            cat(self._devices, np.int64),
        )


class Pool:
    """A set of sites with popularity weights, sampled many at a time."""

    def __init__(self, sites: I32, weights: np.ndarray) -> None:
        self.sites = sites
        self.cdf = np.cumsum(weights)
        self.cdf[-1] = 1.0

    def pick(self, rng: np.random.Generator, k: int) -> I32:
        idx = np.searchsorted(self.cdf, rng.random(k), side="right")
        return np.asarray(self.sites[np.minimum(idx, len(self.sites) - 1)], dtype=np.int32)


def pick_by_country(rng: np.random.Generator, pools: list[Pool], countries: np.ndarray) -> I32:
    out = np.full(len(countries), -1, dtype=np.int32)
    for c, pool in enumerate(pools):
        where = np.flatnonzero(countries == c)
        if len(where):
            out[where] = pool.pick(rng, len(where))
    return out

"""Build the numeric world: benign population with its shared places, rings, bans, returns.

Layout of account indices: planted rings first, then lone abusers, then repeat offenders, then
the benign population. Indices never leave the generator: ids are a keyed bijection of them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ringwatch.worlds.locale import COUNTRIES, UA_DESKTOP, UA_EMULATOR, UA_PHONE
from ringwatch.worlds.model import BENIGN, I64, SiteKind, World
from ringwatch.worlds.profiles import Profile
from ringwatch.worlds.render import DISPOSABLE_START, DOMAIN_INDEX, DOMAINS
from ringwatch.worlds.sites import Pool, SiteTable, pick_by_country, random_ips, zipf_weights

DAY = 86400
# Share of signups per local hour: quiet nights, a lunch bump, an evening peak.
HOUR_WEIGHTS = np.array(
    [
        2.0,
        1.2,
        0.8,
        0.6,
        0.6,
        1.0,
        2.0,
        3.5,
        5.0,
        5.5,
        5.5,
        5.8,
        6.0,
        5.8,
        5.5,
        5.5,
        5.8,
        6.2,
        6.8,
        7.5,
        8.0,
        7.5,
        6.0,
        4.0,
    ]
)
HOUR_CDF = np.cumsum(HOUR_WEIGHTS) / HOUR_WEIGHTS.sum()
COUNTRY_W = np.array([c.weight for c in COUNTRIES]) / sum(c.weight for c in COUNTRIES)
TZ = np.array([c.utc_offset for c in COUNTRIES], dtype=np.int64)
N_GLOBAL_DOMAINS = 10
GLOBAL_DOMAIN_W = np.array([0.50, 0.10, 0.08, 0.08, 0.07, 0.015, 0.01, 0.01, 0.005, 0.005])
GLOBAL_DOMAIN_W = GLOBAL_DOMAIN_W / GLOBAL_DOMAIN_W.sum()
LOCAL_DOMAINS = [[DOMAIN_INDEX[d] for d in c.local_domains] for c in COUNTRIES]


def start_epoch(profile: Profile) -> int:
    day = dt.date.fromisoformat(profile.start)
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def local_hour_seconds(rng: np.random.Generator, k: int) -> I64:
    hours = np.searchsorted(HOUR_CDF, rng.random(k), side="right").astype(np.int64)
    return np.asarray(np.minimum(hours, 23) * 3600 + rng.integers(0, 3600, k), dtype=np.int64)


def diurnal_times(
    rng: np.random.Generator, countries: np.ndarray, lo: np.ndarray | int, hi: int, growth: float
) -> I64:
    """Signup times between lo and hi: more towards the end (the platform grows), at the local
    hours people are awake."""
    k = len(countries)
    lo_arr = np.broadcast_to(np.asarray(lo, dtype=np.int64), (k,))
    span_days = np.maximum((hi - lo_arr) // DAY, 1)
    day = lo_arr // DAY + (span_days * rng.random(k) ** (1.0 / growth)).astype(np.int64)
    ts = day * DAY + local_hour_seconds(rng, k) - TZ[countries] * 3600
    # A local hour on the first or last day can fall outside the window: move it a day in,
    # keeping its hour. Clipping alone piled hundreds of strangers' signups onto the very
    # same second (hi - 3600), a mass-registration burst no real platform shows.
    ts = np.where(ts > hi - 3600, ts - DAY, ts)
    ts = np.where(ts <= lo_arr, ts + DAY, ts)
    return np.asarray(np.clip(ts, lo_arr + 1, hi - 3600), dtype=np.int64)


def fold_before(ts: I64, hi: int, period: int) -> I64:
    """Times at or past hi moved back by whole periods until they fall before it.

    `np.minimum(ts, hi)` put every late signup on the very same second: strangers (or a ring's
    whole tail) registering at one instant, a burst no real platform shows and one a lockstep
    detector would rightly find. Whole periods (a day, a week) keep the local hour and
    weekday the time was drawn with, and distinct times stay distinct."""
    ts = np.asarray(ts, dtype=np.int64).copy()
    late = ts >= hi
    ts[late] -= period * ((ts[late] - hi) // period + 1)
    return ts


class Counter:
    """Hands out fresh integer identifiers (devices, cards)."""

    def __init__(self, start: int) -> None:
        self.next = start

    def take(self, k: int) -> I64:
        out = np.arange(self.next, self.next + k, dtype=np.int64)
        self.next += k
        return out


def new_world(n: int, seed: int, profile: Profile, salt: int) -> World:
    t0 = start_epoch(profile)

    def full(value: float, dtype: type) -> np.ndarray:
        return np.full(n, value, dtype=dtype)

    return World(
        n=n,
        seed=seed,
        profile=profile,
        t0=t0,
        t1=t0 + profile.days * DAY,
        salt=salt,
        country=full(0, np.int8),
        first=full(0, np.int16),
        last=full(0, np.int16),
        name_style=full(0, np.int8),
        typo=full(0, np.int16),
        nick=full(0, np.int16),
        bdate=full(0, np.int32),
        email_style=full(0, np.int8),
        email_num=full(-1, np.int32),
        email_dom=full(0, np.int16),
        phone=full(-1, np.int64),
        phone_country=full(0, np.int8),
        card=full(-1, np.int64),
        dev1=full(-1, np.int64),
        ua1=full(0, np.int16),
        dev2=full(-1, np.int64),
        ua2=full(0, np.int16),
        tablet=full(-1, np.int64),
        home=full(-1, np.int32),
        gw=full(-1, np.int32),
        v6=full(-1, np.int64),
        work=full(-1, np.int32),
        cafe=full(-1, np.int32),
        vpn=full(-1, np.int32),
        travel=full(-1, np.int32),
        signup=full(0, np.int64),
        end=full(0, np.int64),
        ban=full(-1, np.int64),
        ban_reason=full(0, np.int8),
        ring=full(-1, np.int32),
        label=full(BENIGN, np.int8),
        prev=full(-1, np.int32),
        inviter=full(-1, np.int32),
        household=full(-1, np.int32),
        activity=full(1.0, np.float32),
        city=full(0, np.int8),
        site_ip=np.zeros(0, np.int64),
        site_group=np.zeros(0, np.int32),
        group_kind=np.zeros(0, np.int8),
        group_device=np.zeros(0, np.int64),
        rings=[],
        kept={},
        benign_start=0,
    )


class Planner:
    """Shared state while planning: the RNG, id counters, the site table and place pools."""

    def __init__(self, world: World, rng: np.random.Generator) -> None:
        self.w = world
        self.rng = rng
        self.devices = Counter(int(rng.integers(1 << 20, 1 << 30)))
        self.cards = Counter(int(rng.integers(1 << 20, 1 << 30)))
        self.sites = SiteTable()
        self.gateways: list[Pool] = []
        self.cafes: list[Pool] = []
        self.vpn: Pool | None = None
        self.travel: Pool | None = None

    # -- places shared by everyone -------------------------------------------------------
    def build_pools(self) -> None:
        p, rng, n = self.w.profile, self.rng, self.w.n
        for weight in COUNTRY_W:
            users = n * p.mobile_share * (1 - p.ipv6_share) * weight
            k = max(2, round(users / p.accounts_per_gateway))
            # A carrier's gateways sit in a few /24s, so they also share subnets.
            base = self.rng.integers(0, 1 << 16, max(1, k // 40 + 1), dtype=np.int64)
            octet = np.asarray([37, 39, 46, 94, 107, 166, 176, 188], dtype=np.int64)[
                rng.integers(0, 8, len(base))
            ]
            which = rng.integers(0, len(base), k)
            ips = (octet[which] << 24) | (base[which] << 8) | rng.integers(1, 255, k)
            groups = self.sites.add_groups(SiteKind.GATEWAY, k)
            sites = self.sites.add_sites(np.asarray(ips, dtype=np.int64), groups)
            self.gateways.append(Pool(sites, zipf_weights(rng, k, p.gateway_zipf)))
            kc = max(2, round(n * p.cafe_share * weight / 25))
            self.cafes.append(
                Pool(self.sites.add_simple(rng, SiteKind.CAFE, kc), zipf_weights(rng, kc, 0.9))
            )
        kv = max(3, round(n * p.vpn_share / 60))
        self.vpn = Pool(self.sites.add_simple(rng, SiteKind.VPN, kv), zipf_weights(rng, kv, 1.2))
        kt = max(5, round(n * p.travel_share / 20))
        self.travel = Pool(
            self.sites.add_simple(rng, SiteKind.TRAVEL, kt), zipf_weights(rng, kt, 1.1)
        )

    def pick_gateway(self, countries: np.ndarray) -> np.ndarray:
        return pick_by_country(self.rng, self.gateways, countries)

    def pick_cafe(self, countries: np.ndarray) -> np.ndarray:
        return pick_by_country(self.rng, self.cafes, countries)

    def fraud_sites(self, k: int) -> np.ndarray:
        # Operator locations are not benign groups: each gets a throwaway group id of its own.
        groups = self.sites.add_groups(SiteKind.FRAUD, k)
        return self.sites.add_sites(random_ips(self.rng, SiteKind.FRAUD, k), groups)

    def singleton_homes(self, k: int) -> np.ndarray:
        return self.sites.add_simple(self.rng, SiteKind.HOME, k)

    # -- identity attributes -------------------------------------------------------------
    def persona(self, idx: np.ndarray, countries: np.ndarray, *, fraudish: bool) -> None:
        """Names, birthdate, email and phone for accounts idx (signup must be set)."""
        w, rng, k = self.w, self.rng, len(idx)
        w.country[idx] = countries
        w.phone_country[idx] = countries
        w.first[idx] = rng.integers(0, 1000, k)
        w.last[idx] = rng.integers(0, 1000, k)
        w.city[idx] = rng.integers(0, 6, k)
        w.nick[idx] = rng.integers(0, 1000, k)
        w.name_style[idx] = rng.choice(5, k, p=[0.55, 0.15, 0.12, 0.1, 0.08])
        age_years = 18 + np.minimum(rng.gamma(2.0, 8.5, k), 67)
        w.bdate[idx] = (w.signup[idx] // DAY - (age_years * 365.25).astype(np.int64)).astype(
            np.int32
        )
        self.emails(idx, fraudish=fraudish)
        has_phone = rng.random(k) < (0.7 if fraudish else 0.88)
        self.phones(idx[has_phone])

    def emails(self, idx: np.ndarray, *, fraudish: bool) -> None:
        w, rng, k = self.w, self.rng, len(idx)
        style_p = (
            [0.2, 0.14, 0.08, 0.08, 0.1, 0.4] if fraudish else [0.3, 0.25, 0.1, 0.12, 0.15, 0.08]
        )
        w.email_style[idx] = rng.choice(6, k, p=style_p)
        r = rng.random(k)
        year = (1970 + w.bdate[idx] // 365.25).astype(np.int32)
        w.email_num[idx] = np.where(
            r < 0.42,
            rng.integers(1, 100, k),
            np.where(r < 0.62, year, np.where(r < 0.95, rng.integers(100, 10000, k), -1)),
        )
        dom = rng.choice(N_GLOBAL_DOMAINS, k, p=GLOBAL_DOMAIN_W)
        r = rng.random(k)
        local = np.array(
            [
                LOCAL_DOMAINS[c][j % len(LOCAL_DOMAINS[c])] if LOCAL_DOMAINS[c] else 0
                for c, j in zip(
                    w.country[idx].tolist(), rng.integers(0, 8, k).tolist(), strict=True
                )
            ],
            dtype=np.int64,
        )
        disposable = DISPOSABLE_START + rng.integers(0, len(DOMAINS) - DISPOSABLE_START, k)
        p_disp = 0.3 if fraudish else 0.02
        dom = np.where(
            r < p_disp, disposable, np.where((r < p_disp + 0.18) & (local > 0), local, dom)
        )
        w.email_dom[idx] = dom

    def phones(self, idx: np.ndarray) -> None:
        w, rng = self.w, self.rng
        for c in np.unique(w.phone_country[idx]).tolist():
            sub = idx[w.phone_country[idx] == c]
            w.phone[sub] = random_phones(rng, c, len(sub))

    def devices_for(self, idx: np.ndarray, second_share: float) -> None:
        w, rng, k = self.w, self.rng, len(idx)
        w.dev1[idx] = self.devices.take(k)
        phone_first = rng.random(k) < 0.74
        w.ua1[idx] = np.where(phone_first, rng.integers(*UA_PHONE, k), rng.integers(*UA_DESKTOP, k))
        second = rng.random(k) < second_share
        sub = idx[second]
        w.dev2[sub] = self.devices.take(len(sub))
        w.ua2[sub] = np.where(
            phone_first[second],
            rng.integers(*UA_DESKTOP, len(sub)),
            rng.integers(*UA_PHONE, len(sub)),
        )
        # Some people play the platform's mobile app on a computer through a desktop player
        # (BlueStacks, LDPlayer): an emulator's agent from an ordinary person's second device.
        # Chosen by the device's number, not the generator, so the rest of the world is drawn
        # as it was.
        mixed = _mix(w.dev2[sub])
        player = phone_first[second] & (mixed % 1000 < EMULATOR_PLAYERS_PER_MILLE)
        spread = (mixed // 1000) % (UA_EMULATOR[1] - UA_EMULATOR[0])
        w.ua2[sub] = np.where(player, UA_EMULATOR[0] + spread, w.ua2[sub])


# Of the people whose second device is a computer, per mille who run the app in an emulator.
EMULATOR_PLAYERS_PER_MILLE = 60


def _mix(values: np.ndarray) -> np.ndarray:
    """A fixed scramble of non-negative integers (splitmix64's finaliser), as uint64."""
    x = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def random_phones(rng: np.random.Generator, country: int, k: int) -> I64:
    c = COUNTRIES[country]
    prefixes = np.asarray([int(p) for p in c.mobile_prefixes], dtype=np.int64)
    scale = 10**c.rest_digits
    return np.asarray(
        prefixes[rng.integers(0, len(prefixes), k)] * scale + rng.integers(0, scale, k),
        dtype=np.int64,
    )


def plan_benign(pl: Planner, start: int) -> None:
    w, rng, p = pl.w, pl.rng, pl.w.profile
    idx = np.arange(start, w.n, dtype=np.int64)
    b = len(idx)
    if b == 0:
        return
    # Households: consecutive benign indices, sizes drawn until everyone has one.
    probs = np.asarray(p.household_sizes) / sum(p.household_sizes)
    sizes = rng.choice(np.arange(1, len(probs) + 1), b, p=probs)
    ends = np.cumsum(sizes)
    sizes = sizes[: int(np.searchsorted(ends, b)) + 1]
    sizes[-1] -= int(sizes.sum() - b)
    n_house = len(sizes)
    house = np.repeat(np.arange(n_house, dtype=np.int64), sizes)
    rank = np.arange(b) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    house_country = rng.choice(len(COUNTRIES), n_house, p=COUNTRY_W)
    countries = house_country[house]
    w.signup[idx] = diurnal_times(rng, countries, w.t0, w.t1, 1.4)
    # A third of families join together, within a day of whoever joined first.
    first_ts = w.signup[idx][np.cumsum(sizes) - sizes][house]
    together = (rng.random(b) < 0.33) & (rank > 0)
    w.signup[idx[together]] = fold_before(
        first_ts[together] + rng.integers(600, DAY, int(together.sum())), w.t1 - 3600, DAY
    )
    pl.persona(idx, countries, fraudish=False)
    # Families share a surname and a city; the third member on is a teenager or young adult.
    house_last = rng.integers(0, 1000, n_house)
    same_last = rng.random(b) < 0.75
    w.last[idx] = np.where(same_last, house_last[house], w.last[idx])
    w.city[idx] = rng.integers(0, 6, n_house)[house]
    young = rank >= 2
    young_age = rng.uniform(13, 23, int(young.sum()))
    w.bdate[idx[young]] = w.signup[idx[young]] // DAY - (young_age * 365.25).astype(np.int64)
    if p.household_generations:
        # Three generations: after the two first members, children and grandparents.
        # Children with accounts of their own are at least the platform's minimum age (13);
        # younger ones use a parent's account or the family tablet.
        elder = young & (rng.random(b) < 0.3)
        child = young & ~elder
        age = np.where(elder, rng.uniform(60, 86, b), rng.uniform(13, 18, b))
        sel = idx[young]
        w.bdate[sel] = (w.signup[sel] // DAY - (age[young] * 365.25).astype(np.int64)).astype(
            np.int32
        )
        # Children get a phone later, or not at all.
        w.phone[idx[child & (rng.random(b) < 0.4)]] = -1
    if p.family_contract > 0:
        # A family contract: the members' numbers are consecutive, whenever each joined.
        contract = (sizes >= 2) & (rng.random(n_house) < p.family_contract)
        member = contract[house] & (w.phone[idx] >= 0)
        head = np.cumsum(sizes) - sizes
        first_phone = w.phone[idx][head][house]
        first_country = w.phone_country[idx][head][house]
        ok = member & (first_phone >= 0)
        w.phone[idx[ok]] = first_phone[ok] + rank[ok]
        w.phone_country[idx[ok]] = first_country[ok]
    w.household[idx] = house
    w.activity[idx] = np.clip(rng.lognormal(0, 0.6, b), 0.2, 6).astype(np.float32)
    pl.devices_for(idx, 0.45)

    # Home IP and, for bigger families, a shared tablet and sometimes a shared card.
    tablet_house = (sizes >= 2) & (rng.random(n_house) < p.family_tablet)
    tablets = np.full(n_house, -1, dtype=np.int64)
    tablets[tablet_house] = pl.devices.take(int(tablet_house.sum()))
    groups = pl.sites.add_groups(SiteKind.HOME, n_house, tablets)
    homes = pl.sites.add_sites(random_ips(rng, SiteKind.HOME, n_house), groups)
    mobile_only = (sizes[house] == 1) & (rng.random(b) < 0.15)
    w.home[idx] = np.where(mobile_only, -1, homes[house])
    member_tablet = tablets[house]
    uses_tablet = (member_tablet >= 0) & ((rank < 2) | (rng.random(b) < 0.8))
    w.tablet[idx[uses_tablet]] = member_tablet[uses_tablet]

    has_card = rng.random(b) < p.card_share
    w.card[idx[has_card]] = pl.cards.take(int(has_card.sum()))
    head_card = w.card[idx][np.cumsum(sizes) - sizes][house]
    share = (rank > 0) & (head_card >= 0) & (rng.random(n_house) < p.family_card)[house]
    w.card[idx[share]] = head_card[share]

    # Mobile: CGNAT gateway of the home country, or a personal IPv6 address.
    mobile = mobile_only | (rng.random(b) < p.mobile_share)
    v6 = mobile & (rng.random(b) < p.ipv6_share)
    gw = mobile & ~v6
    w.gw[idx[gw]] = pl.pick_gateway(countries[gw])
    w.v6[idx[v6]] = rng.integers(1, 1 << 62, int(v6.sum()))

    ages = (w.signup[idx] // DAY - w.bdate[idx]) / 365.25
    student = (ages >= 18) & (ages < 25) & (rng.random(b) < p.campus_share * 4)
    worker = ~student & (ages >= 22) & (rng.random(b) < p.office_share)
    _assign_workplaces(pl, idx[worker], countries[worker], SiteKind.OFFICE, 4, 400, 1.3)
    _assign_workplaces(pl, idx[student], countries[student], SiteKind.CAMPUS, 40, 3000, 1.1)
    cafe = rng.random(b) < p.cafe_share
    w.cafe[idx[cafe]] = pl.pick_cafe(countries[cafe])
    vpn = rng.random(b) < p.vpn_share
    assert pl.vpn is not None and pl.travel is not None
    w.vpn[idx[vpn]] = pl.vpn.pick(rng, int(vpn.sum()))
    travel = rng.random(b) < p.travel_share
    w.travel[idx[travel]] = pl.travel.pick(rng, int(travel.sum()))
    w.label[idx] = BENIGN
    w.end[idx] = w.t1


def _assign_workplaces(
    pl: Planner,
    idx: np.ndarray,
    countries: np.ndarray,
    kind: SiteKind,
    lo: int,
    hi: int,
    alpha: float,
) -> None:
    """Cut people (sorted by country so colleagues mostly share one) into Pareto-sized places."""
    rng, k = pl.rng, len(idx)
    if k == 0:
        return
    order = np.argsort(countries, kind="stable")
    idx = idx[order]
    sizes: list[int] = []
    total = 0
    while total < k:
        s = int(min(hi, lo * (1 - rng.random()) ** (-1 / alpha)))
        sizes.append(min(s, k - total))
        total += sizes[-1]
    n_places = len(sizes)
    place = np.repeat(np.arange(n_places), sizes)
    groups = pl.sites.add_groups(kind, n_places)
    if kind == SiteKind.CAMPUS:
        # A campus NATs through a few addresses in one /24.
        base = random_ips(rng, kind, n_places)
        n_ips = rng.integers(1, 5, n_places)
        site_group = np.repeat(groups, n_ips)
        offsets = np.arange(int(n_ips.sum())) - np.repeat(np.cumsum(n_ips) - n_ips, n_ips)
        ips = (np.repeat(base, n_ips) & ~np.int64(255)) | (10 + offsets)
        sites = pl.sites.add_sites(ips, site_group)
        first_site = np.cumsum(n_ips) - n_ips
        choice = first_site[place] + (rng.integers(0, 1 << 20, k) % n_ips[place])
        pl.w.work[idx] = sites[choice]
    else:
        sites = pl.sites.add_sites(random_ips(rng, kind, n_places), groups)
        pl.w.work[idx] = sites[place]
        p = pl.w.profile
        if kind == SiteKind.OFFICE and p.company_phones > 0:
            # Company phones from one range: colleagues' numbers are neighbours, and
            # colleagues join a platform whenever each of them gets round to it.
            issued = (rng.random(n_places) < p.company_phones)[place]
            sub = idx[issued & (pl.w.phone[idx] >= 0)]
            if len(sub):
                grp = place[issued & (pl.w.phone[idx] >= 0)]
                first = np.r_[True, grp[1:] != grp[:-1]]
                base = np.maximum.accumulate(np.where(first, np.arange(len(sub)), 0))
                pl.w.phone[sub] = pl.w.phone[sub[base]] + (np.arange(len(sub)) - base) * 2
                pl.w.phone_country[sub] = pl.w.phone_country[sub[base]]

"""Planted abuse: rings in seven styles, lone abusers, bans, and the offenders who come back.

Each style leaves a different trace in the identity graph (docs/worlds.md). Camouflage mixes in
benign habits per member, so no single identifier type ties a whole ring together.
"""

from __future__ import annotations

import numpy as np

from ringwatch.worlds.locale import COUNTRIES, UA_DESKTOP, UA_EMULATOR, UA_PHONE
from ringwatch.worlds.model import EVADER, FRAUD, I64, UNDERAGE, Ring, SiteKind, World
from ringwatch.worlds.plan import (
    COUNTRY_W,
    DAY,
    TZ,
    Planner,
    diurnal_times,
    fold_before,
)
from ringwatch.worlds.profiles import STYLES
from ringwatch.worlds.render import DOMAIN_INDEX
from ringwatch.worlds.sites import random_ips

REASONS: tuple[str, ...] = (
    "fake_accounts",
    "spam",
    "payment_fraud",
    "referral_abuse",
    "platform_manipulation",
    "underage",
    "ban_evasion",
    "harassment",
)
STYLE_REASON = {
    "device_farm": 0,
    "sim_farm": 0,
    "proxy_rotation": 1,
    "card_testing": 2,
    "referral_chain": 3,
    "engagement": 4,
    "underage": 5,
    "sim_range": 0,
    "device_pairs": 0,
    "card_ring": 2,
}
# Operational limits: a classroom is not 300 kids, a card-testing crew rarely exceeds dozens.
STYLE_CAP = {
    "underage": 40,
    "card_testing": 80,
    "referral_chain": 150,
    "sim_farm": 250,
    "sim_range": 250,
    "card_ring": 60,
}
ENGAGE_ACTIONS = ("like", "follow", "review", "share", "comment")


def ring_sizes(rng: np.random.Generator, budget: int, alpha: float, cap: int) -> I64:
    """Heavy-tailed sizes from 3 to cap summing to about budget.

    Quantiles are stratified (one draw per 1/k slice) so even a small world gets its share of
    the tail instead of depending on the luck of a few draws.
    """
    if budget < 3:
        return np.zeros(0, dtype=np.int64)
    k = max(1, budget // 12)
    sizes = np.zeros(0, dtype=np.int64)
    for _ in range(5):
        q = (np.arange(k) + rng.random(k)) / k
        sizes = np.minimum(cap, np.floor(3 * (1 - q) ** (-1 / alpha))).astype(np.int64)
        k = max(1, round(k * budget / max(1, int(sizes.sum()))))
    rng.shuffle(sizes)
    while len(sizes) > 1 and sizes.sum() > budget:
        # Drop a ring other than the biggest so the tail survives the trim.
        big = int(np.argmax(sizes))
        drop = int(rng.integers(0, len(sizes) - 1))
        sizes = np.delete(sizes, drop if drop < big else drop + 1)
    return np.minimum(sizes, budget)


def plan_fraud(pl: Planner) -> int:
    """Plan rings, lone abusers and returns into indices 0..k; return k."""
    w, p, rng = pl.w, pl.w.profile, pl.rng
    sizes = ring_sizes(rng, round(p.ring_share * w.n), p.ring_size_alpha, p.ring_size_max)
    weights = np.array([p.style_weights.get(s, 0.0) for s in STYLES])
    pos = 0
    for r, size in enumerate(sizes.tolist()):
        allowed = np.array([STYLE_CAP.get(s, 10**9) >= size for s in STYLES]) * weights
        style = STYLES[int(rng.choice(len(STYLES), p=allowed / allowed.sum()))]
        ring = Ring(
            ring_id=f"ring-{r + 1:05d}",
            style=style,
            country=int(rng.choice(len(COUNTRIES), p=COUNTRY_W)),
            members=np.arange(pos, pos + size, dtype=np.int64),
        )
        pos += size
        _common(pl, ring)
        _STYLE_PLANNERS[style](pl, ring)
        _bans(pl, ring)
        w.rings.append(ring)
    pos = _solo_abusers(pl, pos, round(p.solo_abuser_share * w.n))
    return _returns(pl, pos)


def _waves(rng: np.random.Generator, w: World, k: int, start: int) -> I64:
    """Accounts made in bursts: a few waves, each a few hours long."""
    n_waves = 1 + int(rng.poisson(1.5))
    wave_start = start + rng.integers(0, 25 * DAY, n_waves)
    wave_len = rng.integers(3600, 12 * 3600, n_waves)
    which = rng.integers(0, n_waves, k)
    return np.asarray(wave_start[which] + (rng.random(k) * wave_len[which]).astype(np.int64))


def _common(pl: Planner, ring: Ring) -> None:
    w, rng, p = pl.w, pl.rng, pl.w.profile
    m, k = ring.members, len(ring.members)
    countries = np.where(
        rng.random(k) < 0.85, ring.country, rng.choice(len(COUNTRIES), k, p=COUNTRY_W)
    ).astype(np.int8)
    start = w.t0 + int(rng.integers(0, max(1, p.days - 30))) * DAY
    ts = _waves(rng, w, k, start)
    cam = rng.random(k) < p.camouflage
    # Camouflaged members trickle in over weeks instead of arriving in the burst.
    ts[cam] = start + rng.integers(0, 40 * DAY, int(cam.sum()))
    w.signup[m] = fold_before(np.maximum(ts, w.t0 + 60), w.t1 - 3 * DAY, DAY)
    pl.persona(m, countries, fraudish=True)
    pl.emails(m[cam], fraudish=False)
    if rng.random() < 0.3:
        # Lazy operators recycle a handful of birthdates across personas.
        w.bdate[m] = rng.choice(w.bdate[m], min(3, k))[rng.integers(0, min(3, k), k)]
    pl.devices_for(m, 0.1)
    w.gw[m[cam]] = pl.pick_gateway(countries[cam])
    cafe = cam & (rng.random(k) < 0.2)
    w.cafe[m[cafe]] = pl.pick_cafe(countries[cafe])
    has_card = rng.random(k) < 0.12
    w.card[m[has_card]] = pl.cards.take(int(has_card.sum()))
    w.ring[m] = len(w.rings)
    w.label[m] = FRAUD
    w.end[m] = w.t1
    w.activity[m] = 1.0


def _device_farm(pl: Planner, ring: Ring) -> None:
    w, rng = pl.w, pl.rng
    m, k = ring.members, len(ring.members)
    n_dev = max(1, round(k / rng.uniform(4, 25)))
    farm = pl.devices.take(n_dev)
    ua = np.where(
        rng.random(n_dev) < 0.6, rng.integers(*UA_EMULATOR, n_dev), rng.integers(*UA_PHONE, n_dev)
    )
    which = rng.integers(0, n_dev, k)
    plain = w.gw[m] < 0
    w.dev1[m[plain]] = farm[which[plain]]
    w.ua1[m[plain]] = ua[which[plain]]
    # Camouflaged members sign up on a fresh phone, then most still log in from the farm.
    later = ~plain & (rng.random(k) < 0.7)
    w.dev2[m[later]] = farm[which[later]]
    w.ua2[m[later]] = ua[which[later]]
    sites = pl.fraud_sites(int(rng.integers(1, 4)))
    home = rng.random(k) < 0.9
    w.home[m[home]] = sites[rng.integers(0, len(sites), int(home.sum()))]
    _maybe_gmail_trick(pl, ring, 0.35)


def _sim_farm(pl: Planner, ring: Ring) -> None:
    w, rng = pl.w, pl.rng
    m, k = ring.members, len(ring.members)
    c = COUNTRIES[ring.country]
    scale = 10**c.rest_digits
    prefix = int(c.mobile_prefixes[int(rng.integers(0, len(c.mobile_prefixes)))])
    base = prefix * scale + int(rng.integers(0, scale - 4 * k - 1))
    offsets = np.sort(rng.choice(4 * k, k, replace=False))
    w.phone[m] = base + offsets
    w.phone_country[m] = ring.country
    n_dev = max(1, k // int(rng.integers(3, 11)))
    farm = pl.devices.take(n_dev)
    ua = rng.integers(*UA_PHONE, n_dev)
    which = rng.integers(0, n_dev, k)
    w.dev1[m] = farm[which]
    w.ua1[m] = ua[which]
    # SIM modems ride the carrier network: the farm's cell maps to one or two CGNAT gateways.
    gws = pl.pick_gateway(np.full(int(rng.integers(1, 3)), ring.country))
    w.gw[m] = gws[rng.integers(0, len(gws), k)]
    w.home[m] = -1


def _sim_range(pl: Planner, ring: Ring) -> None:
    """A bought range of SIM cards, each in a fresh phone, registered in one session over the
    carrier network: nothing shared but the range, the clock, the carrier NAT thousands of
    ordinary users sit behind, and often one email stem with digits at a big provider."""
    w, rng = pl.w, pl.rng
    m, k = ring.members, len(ring.members)
    c = COUNTRIES[ring.country]
    scale = 10**c.rest_digits
    prefix = int(c.mobile_prefixes[int(rng.integers(0, len(c.mobile_prefixes)))])
    spread = int(rng.choice([1, 2, 3]))  # consecutive or nearly: a few numbers unusable
    base = prefix * scale + int(rng.integers(0, scale - spread * k - 1))
    offsets = np.sort(rng.choice(spread * k, k, replace=False))
    w.phone[m] = base + offsets
    w.phone_country[m] = ring.country
    w.country[m] = ring.country
    # One session of a few hours; a few cards activated the next day.
    start = int(w.signup[m].min())
    ts = start + rng.integers(0, int(rng.integers(2, 7)) * 3600, k)
    late = rng.random(k) < 0.1
    ts[late] += DAY + rng.integers(0, 6 * 3600, int(late.sum()))
    w.signup[m] = fold_before(ts, w.t1 - 3 * DAY, DAY)
    w.dev1[m] = pl.devices.take(k)
    w.ua1[m] = rng.integers(*UA_PHONE, k)
    w.dev2[m] = -1
    w.gw[m] = pl.pick_gateway(np.full(k, ring.country))
    w.home[m] = -1
    w.cafe[m] = -1
    w.card[m] = -1
    if rng.random() < 0.6:
        stem = rng.random(k) < 0.85
        w.first[m[stem]] = int(rng.integers(0, 1000))
        w.last[m[stem]] = int(rng.integers(0, 1000))
        w.email_style[m[stem]] = int(rng.choice([0, 1]))
        w.email_num[m[stem]] = int(rng.integers(1, 900)) + np.arange(int(stem.sum()))
        w.email_dom[m[stem]] = DOMAIN_INDEX[str(rng.choice(["gmail.com", "outlook.com"]))]


def _device_pairs(pl: Planner, ring: Ring) -> None:
    """A farm of cheap phones, one per two or three accounts, from one or two rented rooms."""
    w, rng = pl.w, pl.rng
    m, k = ring.members, len(ring.members)
    per = rng.integers(2, 4, k)
    owner = np.repeat(np.arange(k), per)[:k]
    farm = pl.devices.take(int(owner.max()) + 1)
    ua = rng.integers(*UA_PHONE, len(farm))
    w.dev1[m] = farm[owner]
    w.ua1[m] = ua[owner]
    w.dev2[m] = -1
    sites = pl.fraud_sites(int(rng.integers(1, 3)))
    w.home[m] = sites[rng.integers(0, len(sites), k)]
    mobile = rng.random(k) < 0.4
    w.gw[m[mobile]] = pl.pick_gateway(np.full(int(mobile.sum()), ring.country))


def _card_ring(pl: Planner, ring: Ring) -> None:
    """Stolen cards passed around a crew, each member on their own device and connection."""
    w, rng = pl.w, pl.rng
    m, k = ring.members, len(ring.members)
    pool = pl.cards.take(max(2, int(k * rng.uniform(0.3, 0.8))))
    ring.cards = pool.tolist()
    # Every member uses two or three of the pool's cards.
    w.card[m] = pool[rng.integers(0, len(pool), k)]
    pl.devices_for(m, 0.2)
    w.home[m] = pl.singleton_homes(k)
    mobile = rng.random(k) < 0.5
    w.gw[m[mobile]] = pl.pick_gateway(w.country[m[mobile]])


def _proxy_subnets(pl: Planner, ring: Ring) -> None:
    k = int(pl.rng.integers(2, 7))
    ring.subnets = (random_ips(pl.rng, SiteKind.HOME, k) & ~np.int64(255)).tolist()


def _proxy_rotation(pl: Planner, ring: Ring) -> None:
    w, rng = pl.w, pl.rng
    m, k = ring.members, len(ring.members)
    _proxy_subnets(pl, ring)
    # Anti-detect browsers: a fresh fingerprint per account, but the same browser build.
    same = rng.random(k) < 0.8
    w.ua1[m[same]] = int(rng.integers(*UA_DESKTOP))
    w.home[m] = -1
    w.email_dom[m[rng.random(k) < 0.5]] = DOMAIN_INDEX["gmail.com"]


def _card_testing(pl: Planner, ring: Ring) -> None:
    w, rng = pl.w, pl.rng
    m, k = ring.members, len(ring.members)
    pool = pl.cards.take(max(3, int(k * rng.uniform(1.5, 4))))
    ring.cards = pool.tolist()
    w.card[m] = pool[rng.integers(0, len(pool), k)]
    n_dev = int(rng.integers(1, 4))
    devs = pl.devices.take(n_dev)
    plain = w.gw[m] < 0
    which = rng.integers(0, n_dev, k)
    w.dev1[m[plain]] = devs[which[plain]]
    w.ua1[m[plain]] = rng.integers(*UA_DESKTOP, n_dev)[which[plain]]
    if rng.random() < 0.5:
        _proxy_subnets(pl, ring)
        w.home[m] = -1
    else:
        sites = pl.fraud_sites(int(rng.integers(1, 3)))
        w.home[m] = sites[rng.integers(0, len(sites), k)]


def _referral_chain(pl: Planner, ring: Ring) -> None:
    w, rng = pl.w, pl.rng
    m, k = ring.members, len(ring.members)
    ts = np.empty(k, dtype=np.int64)
    ts[0] = w.signup[m].min()
    parent = np.zeros(k, dtype=np.int64)
    for j in range(1, k):
        parent[j] = j - 1 if rng.random() < 0.7 else int(rng.integers(0, j))
        ts[j] = ts[parent[j]] + 1800 + int(rng.exponential(3 * 3600))
    # The whole chain moves back by whole days if it runs past the window: every invitee still
    # joins after its inviter, and nobody shares a second with another member (a running
    # maximum here used to stack a chain's members on one instant).
    late = int(ts.max()) - (w.t1 - 2 * DAY)
    if late >= 0:
        ts -= (late // DAY + 1) * DAY
    w.signup[m] = ts
    w.inviter[m[1:]] = m[parent[1:]]
    n_dev = int(rng.integers(2, 5))
    devs = pl.devices.take(n_dev)
    shared = rng.random(k) < 0.6
    w.dev1[m[shared]] = devs[rng.integers(0, n_dev, int(shared.sum()))]
    site = pl.fraud_sites(1)
    home = rng.random(k) < 0.6
    w.home[m[home]] = site[0]
    _maybe_gmail_trick(pl, ring, 0.5)


def _engagement(pl: Planner, ring: Ring) -> None:
    w, rng = pl.w, pl.rng
    m, k = ring.members, len(ring.members)
    # Aged accounts: signed up over weeks, used in coordinated campaigns much later.
    start = int(w.signup[m].min())
    w.signup[m] = fold_before(start + rng.integers(0, 50 * DAY, k), w.t1 - 3 * DAY, DAY)
    shared = rng.random(k) < 0.35
    devs = pl.devices.take(max(1, k // 10))
    w.dev1[m[shared]] = devs[rng.integers(0, len(devs), int(shared.sum()))]
    workers = pl.fraud_sites(max(1, k // int(rng.integers(5, 21))))
    w.home[m] = workers[rng.integers(0, len(workers), k)]
    lo = int(np.quantile(w.signup[m], 0.8)) + 3600
    n_c = int(rng.integers(3, 9))
    times = np.sort(rng.integers(lo, max(lo + 1, w.t1 - DAY), n_c))
    targets = rng.integers(1 << 40, 1 << 41, n_c)
    actions = rng.choice(len(ENGAGE_ACTIONS), n_c, p=[0.35, 0.25, 0.2, 0.1, 0.1])
    ring.campaigns = list(zip(times.tolist(), targets.tolist(), actions.tolist(), strict=True))


def _underage(pl: Planner, ring: Ring) -> None:
    w, rng = pl.w, pl.rng
    m, k = ring.members, len(ring.members)
    w.country[m] = ring.country
    w.phone_country[m] = ring.country
    pl.phones(m[w.phone[m] >= 0])
    # After school on weekdays, local time.
    day = w.signup[m].min() // DAY + rng.integers(0, 30, k)
    day += np.where((day + 4) % 7 >= 5, 2, 0)  # 1970-01-01 was a Thursday
    hour = rng.integers(15, 19, k) * 3600 + rng.integers(0, 3600, k)
    w.signup[m] = fold_before(day * DAY + hour - TZ[ring.country] * 3600, w.t1 - 3 * DAY, 7 * DAY)
    year = (w.signup[m] // DAY / 365.25 + 1970).astype(np.int64)
    r = rng.random(k)
    true_age = rng.uniform(9, 13, k)
    lied = np.where(r < 0.5, 18, 13)
    jan1 = np.array(
        [np.datetime64(f"{y}-01-01", "D").astype(np.int64) for y in (year - lied).tolist()]
    )
    honest = w.signup[m] // DAY - (true_age * 365.25).astype(np.int64)
    claimed = w.signup[m] // DAY - (rng.uniform(13, 16, k) * 365.25).astype(np.int64)
    w.bdate[m] = np.where(r < 0.55, jan1, np.where(r < 0.8, honest, claimed))
    w.email_style[m] = 7
    w.email_dom[m] = np.array([0, 0, 0, 1, 4])[rng.integers(0, 5, k)]
    w.name_style[m] = np.where(rng.random(k) < 0.5, 5, w.name_style[m])
    w.dev1[m] = pl.devices.take(k)
    w.ua1[m] = rng.integers(*UA_PHONE, k)
    w.work[m] = pl.fraud_sites(1)[0]
    w.home[m] = pl.singleton_homes(k)
    w.phone[m[rng.random(k) < 0.4]] = -1
    w.card[m] = -1
    w.label[m] = UNDERAGE


def _maybe_gmail_trick(pl: Planner, ring: Ring, share: float) -> None:
    """One inbox, many addresses: dots and +tags that Gmail ignores."""
    rng = pl.rng
    if rng.random() >= share:
        return
    m = ring.members
    use = m[rng.random(len(m)) < 0.8]
    pl.w.email_style[use] = 6
    pl.w.nick[use] = int(rng.integers(0, 30000))
    pl.w.email_num[use] = (
        rng.permutation(1 << 8)[: len(use)]
        if len(use) <= 256
        else (rng.choice(1 << 16, len(use), replace=False))
    )


def _bans(pl: Planner, ring: Ring) -> None:
    w, rng, p = pl.w, pl.rng, pl.w.profile
    m, k = ring.members, len(ring.members)
    share = rng.beta(1.2, 1.2 * (1 - p.ban_share) / p.ban_share)
    banned = m[rng.random(k) < share]
    if len(banned) == 0:
        return
    if rng.random() < 0.6:
        # A ban wave: the team found the ring and took out what it found on one day.
        ts = np.full(len(banned), int(w.signup[m].max()) + int(rng.integers(DAY, 20 * DAY)))
        ts += rng.integers(0, 3600, len(banned))
    else:
        ts = w.signup[banned] + 3600 + rng.exponential(10 * DAY, len(banned)).astype(np.int64)
    ok = ts < w.t1 - 3600
    _ban(w, banned[ok], ts[ok], STYLE_REASON[ring.style])


def _ban(w: World, idx: I64, ts: I64, reason: int) -> None:
    w.ban[idx] = np.maximum(ts, w.signup[idx] + 3600)
    w.end[idx] = w.ban[idx]
    w.ban_reason[idx] = reason


def _solo_abusers(pl: Planner, pos: int, count: int) -> int:
    w, rng = pl.w, pl.rng
    m = np.arange(pos, pos + count, dtype=np.int64)
    countries = rng.choice(len(COUNTRIES), count, p=COUNTRY_W).astype(np.int8)
    w.signup[m] = diurnal_times(rng, countries, w.t0, w.t1 - 2 * DAY, 1.2)
    pl.persona(m, countries, fraudish=rng.random() < 0.5)
    pl.devices_for(m, 0.2)
    w.home[m] = pl.singleton_homes(count)
    mobile = rng.random(count) < 0.5
    w.gw[m[mobile]] = pl.pick_gateway(countries[mobile])
    w.label[m] = FRAUD
    w.end[m] = w.t1
    banned = rng.random(count) < 0.85
    ts = w.signup[m] + 3600 + rng.exponential(6 * DAY, count).astype(np.int64)
    banned &= ts < w.t1 - 3600
    _ban(w, m[banned], ts[banned], int(rng.choice([1, 7])))
    return pos + count


def _returns(pl: Planner, pos: int) -> int:
    """Banned owners come back: up to two generations of new accounts."""
    w, rng, p = pl.w, pl.rng, pl.w.profile
    limit = w.n // 2
    candidates = np.flatnonzero(w.ban[:pos] >= 0)
    for _generation in range(2):
        back = candidates[rng.random(len(candidates)) < p.return_share]
        ts = w.ban[back] + 3600 + rng.exponential(4 * DAY, len(back)).astype(np.int64)
        ok = ts < w.t1 - 2 * DAY
        back, ts = back[ok], ts[ok]
        room = max(0, limit - pos)
        back, ts = back[:room], ts[:room]
        new = np.arange(pos, pos + len(back), dtype=np.int64)
        pos += len(back)
        _continue_as(pl, back, new, ts)
        again = rng.random(len(new)) < 0.3
        ban_ts = ts + 3600 + rng.exponential(8 * DAY, len(new)).astype(np.int64)
        again &= ban_ts < w.t1 - 3600
        _ban(w, new[again], ban_ts[again], REASONS.index("ban_evasion"))
        candidates = new[again]
    return pos


def _continue_as(pl: Planner, old: I64, new: I64, ts: I64) -> None:
    w, rng, p = pl.w, pl.rng, pl.w.profile
    k = len(new)
    if k == 0:
        return
    countries = w.country[old]
    w.signup[new] = ts
    pl.persona(new, countries, fraudish=True)
    pl.devices_for(new, 0.15)
    keep_dev = rng.random(k) < p.keep_device
    keep_card = (w.card[old] >= 0) & (rng.random(k) < p.keep_card)
    keep_phone = (w.phone[old] >= 0) & (rng.random(k) < p.keep_phone)
    keep_name = rng.random(k) < p.keep_name
    nothing = ~(keep_dev | keep_card | keep_phone | keep_name)
    pick_name = rng.random(k) < 0.5
    keep_name |= nothing & pick_name
    keep_dev |= nothing & ~pick_name
    w.dev1[new[keep_dev]] = w.dev1[old[keep_dev]]
    w.ua1[new[keep_dev]] = w.ua1[old[keep_dev]]
    w.card[new] = np.where(keep_card, w.card[old], -1)
    no_card_yet = ~keep_card & (rng.random(k) < 0.15)
    w.card[new[no_card_yet]] = pl.cards.take(int(no_card_yet.sum()))
    w.phone[new[keep_phone]] = w.phone[old[keep_phone]]
    w.phone_country[new[keep_phone]] = w.phone_country[old[keep_phone]]
    kn = new[keep_name]
    ko = old[keep_name]
    w.first[kn] = w.first[ko]
    # A returning person writes their name out again (no nickname-only display names).
    w.name_style[kn] = rng.choice([0, 2], len(kn))
    w.last[kn] = w.last[ko]
    # Retyped names pick up typos; birthdates mostly survive, sometimes a day or a year off.
    w.typo[kn] = np.where(rng.random(len(kn)) < 0.5, rng.integers(1, 1000, len(kn)), 0)
    shift = rng.choice([0, 0, 0, 0, 0, 0, 1, -1, 365, -365], len(kn))
    w.bdate[kn] = w.bdate[ko] + shift
    similar = rng.random(len(kn)) < 0.3
    w.email_style[kn[similar]] = np.minimum(w.email_style[ko[similar]], 4)
    w.email_num[kn[similar]] = np.maximum(w.email_num[ko[similar]], 0) + 1
    w.home[new] = np.where(rng.random(k) < 0.5, pl.singleton_homes(k), -1)
    mobile = rng.random(k) < 0.6
    w.gw[new[mobile]] = pl.pick_gateway(countries[mobile])
    vpn = rng.random(k) < 0.3
    assert pl.vpn is not None
    w.vpn[new[vpn]] = pl.vpn.pick(rng, int(vpn.sum()))
    w.label[new] = EVADER
    w.prev[new] = old
    w.end[new] = w.t1
    kinds = ("device", "card", "phone", "name_birthdate")
    flags = np.stack([keep_dev, keep_card, keep_phone, keep_name], axis=1)
    for a, row in zip(new.tolist(), flags.tolist(), strict=True):
        w.kept[a] = [kinds[j] for j in range(4) if row[j]]


_STYLE_PLANNERS = {
    "device_farm": _device_farm,
    "sim_farm": _sim_farm,
    "proxy_rotation": _proxy_rotation,
    "card_testing": _card_testing,
    "referral_chain": _referral_chain,
    "engagement": _engagement,
    "underage": _underage,
    "sim_range": _sim_range,
    "device_pairs": _device_pairs,
    "card_ring": _card_ring,
}

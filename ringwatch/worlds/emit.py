"""Render one chunk of accounts into event dicts.

Every site slot and extra device an account was given in the plan is used by at least one event,
so the benign groups in truth.json are exactly what the events show. Randomness comes from one
generator per chunk, drawn in bulk, so output depends only on (seed, chunk) and not on timing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ringwatch.worlds.fraud import ENGAGE_ACTIONS, REASONS
from ringwatch.worlds.locale import COUNTRIES, UA_TABLET, USER_AGENTS
from ringwatch.worlds.model import BENIGN, World
from ringwatch.worlds.plan import HOUR_CDF, random_phones
from ringwatch.worlds.render import (
    Clock,
    account_id,
    birthdate,
    card_id,
    device_id,
    display_name,
    email,
    ipv4,
    ipv6_mobile,
    mix64,
    names,
    phone,
)

Event = dict[str, Any]
DAY = 86400
# Benign engagement: mostly viewing and liking, rarely reviewing or reporting.
BENIGN_ACTIONS = (
    ("like",) * 30
    + ("view",) * 20
    + ("follow",) * 15
    + ("comment",) * 12
    + ("share",) * 8
    + ("message",) * 10
    + ("review",) * 3
    + ("report",) * 2
)
ENFORCE_ACTORS = ("trust_safety", "auto_rule", "trust_safety", "payments_risk")


def _uniforms(rng: np.random.Generator) -> Iterator[float]:
    while True:
        yield from rng.random(1 << 15).tolist()


class ChunkContext:
    """Lookups shared by all chunks: rendered sites, popular targets, the clock."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.clock = Clock(world.t0, world.profile.days + 60)
        self.site_ip = world.site_ip.tolist()
        rng = np.random.default_rng(np.random.SeedSequence([world.seed, 2]))
        # Popularity of content and creators is Zipf: a few posts get most of the likes, so
        # benign accounts pile onto the same targets too (just not in lockstep).
        n_content = max(100, world.n // 5)
        ranks = np.minimum(rng.zipf(1.6, 1 << 16), n_content) - 1
        self.content = [f"p{mix64(int(r) + 77):010x}"[:11] for r in ranks.tolist()]
        b0, n = world.benign_start, world.n
        creators = b0 + (np.minimum(rng.zipf(1.8, 1 << 14), max(1, n - b0)) - 1)
        self.creators = [account_id(int(c), world.salt) for c in creators.tolist()]
        self.hour_sec = (
            np.minimum(np.searchsorted(HOUR_CDF, rng.random(4096), side="right"), 23) * 3600
            + rng.integers(0, 3600, 4096)
        ).tolist()

    def aid(self, index: int) -> str:
        return account_id(index, self.w.salt)

    def ip(self, site: int) -> str:
        return ipv4(self.site_ip[site])


def chunk_events(ctx: ChunkContext, lo: int, hi: int, chunk: int) -> tuple[list[Event], int]:
    """Events of accounts lo..hi and the number of distinct account-identifier links."""
    w = ctx.w
    rng = np.random.default_rng(np.random.SeedSequence([w.seed, 1, chunk]))
    nxt = _uniforms(rng).__next__
    p = w.profile
    sl = slice(lo, hi)
    act = w.activity[sl]
    n_extra = rng.poisson(p.logins_mean * act).tolist()
    n_eng = rng.poisson(p.engage_mean * act).tolist()
    normals = _normals(rng)
    cols = {name: getattr(w, name)[sl].tolist() for name in _COLUMNS}
    out: list[Event] = []
    links = 0
    for i in range(hi - lo):
        row = {name: col[i] for name, col in cols.items()}
        events, n_links = _account(ctx, lo + i, row, n_extra[i], n_eng[i], nxt, normals)
        out.extend(events)
        links += n_links
    return out, links


_COLUMNS = (
    "country",
    "first",
    "last",
    "name_style",
    "typo",
    "nick",
    "bdate",
    "email_style",
    "email_num",
    "email_dom",
    "phone",
    "phone_country",
    "card",
    "dev1",
    "ua1",
    "dev2",
    "ua2",
    "tablet",
    "home",
    "gw",
    "v6",
    "work",
    "cafe",
    "vpn",
    "travel",
    "signup",
    "end",
    "ban",
    "ban_reason",
    "ring",
    "label",
    "inviter",
    "household",
    "city",
)


def _normals(rng: np.random.Generator) -> Callable[[], float]:
    def gen() -> Iterator[float]:
        while True:
            yield from rng.standard_normal(1 << 12).tolist()

    return gen().__next__


def _account(
    ctx: ChunkContext,
    a: int,
    r: dict[str, Any],
    n_extra: int,
    n_eng: int,
    u: Callable[[], float],
    normal: Callable[[], float],
) -> tuple[list[Event], int]:
    w, clock = ctx.w, ctx.clock
    aid = ctx.aid(a)
    c = COUNTRIES[r["country"]]
    sign, end = r["signup"], r["end"]
    ring = w.rings[r["ring"]] if r["ring"] >= 0 else None
    style = ring.style if ring else None
    subnets = ring.subnets if ring else []
    tz = c.utc_offset * 3600
    hour_sec = ctx.hour_sec
    seq = 0
    events: list[Event] = []

    def when() -> int:
        # Any time in the account's life, moved to a waking hour when that stays inside it.
        t: int = sign + 60 + int(u() ** 1.3 * max(1, end - sign - 120))
        t2: int = (t + tz) // DAY * DAY + hour_sec[int(u() * 4096)] - tz
        return t2 if sign < t2 < end else t

    def emit(ts: int, etype: str, **fields: Any) -> None:
        nonlocal seq
        ev: Event = {"ts": clock(ts), "event_id": f"{aid}-{seq}", "type": etype, "account_id": aid}
        ev.update(fields)
        events.append(ev)
        seq += 1

    def proxy_ip() -> str:
        return ipv4(subnets[int(u() * len(subnets))] | (2 + int(u() * 252)))

    # Every IP context this account was given; each must appear in some event.
    contexts: list[str] = []
    home_ip = ctx.ip(r["home"]) if r["home"] >= 0 else None
    if home_ip:
        contexts.append(home_ip)
    for slot in ("gw", "work", "cafe", "vpn", "travel"):
        if r[slot] >= 0:
            contexts.append(ctx.ip(r[slot]))
    if r["v6"] >= 0:
        contexts.append(ipv6_mobile(r["country"], r["v6"]))
    if subnets and not contexts:
        contexts.append(proxy_ip())
    if not contexts:
        # No shared place planned: a home connection of its own.
        h = mix64(a + 0x1F)
        contexts.append(ipv4(((24 + h % 170) << 24) | (h >> 8) & 0xFFFFFF))

    def any_ip() -> str:
        if subnets and u() < 0.85:
            return proxy_ip()
        # Home dominates everyday use when there is one.
        if home_ip and u() < 0.5:
            return home_ip
        return contexts[int(u() * len(contexts))]

    dev1 = device_id(r["dev1"])
    ua1 = USER_AGENTS[r["ua1"]]
    devices = [(dev1, ua1)]
    if r["dev2"] >= 0:
        devices.append((device_id(r["dev2"]), USER_AGENTS[r["ua2"]]))
    tablet = None
    if r["tablet"] >= 0:
        tablet = (device_id(r["tablet"]), USER_AGENTS[UA_TABLET[0] + r["tablet"] % 3])
        devices.append(tablet)

    region = c.region
    first, last = names(region, r["first"], r["last"], r["typo"])
    mail = email(first, last, r["email_style"], r["email_num"], r["email_dom"], r["nick"])
    ph = phone(r["phone_country"], r["phone"]) if r["phone"] >= 0 else None
    card = card_id(r["card"]) if r["card"] >= 0 else None
    name = display_name(first, last, r["name_style"], r["nick"], r["email_num"] + r["nick"])
    signup_ip = proxy_ip() if subnets else contexts[0]
    inviter = ctx.aid(r["inviter"]) if r["inviter"] >= 0 else None
    emit_signup = {
        "device_id": dev1,
        "ip": signup_ip,
        "email": mail,
        "phone": ph,
        "card": card,
        "display_name": name,
        "birthdate": birthdate(r["bdate"]),
        "country": c.code,
        "city": c.cities[r["city"] % len(c.cities)],
        "user_agent": ua1,
        "invited_by": inviter,
    }
    emit(sign, "signup", **{k: v for k, v in emit_signup.items() if v is not None})
    ids = {dev1, signup_ip, mail}
    if ph:
        ids.add(ph)
    if card:
        ids.add(card)
    if inviter is not None:
        # The inviter's side of the referral, shortly before the invitee shows up.
        inv_sign = int(w.signup[r["inviter"]])
        ts = max(inv_sign + 1, sign - 60 - int(u() * 1700))
        events.append(
            {
                "ts": clock(ts),
                "event_id": f"{aid}-inv",
                "type": "relation",
                "account_id": inviter,
                "other_account_id": aid,
                "kind": "invite",
            }
        )

    # Logins: first the mandatory (device, ip) uses, then habitual ones.
    pairs: list[tuple[tuple[str, str], str]] = [
        (devices[0] if u() < 0.7 else devices[int(u() * len(devices))], ip)
        for ip in (contexts if signup_ip != contexts[0] else contexts[1:])
    ]
    if len(devices) > 1 and devices[1] is not tablet:
        pairs.append((devices[1], any_ip()))
    if tablet:
        pairs.append((tablet, home_ip or any_ip()))
    for _ in range(n_extra):
        dev = devices[0] if u() < 0.7 else devices[int(u() * len(devices))]
        pairs.append((dev, any_ip()))
    for (dev_id, ua), ip in pairs:
        emit(when(), "login", device_id=dev_id, ip=ip, user_agent=ua)
        ids.add(dev_id)
        ids.add(ip)

    # Payments.
    if style in ("card_testing", "card_ring") and ring:
        # Card testing: rapid small charges cycling through stolen cards, minutes after
        # signup. A card ring cashes out more slowly: a few purchases over days.
        slow = style == "card_ring"
        t = sign + 120
        for _ in range((2 if slow else 3) + int(u() * (3 if slow else 6))):
            t += int(3600 + u() * 3 * 86400) if slow else 20 + int(u() * 900)
            if t >= end:
                break
            cd = card_id(ring.cards[int(u() * len(ring.cards))])
            emit(
                t,
                "payment",
                card=cd,
                ip=any_ip(),
                device_id=dev1,
                amount=round(20 + u() * 180, 2) if slow else round(0.5 + u() * 2.5, 2),
                currency=c.currency,
            )
            ids.add(cd)
    elif card:
        for _ in range(int(u() * u() * 4)):
            amount = round(math.exp(2.6 + 1.1 * normal()), 2)
            emit(
                when(),
                "payment",
                card=card,
                ip=any_ip(),
                device_id=dev1,
                amount=amount,
                currency=c.currency,
            )

    # Engagement.
    if ring and ring.campaigns:
        for t, target, action in ring.campaigns:
            ts = t + int(u() * 1800)
            if sign < ts < end and u() < 0.9:
                target_id = f"p{target:010x}"
                if action == 2:
                    emit(ts, "engage", target_id=target_id, action="review", value=5.0)
                else:
                    emit(ts, "engage", target_id=target_id, action=ENGAGE_ACTIONS[action])
    if r["label"] == 1 and ring is None and r["ban"] >= 0:
        # A lone spammer: bursts of messages to strangers.
        for _ in range(4 + int(u() * 10)):
            emit(
                when(),
                "engage",
                target_id=ctx.creators[int(u() * len(ctx.creators))],
                action="message",
            )
    for _ in range(n_eng):
        action = BENIGN_ACTIONS[int(u() * len(BENIGN_ACTIONS))]
        if action in ("follow", "message"):
            target = ctx.creators[int(u() * len(ctx.creators))]
        else:
            target = ctx.content[int(u() * len(ctx.content))]
        if action == "review":
            emit(when(), "engage", target_id=target, action=action, value=float(1 + int(u() * 5)))
        else:
            emit(when(), "engage", target_id=target, action=action)

    # Relations: family members befriend each other, underage classmates too.
    if r["label"] == BENIGN and r["household"] >= 0 and u() < 0.5:
        other = a + 1 if a + 1 < w.n and int(w.household[a + 1]) == r["household"] else a - 1
        if other >= w.benign_start and int(w.household[other]) == r["household"]:
            ts = max(sign, int(w.signup[other])) + 60 + int(u() * 3 * DAY)
            if ts < end:
                emit(ts, "relation", other_account_id=ctx.aid(other), kind="friend")
    if style == "underage" and ring:
        for _ in range(1 + int(u() * 3)):
            other = int(ring.members[int(u() * len(ring.members))])
            ts = max(sign, int(w.signup[other])) + 60 + int(u() * DAY)
            if other != a and ts < end:
                emit(ts, "relation", other_account_id=ctx.aid(other), kind="friend")
    if style == "engagement" and ring and u() < 0.5:
        other = int(ring.members[int(u() * len(ring.members))])
        ts = max(sign, int(w.signup[other])) + 600
        if other != a and ts < end:
            emit(ts, "relation", other_account_id=ctx.aid(other), kind="follow")

    # People change phones and emails and move; none of that makes them someone else.
    if r["label"] == BENIGN:
        if u() < 0.07:
            new_phone = phone(r["country"], int(random_phones(_rng_of(u), r["country"], 1)[0]))
            emit(when(), "profile_update", phone=new_phone)
            ids.add(new_phone)
        if u() < 0.06:
            new_mail = email(first, last, int(u() * 5), int(u() * 10000), int(u() * 10), r["nick"])
            emit(when(), "profile_update", email=new_mail)
            ids.add(new_mail)
        if u() < 0.02:
            emit(when(), "profile_update", city=c.cities[int(u() * len(c.cities))])

    # Enforcement: bans end an account; lighter actions land on benign accounts too.
    if r["ban"] >= 0:
        emit(
            r["ban"],
            "enforcement",
            action="ban",
            reason=REASONS[r["ban_reason"]],
            actor=ENFORCE_ACTORS[int(u() * len(ENFORCE_ACTORS))],
        )
    else:
        x = u()
        age = (sign // DAY - r["bdate"]) / 365.25
        if age < 18 and x < 0.05:
            emit(when(), "enforcement", action="age_gate", reason="age_signal", actor="auto_rule")
        elif x < 0.015:
            emit(when(), "enforcement", action="verify", reason="risk_check", actor="auto_rule")
        elif x < 0.02:
            t = when()
            emit(t, "enforcement", action="suspend", reason="spam", actor="auto_rule")
            if t + DAY < end:
                emit(
                    t + DAY,
                    "enforcement",
                    action="clear",
                    reason="appeal_upheld",
                    actor="trust_safety",
                )
        elif r["label"] != BENIGN and x < 0.12:
            emit(when(), "enforcement", action="restrict", reason="risk_check", actor="auto_rule")
    return events, len(ids)


def _rng_of(u: Callable[[], float]) -> np.random.Generator:
    return np.random.default_rng(int(u() * (1 << 53)))

"""A small seeded planted-ring world: a test fixture (and the detect benchmark's fallback), kept
out of the package because nothing in production plants rings.

Not the product's world generator (`ringwatch.worlds`): just enough of the phenomena to exercise
every detector - heavy-tailed NAT IPs, families sharing a tablet and home IP, offices, device
farms, card testing, proxy farms with signup bursts and templated emails, lockstep engagement
rings, bans, and repeat offenders who keep only some old identifiers. Sketches are simulated
MinHash rows (a typo re-draws a share of positions) rather than hashed text, so a million
accounts generate in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder
from ringwatch.identity import SKETCH_SIZE

DAY = 86400
START = 1_640_995_200  # 2022-01-01
SPAN = 730 * DAY
STYLES = ("device_farm", "card_testing", "proxy_farm", "engagement", "sim_farm")


@dataclass
class PlantedWorld:
    """Columnar links plus the planted truth; `build()` feeds them through SnapshotBuilder."""

    accounts: list[str]
    created_at: np.ndarray
    banned_at: np.ndarray
    country: list[str]
    birthdate: list[str]
    name_sketch: np.ndarray
    email_sketch: np.ndarray
    link_account: list[int] = field(default_factory=list)
    link_kind: list[str] = field(default_factory=list)
    link_key: list[str] = field(default_factory=list)
    link_ts: list[int] = field(default_factory=list)
    engagements: list[tuple[int, str, str, int]] = field(default_factory=list)
    relations: list[tuple[int, int, str]] = field(default_factory=list)
    rings: list[dict[str, object]] = field(default_factory=list)
    benign_groups: list[dict[str, object]] = field(default_factory=list)
    repeat_offenders: dict[str, list[str]] = field(default_factory=dict)

    def link(self, row: int, kind: str, key: str, ts: int) -> None:
        self.link_account.append(row)
        self.link_kind.append(kind)
        self.link_key.append(key)
        self.link_ts.append(ts)

    def build(self) -> Snapshot:
        b = SnapshotBuilder()
        for i, acc in enumerate(self.accounts):
            b.add_account(
                acc,
                {
                    "created_at": int(self.created_at[i]),
                    "banned_at": int(self.banned_at[i]) if self.banned_at[i] >= 0 else None,
                    "country": self.country[i],
                    "birthdate": self.birthdate[i],
                    "name_sketch": self.name_sketch[i].tolist(),
                    "email_sketch": self.email_sketch[i].tolist(),
                },
            )
        accs = self.accounts
        for r, k, key, ts in zip(
            self.link_account, self.link_kind, self.link_key, self.link_ts, strict=True
        ):
            b.add_link(accs[r], k, key, 1, ts)
        for r, target, action, ts in self.engagements:
            b.add_engagement(accs[r], target, action, ts)
        for s, t, kind in self.relations:
            b.add_relation(accs[s], accs[t], kind)
        return b.build()

    def truth(self) -> dict[str, object]:
        return {
            "rings": self.rings,
            "benign_groups": self.benign_groups,
            "repeat_offenders": self.repeat_offenders,
        }


def _typo(rng: np.random.Generator, sketch: np.ndarray, share: float) -> np.ndarray:
    out = sketch.copy()
    redraw = rng.random(SKETCH_SIZE) < share
    out[redraw] = rng.integers(1, 2**31, int(redraw.sum()), dtype=np.uint32)
    return out


def _date_typo(rng: np.random.Generator, date: str) -> str:
    y, m, d = date.split("-")
    if rng.random() < 0.5 and int(d) <= 12:
        return f"{y}-{d}-{m}"  # day/month swap
    digit = rng.integers(0, 10)
    return f"{y}-{m}-{d[0]}{digit}" if int(f"{d[0]}{digit}") in range(1, 29) else f"{y}-{m}-{d}"


def planted_world(n_accounts: int, seed: int = 0) -> PlantedWorld:
    """A world of about `n_accounts` accounts (>= 200) with planted rings and evaders.

    >>> w = planted_world(500, seed=1)
    >>> len(w.accounts) >= 500 and len(w.rings) > 0
    True
    """
    if n_accounts < 200:
        raise ValueError("planted_world needs at least 200 accounts")
    rng = np.random.default_rng(seed)
    n = n_accounts
    names = rng.integers(1, 2**31, (max(1000, n // 4), SKETCH_SIZE), dtype=np.uint32)
    name_pop = 1.0 / np.arange(1, names.shape[0] + 1) ** 0.8
    name_pop /= name_pop.sum()
    countries = np.array(["US", "GB", "DE", "FR", "BR", "IN", "NG", "PH", "ID", "MX"])
    cweights = np.array([30, 10, 8, 7, 10, 12, 5, 6, 7, 5], dtype=float)
    cweights /= cweights.sum()
    domains = [f"mail{i}.example" for i in range(300)]
    dpop = np.r_[[0.4, 0.15, 0.1], np.full(297, 0.35 / 297)]

    created = np.sort(START + rng.integers(0, SPAN, n))
    world = PlantedWorld(
        accounts=[f"u{rng.integers(0, 16**6):06x}{i:07d}" for i in range(n)],
        created_at=created.astype(np.int64),
        banned_at=np.full(n, -1, dtype=np.int64),
        country=list(rng.choice(countries, n, p=cweights)),
        birthdate=[
            f"{y}-{m:02d}-{d:02d}"
            for y, m, d in zip(
                rng.integers(1950, 2008, n),
                rng.integers(1, 13, n),
                rng.integers(1, 29, n),
                strict=True,
            )
        ],
        name_sketch=names[rng.choice(names.shape[0], n, p=name_pop)],
        email_sketch=rng.integers(1, 2**31, (n, SKETCH_SIZE), dtype=np.uint32),
    )
    # Shared infrastructure: carrier NAT IPs with heavy-tailed popularity, home subnets.
    n_nat = max(20, n // 300)
    nat_pop = 1.0 / np.arange(1, n_nat + 1) ** 1.1
    nat_pop /= nat_pop.sum()
    n_subnets = max(50, n // 40)
    role = np.zeros(n, dtype=np.int8)  # 0 plain, 1 family, 2 office, 3 ring
    order = rng.permutation(n)
    cursor = 0

    def take(k: int) -> np.ndarray:
        nonlocal cursor
        out = order[cursor : cursor + k]
        cursor += k
        return out

    def home_ip(i: int) -> tuple[str, str]:
        sub = int(rng.integers(0, n_subnets))
        return f"ip-h{i}", f"10.{sub // 256}.{sub % 256}.0/24"

    # Rings: heavy-tailed sizes 3..300, about 6% of accounts.
    ring_budget = int(0.06 * n)
    ring_no = 0
    while ring_budget > 3:
        size = int(min(300, 3 + rng.pareto(1.2) * 5, ring_budget))
        rows = take(size)
        ring_budget -= size
        role[rows] = 3
        style = STYLES[ring_no % len(STYLES)]
        t0 = START + int(rng.integers(30 * DAY, SPAN - 60 * DAY))
        spread = {
            "device_farm": 5 * DAY,
            "card_testing": 10 * DAY,
            "proxy_farm": 3 * 3600,
            "engagement": 20 * DAY,
            "sim_farm": 6 * 3600,
        }[style]
        world.created_at[rows] = t0 + rng.integers(0, spread, size)
        for r in rows:
            world.country[r] = str(rng.choice(countries))
        tag = f"r{ring_no}"
        template = rng.integers(1, 2**31, SKETCH_SIZE, dtype=np.uint32)
        subnets = [f"172.{ring_no % 250}.{j}.0/24" for j in range(1 + size // 40)]
        for k, r in enumerate(rows):
            ts = int(world.created_at[r])
            if style in ("device_farm", "sim_farm"):
                pool = max(1, size // 8)
                for d in set(rng.integers(0, pool, 2).tolist()):
                    world.link(r, "device", f"{tag}-dev{d}", ts)
            else:
                world.link(r, "device", f"{tag}-own{k}", ts)  # fresh device, camouflage
            if style == "card_testing":
                for c in set(rng.integers(0, max(1, size // 5), 2).tolist()):
                    world.link(r, "card", f"{tag}-card{c}", ts + 60)
            if style in ("proxy_farm", "sim_farm"):
                world.link(r, "ip", f"{tag}-ip{k}", ts)
                world.link(r, "subnet", subnets[k % len(subnets)], ts)
                world.email_sketch[r] = _typo(rng, template, 0.3)
            else:
                ip, sub = f"{tag}-ip{k % max(1, size // 4)}", subnets[0]
                world.link(r, "ip", ip, ts)
                world.link(r, "subnet", sub, ts)
            world.link(r, "phone", f"{tag}-ph{k}", ts)
            world.link(r, "email", f"{tag}-em{k}", ts)
            world.link(r, "email_domain", str(rng.choice(domains, p=dpop)), ts)
            if rng.random() < 0.5:  # camouflage on a popular NAT IP
                world.link(r, "ip", f"nat{rng.choice(n_nat, p=nat_pop)}", ts + DAY)
        if style == "engagement":
            for t in range(15):
                when = t0 + spread + t * DAY
                for r in rows:
                    if rng.random() < 0.85:
                        world.engagements.append(
                            (int(r), f"{tag}-t{t}", "like", when + int(rng.integers(0, 300)))
                        )
        members = [world.accounts[r] for r in rows]
        world.rings.append({"ring": tag, "style": style, "members": sorted(members)})
        # Enforcement: some rings get partly banned.
        if rng.random() < 0.6:
            banned = rows[rng.random(size) < 0.4]
            world.banned_at[banned] = world.created_at[banned] + int(rng.integers(20, 60)) * DAY
        ring_no += 1

    # Families: 2-6 people, one tablet and home IP, created over years, different ages.
    fam_no = 0
    while cursor < int(0.35 * n):
        size = int(rng.integers(2, 7))
        rows = take(size)
        role[rows] = 1
        ip, sub = home_ip(int(rows[0]))
        country = str(rng.choice(countries, p=cweights))
        surname = rng.integers(1, 2**31, SKETCH_SIZE, dtype=np.uint32)
        for k, r in enumerate(rows):
            world.country[r] = country
            year = (
                1965 + 8 * k + int(rng.integers(0, 6)) if k < 2 else 1995 + int(rng.integers(0, 15))
            )
            world.birthdate[r] = f"{year}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
            mix = rng.random(SKETCH_SIZE) < 0.35
            world.name_sketch[r] = np.where(mix, surname, world.name_sketch[r])
            ts = int(world.created_at[r])
            world.link(r, "device", f"fam{fam_no}-tablet", ts + DAY)
            world.link(r, "ip", ip, ts)
            world.link(r, "subnet", sub, ts)
        world.benign_groups.append(
            {"kind": "family", "members": sorted(world.accounts[r] for r in rows)}
        )
        fam_no += 1
    # Offices: 10-150 people sharing an office IP and subnet (weekday logins).
    office_no = 0
    while cursor < int(0.45 * n):
        size = int(min(150, 10 + rng.pareto(1.5) * 10))
        rows = take(size)
        role[rows] = 2
        for r in rows:
            ts = int(world.created_at[r]) + int(rng.integers(1, 30)) * DAY
            world.link(r, "ip", f"office{office_no}", ts)
            world.link(r, "subnet", f"192.168.{office_no % 250}.0/24", ts)
        world.benign_groups.append(
            {"kind": "office", "members": sorted(world.accounts[r] for r in rows)}
        )
        office_no += 1
    # Everyone not in a ring: own devices, phone, email, cards; a home or NAT IP; travel.
    for r in np.flatnonzero(role != 3).tolist():
        ts = int(world.created_at[r])
        world.link(r, "device", f"dev{r}", ts)
        if rng.random() < 0.3:
            world.link(r, "device", f"dev{r}b", ts + 90 * DAY)
        if rng.random() < 0.9:
            world.link(r, "phone", f"ph{r}", ts)
        world.link(r, "email", f"em{r}", ts)
        world.link(r, "email_domain", str(rng.choice(domains, p=dpop)), ts)
        if rng.random() < 0.4:
            world.link(r, "card", f"card{r}", ts + DAY)
        if role[r] != 1:
            if rng.random() < 0.8:
                ip, sub = home_ip(r)
            else:
                nat = int(rng.choice(n_nat, p=nat_pop))
                ip, sub = f"nat{nat}", f"100.64.{nat % 256}.0/24"
            world.link(r, "ip", ip, ts)
            world.link(r, "subnet", sub, ts)
        if rng.random() < 0.15:
            hotel = int(rng.integers(0, max(10, n // 2000)))
            world.link(r, "ip", f"hotel{hotel}", ts + int(rng.integers(1, 300)) * DAY)
        if rng.random() < 0.3:  # organic engagement on popular targets
            for _ in range(int(rng.integers(1, 5))):
                t = int(rng.zipf(1.5)) % 5000
                world.engagements.append(
                    (r, f"post{t}", "like", ts + int(rng.integers(0, 200 * DAY)))
                )
    plain = np.flatnonzero(role == 0)
    ban = plain[rng.random(plain.shape[0]) < 0.01]
    world.banned_at[ban] = world.created_at[ban] + int(rng.integers(10, 200)) * DAY

    # Repeat offenders: about a third of banned accounts come back as new accounts.
    banned_rows = np.flatnonzero(world.banned_at >= 0)
    back = banned_rows[rng.random(banned_rows.shape[0]) < 0.35]
    first_new = len(world.accounts)
    m = back.shape[0]
    world.created_at = np.r_[world.created_at, np.zeros(m, np.int64)]
    world.banned_at = np.r_[world.banned_at, np.full(m, -1, np.int64)]
    world.name_sketch = np.vstack([world.name_sketch, np.zeros((m, SKETCH_SIZE), np.uint32)])
    world.email_sketch = np.vstack([world.email_sketch, np.zeros((m, SKETCH_SIZE), np.uint32)])
    wanted = set(back.tolist())
    old_ids: dict[int, list[tuple[str, str]]] = {}
    for rr, kind_name, key_name in zip(
        world.link_account, world.link_kind, world.link_key, strict=True
    ):
        if rr in wanted:
            old_ids.setdefault(rr, []).append((kind_name, key_name))
    for j, old in enumerate(back.tolist()):
        new = first_new + j
        acc = f"u{rng.integers(0, 16**6):06x}{new:07d}"
        world.accounts.append(acc)
        ts = int(world.banned_at[old]) + int(rng.integers(1, 90)) * DAY
        world.created_at[new] = ts
        world.country.append(world.country[old])
        keep = rng.random(5) < np.array([0.5, 0.35, 0.4, 0.75, 0.7])
        if keep.sum() < 2:
            keep[rng.choice(5, 2, replace=False)] = True
        for slot, kind in enumerate(("device", "card", "phone")):
            mine = [key for k, key in old_ids.get(old, []) if k == kind]
            if keep[slot] and mine:
                world.link(new, kind, mine[0], ts)
        world.link(new, "device", f"dev{new}", ts)
        world.link(new, "email", f"em{new}", ts)
        ip, sub = home_ip(new)
        world.link(new, "ip", ip, ts)
        world.link(new, "subnet", sub, ts)
        world.name_sketch[new] = (
            _typo(rng, world.name_sketch[old], 0.3)
            if keep[3]
            else names[rng.integers(0, names.shape[0])]
        )
        world.email_sketch[new] = (
            _typo(rng, world.email_sketch[old], 0.4)
            if rng.random() < 0.3
            else rng.integers(1, 2**31, SKETCH_SIZE, dtype=np.uint32)
        )
        bd = world.birthdate[old]
        world.birthdate.append(
            (bd if rng.random() < 0.7 else _date_typo(rng, bd))
            if keep[4]
            else f"{rng.integers(1950, 2008)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
        )
        world.repeat_offenders[acc] = [world.accounts[old]]
    return world

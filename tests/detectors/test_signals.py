"""The signals added for proxy pools, card testers, SIM/device farms, child cohorts and
profile-only ban evaders, each on a hand-built snapshot with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from ringwatch.detectors.age import age_suspect
from ringwatch.detectors.behaviour import (
    BehaviourParams,
    shared_networks,
    soft_links,
    young_cohorts,
)
from ringwatch.detectors.evaders import match_evaders
from ringwatch.detectors.pipeline import detect
from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder
from tests.detectors.builders import DAY, T0, everyday_likes, farm, rows, signup


def _verdict_of(snap: Snapshot, ids: list[str]) -> str:
    result = detect(snap, seed=0)
    found = [r for r in result.rings if set(ids) <= set(r.members)]
    assert len(found) == 1, [r.members for r in result.rings]
    return found[0].verdict


# -- age signals --------------------------------------------------------------------------------
def test_age_suspect_flags_children_and_gate_defaults_only() -> None:
    b = SnapshotBuilder()
    signup = "2025-09-15"
    created = int(np.datetime64(signup, "s").astype(np.int64))
    cases = {
        "honest-10": ("2015-05-20", True),  # declared age 10 < 13
        "gate-13-jan1": ("2012-01-01", True),  # 13.7 years, January 1st: scrolled to the gate
        "gate-18-jan1": ("2007-01-01", True),
        "adult-jan1": ("1990-01-01", False),  # born on Jan 1st, far past any gate
        "teen-14": ("2011-03-03", False),  # old enough, an ordinary date
        "gate-13-not-jan1": ("2012-02-01", False),
        "unknown": ("", False),
    }
    for account, (birthdate, _) in cases.items():
        b.add_account(account, {"created_at": created, "birthdate": birthdate})
    snap = b.build()
    got = dict(zip(snap.accounts.tolist(), age_suspect(snap).tolist(), strict=True))
    assert got == {a: expected for a, (_, expected) in cases.items()}


def _platform(b: SnapshotBuilder, grown_ups: int = 200, teens: int = 0) -> None:
    """The rest of the platform, each at a home address of their own: without them a few
    children are the whole platform, and children on one network would be no surprise."""
    created = int(np.datetime64("2025-01-10", "s").astype(np.int64))
    for i in range(grown_ups + teens):
        born = f"{1960 + i % 35}-0{1 + i % 9}-1{i % 10}" if i < grown_ups else "2010-07-07"
        a = f"member{i:04d}"
        b.add_account(a, {"created_at": created + 600 * i, "birthdate": born})
        b.add_link(a, "ip", f"home{i:04d}", 3, created + 600 * i)


def test_young_cohort_links_children_on_one_network_not_adults() -> None:
    b = SnapshotBuilder()
    _platform(b)
    created = int(np.datetime64("2025-09-15", "s").astype(np.int64))
    kids = ["k0", "k1", "k2"]
    for i, k in enumerate(kids):
        b.add_account(k, {"created_at": created + i * 3600, "birthdate": "2014-06-0" + str(i + 1)})
        b.add_link(k, "ip", "school", 1, created)
    b.add_account("teacher", {"created_at": created, "birthdate": "1980-06-01"})
    b.add_link("teacher", "ip", "school", 1, created)
    b.add_account("elsewhere", {"created_at": created, "birthdate": "2014-01-01"})
    b.add_link("elsewhere", "ip", "home", 1, created)
    snap = b.build()
    links = young_cohorts(snap, age_suspect(snap), BehaviourParams()).toarray()
    k = rows(snap, kids)
    assert {(i, j) for i, j in zip(*np.nonzero(links), strict=True)} == {
        (i, j) for i in k for j in k if i != j
    }
    assert links[k[0], k[1]] == pytest.approx(BehaviourParams().cohort_weight)
    # The cohort comes out as a ring that is not cleared (it needs an age review).
    assert _verdict_of(snap, kids) != "benign"


def test_young_cohort_takes_in_classmates_who_claim_a_teen_age_not_teens_alone() -> None:
    # Two classmates give themselves away (a gate's January 1st, an honest 10); two others
    # claim an ordinary 14 and 15. On their school's network they are one cohort; the two
    # teens of another network with no child among them are not, and neither is a teacher.
    b = SnapshotBuilder()
    _platform(b)
    created = int(np.datetime64("2025-09-15", "s").astype(np.int64))
    school = {
        "gate": "2012-01-01",
        "honest": "2015-05-20",
        "t14": "2011-03-03",
        "t15": "2010-04-04",
    }
    for i, (k, born) in enumerate(school.items()):
        b.add_account(k, {"created_at": created + i * 3600, "birthdate": born})
        b.add_link(k, "ip", "school", 1, created)
    b.add_account("teacher", {"created_at": created, "birthdate": "1980-06-01"})
    b.add_link("teacher", "ip", "school", 1, created)
    for k, born in {"u14": "2011-05-05", "u16": "2009-06-06"}.items():
        b.add_account(k, {"created_at": created, "birthdate": born})
        b.add_link(k, "ip", "college", 1, created)
    snap = b.build()
    links = young_cohorts(snap, age_suspect(snap), BehaviourParams()).toarray()
    gate, honest, t14, t15 = rows(snap, list(school))
    pairs = {(int(i), int(j)) for i, j in zip(*np.nonzero(links), strict=True) if i < j}
    child_pairs = {(gate, honest), (gate, t14), (gate, t15), (honest, t14), (honest, t15)}
    assert pairs == {(min(p), max(p)) for p in child_pairs}  # not (t14, t15): no child
    assert _verdict_of(snap, list(school)) != "benign"


def test_a_gate_s_january_first_among_a_cafes_teenagers_is_not_a_cohort() -> None:
    # A café's sixty guests hold the platform's share of teenagers (one in ten) and one
    # grown-up who took the age gate's January 1st: chance, not a school. The same people
    # on a school's network, where nearly everyone is young, are a cohort.
    b = SnapshotBuilder()
    _platform(b, grown_ups=300, teens=30)
    created = int(np.datetime64("2025-09-15", "s").astype(np.int64))
    guests = {f"adult{i:02d}": f"{1970 + i % 25}-05-1{i % 10}" for i in range(53)}
    guests |= {f"teen{i}": f"{2008 + i % 3}-08-2{i}" for i in range(6)}
    guests["gate"] = "2007-01-01"
    for i, (a, born) in enumerate(guests.items()):
        b.add_account(a, {"created_at": created + 3600 * i, "birthdate": born})
        b.add_link(a, "ip", "cafe", 1, created + 3600 * i)
    pupils = {"p-gate": "2012-01-01", "p14": "2011-03-03", "p15": "2010-04-04"}
    for i, (a, born) in enumerate(pupils.items()):
        b.add_account(a, {"created_at": created + 600 * i, "birthdate": born})
        b.add_link(a, "ip", "school", 1, created + 600 * i)
    snap = b.build()
    links = young_cohorts(snap, age_suspect(snap), BehaviourParams())
    linked = {str(snap.accounts[i]) for i in np.unique(links.nonzero()[0])}
    assert linked == set(pupils)


def test_a_familys_youngest_with_teen_siblings_at_home_is_not_a_cohort() -> None:
    # One child's declared age among declared teens on a home network: siblings, who
    # joined months apart. Two children giving themselves away make it a cohort.
    b = SnapshotBuilder()
    created = int(np.datetime64("2025-03-01", "s").astype(np.int64))
    family = {"kid": "2015-11-30", "sib14": "2011-02-28", "sib16": "2008-03-06"}
    for i, (k, born) in enumerate(family.items()):
        b.add_account(k, {"created_at": created + i * 40 * DAY, "birthdate": born})
        b.add_link(k, "ip", "home", 1, created)
        b.add_link(k, "device", f"phone-{k}", 1, created)
    _platform(b)
    snap = b.build()
    young = age_suspect(snap)
    assert young.sum() == 1
    assert young_cohorts(snap, young, BehaviourParams()).nnz > 0  # linked, but
    result = detect(snap, seed=0)
    assert not [r for r in result.rings if r.verdict != "benign" and "kid" in r.members]


# -- shared networks (proxy pools) --------------------------------------------------------------
def test_shared_networks_need_two_non_hub_subnets() -> None:
    b = SnapshotBuilder()
    for a in ("a", "b", "c", "d"):
        b.add_account(a, {"created_at": T0})
    for a in ("a", "b"):
        b.add_link(a, "subnet", "198.51.100.0/24", 1, T0)
        b.add_link(a, "subnet", "203.0.113.0/24", 1, T0)
    b.add_link("c", "subnet", "198.51.100.0/24", 1, T0)  # one subnet in common: neighbours
    for i in range(5):  # a hub subnet (carrier NAT) shared by everyone counts for nothing
        b.add_account(f"z{i}", {"created_at": T0})
        b.add_link(f"z{i}", "subnet", "100.64.0.0/24", 1, T0)
    for a in ("c", "d"):
        b.add_link(a, "subnet", "100.64.0.0/24", 1, T0)
        b.add_link(a, "subnet", "192.0.2.0/24", 1, T0)
    snap = b.build()
    params = BehaviourParams(network_max_degree=4)
    links = shared_networks(snap, params).toarray()
    a, bb = rows(snap, ["a", "b"])
    assert links[a, bb] == links[bb, a] == pytest.approx(params.network_weight)
    assert np.count_nonzero(links) == 2  # not (a, c), not (c, d) through the hub


def test_proxy_pool_is_flagged_and_a_household_is_not() -> None:
    b = SnapshotBuilder()
    pool = [f"p{i}" for i in range(5)]
    for i, a in enumerate(pool):  # fresh device and IP per account, the same three blocks
        b.add_account(a, {"created_at": T0 + 900 * i, "country": "US"})
        b.add_link(a, "device", f"fresh{i}", 1, T0)
        for s in range(3):
            b.add_link(a, "ip", f"rot-{i}-{s}", 1, T0)
            b.add_link(a, "subnet", f"10.{s}.0.0/24", 1, T0)
    house = [f"h{i}" for i in range(3)]
    for i, a in enumerate(house):  # one home IP, the home block and the holiday flat's block
        b.add_account(a, {"created_at": T0 - (i + 1) * 400 * DAY, "country": "GB",
                          "birthdate": f"{1970 + 15 * i}-03-0{i + 1}"})
        b.add_link(a, "ip", "home", 1, T0)
        b.add_link(a, "subnet", "172.16.0.0/24", 1, T0)
        b.add_link(a, "subnet", "172.17.0.0/24", 1, T0)
        b.add_link(a, "device", "tablet", 1, T0)
    snap = b.build()
    assert _verdict_of(snap, pool) != "benign"
    assert _verdict_of(snap, house) == "benign"


def test_a_proxy_pool_whose_two_personas_drew_one_exit_is_not_a_household() -> None:
    """Residential proxy exits are reused: two personas of a pool of six landing on the same
    address once is what a rotating pool does, not a home the six share."""
    b = SnapshotBuilder()
    pool = [f"p{i}" for i in range(6)]
    for i, a in enumerate(pool):
        b.add_account(a, {"created_at": T0 + 5 * DAY * i, "country": "US",
                          "birthdate": f"{1975 + 4 * i}-0{1 + i}-1{i}"})
        b.add_link(a, "device", f"fresh{i}", 1, T0)
        b.add_link(a, "device", f"own-phone{i}", 1, T0)
        for s in range(2):
            b.add_link(a, "ip", f"rot-{i}-{s}", 1, T0)
            b.add_link(a, "subnet", f"10.{s}.0.0/24", 1, T0)
    for a in pool[:2]:
        b.add_link(a, "ip", "reused-exit", 1, T0)
    for i in range(200):  # the platform around them, each at a home of their own
        b.add_account(f"x{i}", {"created_at": T0 - 300 * DAY + 3600 * i})
        b.add_link(f"x{i}", "ip", f"home{i}", 3, T0)
    snap = b.build()
    result = detect(snap, seed=0)
    ring = next(r for r in result.rings if set(pool) <= set(r.members))
    assert ring.evidence["features"]["household"] == 0.0
    assert ring.verdict != "benign"


def test_a_family_whose_teenagers_live_on_mobile_data_is_still_a_household() -> None:
    """The parents on the home router, the teenagers on their own data plans, all paying with
    the parents' card: half the family under one roof is still a home."""
    b = SnapshotBuilder()
    family = ["mum", "dad", "teen1", "teen2"]
    born = ["1974-02-11", "1971-06-03", "2006-09-20", "2008-12-01"]
    for i, a in enumerate(family):
        b.add_account(a, {"created_at": T0 + 40 * DAY * i, "country": "GB", "birthdate": born[i]})
        b.add_link(a, "device", f"{a}-phone", 5, T0)
        b.add_link(a, "card", "family-card", 1, T0)
        b.add_link(a, "ip", "family-home" if i < 2 else f"{a}-carrier-nat", 5, T0)
    for i in range(200):
        b.add_account(f"x{i}", {"created_at": T0 - 300 * DAY + 3600 * i})
        b.add_link(f"x{i}", "ip", f"home{i}", 3, T0)
        if i < 100:  # the carrier's other customers
            b.add_link(f"x{i}", "ip", "teen1-carrier-nat" if i % 2 else "teen2-carrier-nat", 1, T0)
    result = detect(b.build(), seed=0)
    ring = next(r for r in result.rings if set(family) <= set(r.members))
    assert ring.evidence["features"]["household"] == 1.0
    assert ring.verdict == "benign"


# -- verdicts: card testers, farms off any home network, lockstep households ------------------
def _household(
    b: SnapshotBuilder, ids: list[str], *, cards: int, home: bool = True, own_phones: bool = True
) -> None:
    for i, a in enumerate(ids):
        b.add_account(a, {"created_at": T0 + 3600 * i, "country": "US",
                          "birthdate": f"{1975 + 10 * i}-05-1{i}"})
        b.add_link(a, "device", f"{ids[0]}-dev", 1, T0)
        if own_phones:
            b.add_link(a, "device", f"{a}-phone", 1, T0)
        if home:
            b.add_link(a, "ip", f"{ids[0]}-home", 1, T0)
        for c in range(cards):
            b.add_link(a, "card", f"{ids[0]}-card{c}", 1, T0)


def test_many_shared_cards_make_a_household_look_like_card_testing() -> None:
    b = SnapshotBuilder()
    family, testers = ["f0", "f1", "f2", "f3"], ["t0", "t1", "t2", "t3"]
    _household(b, family, cards=1)
    _household(b, testers, cards=4)
    snap = b.build()
    assert _verdict_of(snap, family) == "benign"
    assert _verdict_of(snap, testers) != "benign"


def test_personas_sharing_an_emulator_are_not_a_household_and_gamers_are() -> None:
    """A farm posing as a family (one shared device and home address, a phone and a card
    each as a family has) whose shared device is an emulator, against the same family shape
    where every member plays the app on a computer of their own through a desktop player."""
    b = SnapshotBuilder()
    family, farm_ = ["f0", "f1", "f2", "f3"], ["e0", "e1", "e2", "e3"]
    _household(b, family, cards=1)
    _household(b, farm_, cards=1)
    for a in family:
        b.add_link(a, "emulator", f"desktop-player:{a}-pc", 4, T0)
    for a in farm_:
        b.add_link(a, "emulator", "android-sdk:e0-dev", 4, T0)
    result = detect(b.build(), seed=0)
    ring = {r.members[0]: r for r in result.rings}
    assert ring["f0"].evidence["features"]["household"] == 1.0
    assert ring["f0"].evidence["features"]["emulated"] == 0.0
    assert ring["f0"].verdict == "benign"
    assert ring["e0"].evidence["features"]["household"] == 0.0
    assert ring["e0"].evidence["features"]["emulated"] == 1.0
    assert ring["e0"].verdict != "benign"


def test_a_family_computer_with_a_desktop_player_used_by_two_of_four_is_a_family() -> None:
    b = SnapshotBuilder()
    family = ["f0", "f1", "f2", "f3"]
    _household(b, family, cards=1)
    for a in family[2:]:
        b.add_link(a, "device", "family-pc", 2, T0)
        b.add_link(a, "emulator", "desktop-player:family-pc", 2, T0)
    ring = next(r for r in detect(b.build(), seed=0).rings if set(family) <= set(r.members))
    assert ring.evidence["features"]["emulated"] == 0.0
    assert ring.verdict == "benign"


def test_a_device_shared_off_any_common_network_is_not_a_household() -> None:
    b = SnapshotBuilder()
    family, modems = ["f0", "f1", "f2", "f3"], ["m0", "m1", "m2", "m3"]
    _household(b, family, cards=0)
    _household(b, modems, cards=0, home=False)
    snap = b.build()
    result = detect(snap, seed=0)
    score = {r.members[0]: r.score for r in result.rings}
    assert score["m0"] > score["f0"] + 0.1


def test_a_household_whose_members_have_no_device_of_their_own_is_a_farm() -> None:
    b = SnapshotBuilder()
    family, farm = ["f0", "f1", "f2", "f3"], ["d0", "d1", "d2", "d3"]
    _household(b, family, cards=0)
    _household(b, farm, cards=0, own_phones=False)  # one phone behind four accounts, nothing else
    snap = b.build()
    assert _verdict_of(snap, family) == "benign"
    assert _verdict_of(snap, farm) != "benign"


def test_a_group_of_children_is_not_cleared_as_a_household() -> None:
    b = SnapshotBuilder()
    created = int(np.datetime64("2025-10-01", "s").astype(np.int64))
    kids = ["k0", "k1", "k2"]
    for i, a in enumerate(kids):  # one home network and tablet, like siblings, but all under 13
        b.add_account(a, {"created_at": created + 3600 * i, "country": "US",
                          "birthdate": f"201{4 + i}-05-1{i}"})
        b.add_link(a, "device", "tablet", 1, created)
        b.add_link(a, "device", f"{a}-phone", 1, created)
        b.add_link(a, "ip", "home", 1, created)
    snap = b.build()
    assert _verdict_of(snap, kids) != "benign"


def test_lockstep_cancels_the_household_clearance() -> None:
    b = SnapshotBuilder()
    calm, paid = ["c0", "c1", "c2", "c3"], ["l0", "l1", "l2", "l3"]
    _household(b, calm, cards=0)
    _household(b, paid, cards=0)
    for i, a in enumerate(paid):
        for t in range(3):
            b.add_engagement(a, f"post{t}", "like", T0 + 10 * DAY + t * DAY + 20 * i)
    everyday_likes(b)
    snap = b.build()
    assert _verdict_of(snap, calm) == "benign"
    assert _verdict_of(snap, paid) != "benign"


# -- evaders: name and birthdate only, right after the ban ---------------------------------------
def test_profile_only_return_right_after_a_ban_is_matched_but_not_months_later() -> None:
    b = SnapshotBuilder()
    sketch = list(range(1, 33))
    close = sketch[:16] + list(range(200, 216))  # name with typos: similarity 0.5
    b.add_account("old", {"created_at": T0, "banned_at": T0 + DAY, "birthdate": "1991-02-03",
                          "name_sketch": sketch})
    b.add_account("soon", {"created_at": T0 + 2 * DAY, "birthdate": "1991-03-02",
                           "name_sketch": close})
    b.add_account("later", {"created_at": T0 + 200 * DAY, "birthdate": "1991-03-02",
                            "name_sketch": close})
    snap = b.build()
    m = match_evaders(snap)
    got = {str(snap.accounts[q]) for q in m.query.tolist()}
    # 0.6 * 0.5 (name) + 0.3 (birthdate typo) = 0.6 < 0.7; + 0.25 for returning within days.
    assert got == {"soon"}
    # Ranked for investigators, but a look-alike with a birthdate typo is not credible enough
    # to count against a group the account belongs to.
    assert m.credible().tolist() == [False]


# -- fast invite chains (referral farming) -----------------------------------------------------
def test_fresh_accounts_recruiting_fresh_accounts_form_a_ring_friends_do_not() -> None:
    b = SnapshotBuilder()
    farm = [f"r{i}" for i in range(5)]
    friends = [f"f{i}" for i in range(5)]
    for i, (r, f) in enumerate(zip(farm, friends, strict=True)):
        b.add_account(r, {"created_at": T0 + 3 * 3600 * i, "country": "US"})
        b.add_account(f, {"created_at": T0 + 60 * DAY * i, "country": "US"})
        b.add_link(r, "device", f"{r}-phone", 1, T0)
        b.add_link(f, "device", f"{f}-phone", 1, T0)
    for i in range(1, 5):
        b.add_relation(farm[i - 1], farm[i], "invite")
        b.add_relation(friends[i - 1], friends[i], "invite")
    snap = b.build()
    params = BehaviourParams()
    weights = soft_links(snap, params).invite.toarray()
    r, f = rows(snap, farm), rows(snap, friends)
    assert weights[r[0], r[1]] == pytest.approx(params.fast_invite_weight)
    assert weights[f[0], f[1]] == pytest.approx(params.invite_weight)
    result = detect(snap, seed=0)
    assert [sorted(x.members) for x in result.rings if x.verdict != "benign"] == [farm]


# -- evaders: the birthdate block ----------------------------------------------------------------
def test_birthdate_block_finds_a_return_under_a_new_name_but_not_strangers() -> None:
    b = SnapshotBuilder()
    b.add_account("old", {"created_at": T0, "banned_at": T0 + DAY, "birthdate": "1988-09-14",
                          "country": "PL", "name_sketch": list(range(1, 33))})  # a nickname
    real_name = list(range(500, 532))  # nothing in common with the nickname's sketch
    b.add_account("back", {"created_at": T0 + 2 * DAY, "birthdate": "1988-09-14",
                           "country": "PL", "name_sketch": real_name})
    b.add_account("abroad", {"created_at": T0 + 2 * DAY, "birthdate": "1988-09-14",
                             "country": "BR", "name_sketch": list(range(600, 632))})
    b.add_account("months", {"created_at": T0 + 90 * DAY, "birthdate": "1988-09-14",
                             "country": "PL", "name_sketch": list(range(700, 732))})
    snap = b.build()
    m = match_evaders(snap)
    got = {str(snap.accounts[q]) for q in m.query.tolist()}
    # 0.4 (exact birthdate) + 0.25 (back within days) + 0.1 (same country) >= 0.7; the others
    # lack the timing or the country.
    assert got == {"back"}
    assert m.credible().tolist() == [True]


# -- signup bursts through a hub: a crowd goes home, a farm does not ----------------------------
def test_a_crowd_signing_up_through_carrier_nat_goes_home_a_farm_does_not() -> None:
    # A carrier's NAT subnet sees a signup a day. One evening eight strangers sign up through
    # it and then live at homes of their own; another evening eight personas do, and live on
    # the NAT alone. Both evenings are bursts; only the personas are linked.
    b = SnapshotBuilder()
    nat = "100.64.7.0/24"
    for i in range(300):
        signup(b, f"day{i:03d}", T0 + i * DAY + DAY // 2, "subnet", nat)
    crowd = [f"crowd{i}" for i in range(8)]
    for i, a in enumerate(crowd):
        signup(b, a, T0 + 100 * DAY + 900 * i, "subnet", nat)
        b.add_link(a, "ip", f"home-of-{a}", 5, T0 + 101 * DAY)
    farm = [f"persona{i}" for i in range(8)]
    for i, a in enumerate(farm):
        signup(b, a, T0 + 200 * DAY + 900 * i, "subnet", nat)
    snap = b.build()
    burst = soft_links(snap).burst
    linked = {str(snap.accounts[i]) for i in np.unique(burst.nonzero()[0])}
    assert linked == set(farm)
    # The crowd's evening is a burst all the same: it is its members' homes that free them.
    homeless = SnapshotBuilder()
    for i in range(300):
        signup(homeless, f"day{i:03d}", T0 + i * DAY + DAY // 2, "subnet", nat)
    for i, a in enumerate(crowd):
        signup(homeless, a, T0 + 100 * DAY + 900 * i, "subnet", nat)
    snap = homeless.build()
    linked = {str(snap.accounts[i]) for i in np.unique(soft_links(snap).burst.nonzero()[0])}
    assert linked == set(crowd)


# -- SIM farms: one run of numbers behind several modems -----------------------------------------
def _sim_farm(b: SnapshotBuilder, *, same_block: bool) -> list[str]:
    ids = []
    for modem in range(2):
        for i in range(4):
            a = f"s{modem}{i}"
            ids.append(a)
            b.add_account(a, {"created_at": T0 + modem * 7 * DAY + 600 * i, "country": "NG"})
            b.add_link(a, "device", f"modem{modem}", 1, T0)
            b.add_link(a, "phone", f"{a}-number", 1, T0)
            block = "block-1" if same_block else f"block-{modem}"
            b.add_link(a, "phone_block", block, 1, T0)
    return ids


def test_a_run_of_numbers_joins_a_sim_farm_split_by_modem() -> None:
    for same_block, expected in ((True, 1), (False, 2)):
        b = SnapshotBuilder()
        farm = _sim_farm(b, same_block=same_block)
        result = detect(b.build(), seed=0)
        flagged = [set(r.members) for r in result.rings if r.verdict != "benign"]
        assert len(flagged) == expected, flagged
        assert set().union(*flagged) == set(farm)


# -- shared infrastructure: one block, one operation at a time -------------------------------------
def _farm_on_block(b: SnapshotBuilder, prefix: str, t0: int) -> list[str]:
    ids = [f"{prefix}{i}" for i in range(4)]
    for i, a in enumerate(ids):
        b.add_account(a, {"created_at": t0 + 600 * i, "country": "VN"})
        b.add_link(a, "device", f"{prefix}-emulator", 1, t0)  # nothing of their own
        b.add_link(a, "subnet", "198.18.7.0/24", 1, t0)
    return ids


def test_a_shared_block_joins_pieces_of_one_operation_not_operations_months_apart() -> None:
    for gap, pieces in ((2 * DAY, 1), (200 * DAY, 2)):
        b = SnapshotBuilder()
        first = _farm_on_block(b, "a", T0)
        second = _farm_on_block(b, "b", T0 + gap)
        result = detect(b.build(), seed=0)
        flagged = [set(r.members) for r in result.rings if r.verdict != "benign"]
        assert len(flagged) == pieces, (gap, flagged)
        assert set().union(*flagged) == set(first) | set(second)


def _slow_farm_on_shared_address(b: SnapshotBuilder) -> tuple[list[str], list[str], list[str]]:
    """A farm of 150 personas, three to a phone, registering one every eight hours for 50
    days through a carrier-NAT address, and 20 loose personas of it on a fresh phone each,
    living on that address alone; 120 ordinary people (a phone and a home of their own) sign
    up through the same address over half a year. The farm's racked accounts are banned."""
    personas = []
    for i in range(150):
        a = f"p{i:03d}"
        t = T0 + 30 * DAY + i * 8 * 3600
        b.add_account(a, {"created_at": t, "banned_at": t + 40 * DAY, "country": "VN"})
        b.add_link(a, "device", f"rack-{i // 3}", 2, t)
        b.add_link(a, "ip", "nat", 2, t)
        personas.append(a)
    loose = []
    for i in range(20):
        a = f"l{i:03d}"
        t = T0 + 30 * DAY + i * 60 * 3600 + 1800
        b.add_account(a, {"created_at": t, "country": "VN"})
        b.add_link(a, "device", f"burner-{i}", 3, t)
        b.add_link(a, "ip", "nat", 3, t)
        loose.append(a)
    people = []
    rng = np.random.default_rng(3)
    for i in range(120):
        a = f"o{i:03d}"
        t = T0 + int(rng.integers(0, 180 * DAY))
        b.add_account(a, {"created_at": t, "country": "VN"})
        b.add_link(a, "device", f"phone-{a}", 4, t)
        b.add_link(a, "ip", "nat", 1, t)
        b.add_link(a, "ip", f"home-{a}", 3, t + DAY)
        people.append(a)
    return personas, loose, people


def test_a_slow_farm_takes_in_its_loose_personas_not_the_address_s_other_people() -> None:
    """A suspect signs up within twelve hours of everybody who came through the address in
    those 50 days. The farm's loose personas live on its address alone and join its ring;
    the people who signed up there meanwhile go home afterwards, and stay out."""
    b = SnapshotBuilder()
    personas, loose, people = _slow_farm_on_shared_address(b)
    result = detect(b.build(), seed=0)
    flagged = set().union(*(set(r.members) for r in result.rings if r.verdict != "benign"))
    assert flagged >= set(personas) | set(loose), sorted(set(personas) | set(loose) - flagged)
    assert not flagged & set(people), sorted(flagged & set(people))


# -- a farm's own room: its devices spread over a few connections only it uses ------------------
def _farm_in_room(
    b: SnapshotBuilder, *, rooms: int, per_device: int = 8, devices: int = 3
) -> list[str]:
    """`devices` emulators, each behind `per_device` accounts; account i goes out through the
    room's connection i % rooms, so every emulator's accounts are spread over all of them."""
    ids = []
    for d in range(devices):
        for i in range(per_device):
            a = f"e{d:02d}{i:02d}"
            ids.append(a)
            t = T0 + 1800 * d + 120 * i
            b.add_account(a, {"created_at": t, "country": "ID"})
            b.add_link(a, "device", f"emulator-{d}", 1, t)
            b.add_link(a, "ip", f"room-{i % rooms}", 1, t)
    return ids


@pytest.mark.parametrize("devices", [3, 24])
def test_a_farms_devices_on_its_own_connections_are_one_ring(devices: int) -> None:
    """With 24 emulators each of the three connections carries 64 accounts: more than a
    family's or a small office's, still nobody's but the farm's (a big room is no less its
    own; this split a 400-account farm into 30 rings before)."""
    b = SnapshotBuilder()
    farm_ids = _farm_in_room(b, rooms=3, devices=devices)
    result = detect(b.build(), seed=0)
    flagged = [set(r.members) for r in result.rings if r.verdict != "benign"]
    # One operation, not one ring per emulator: no connection carries half of any emulator's
    # accounts, but nobody else uses them.
    assert flagged == [set(farm_ids)], [len(f) for f in flagged]


def test_a_connection_strangers_share_does_not_join_two_farms() -> None:
    b = SnapshotBuilder()
    first = farm(b, "a", 8)
    second = farm(b, "b", 8, T0 + 2 * DAY)
    # A cafe's Wi-Fi: three accounts of each farm and twenty ordinary customers.
    for a in first[:3] + second[:3]:
        b.add_link(a, "ip", "cafe", 1, T0)
    for i in range(20):
        b.add_account(f"c{i:02d}", {"created_at": T0 - i * 5 * DAY})
        b.add_link(f"c{i:02d}", "ip", "cafe", 1, T0)
    result = detect(b.build(), seed=0)
    flagged = sorted((set(r.members) for r in result.rings if r.verdict != "benign"), key=min)
    assert flagged == [set(first), set(second)], [len(f) for f in flagged]


# -- one operation, several rooms: personas that visit the other room --------------------------
def _rooms(b: SnapshotBuilder, visits: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Two device farms, each in a room of its own (an IP only its accounts use), and the
    visits: (account, room) logins from the other room's connection."""
    first = farm(b, "a", 8)
    second = farm(b, "b", 8, T0 + 2 * DAY)
    for a in first:
        b.add_link(a, "ip", "room-a", 1, T0)
    for a in second:
        b.add_link(a, "ip", "room-b", 1, T0 + 2 * DAY)
    for account, room in visits:
        b.add_link(account, "ip", room, 1, T0 + 3 * DAY)
    return first, second


def test_rooms_whose_personas_visit_each_other_are_one_operation() -> None:
    b = SnapshotBuilder()
    first, second = _rooms(b, [("b03", "room-a"), ("a05", "room-b")])
    result = detect(b.build(), seed=0)
    flagged = [set(r.members) for r in result.rings if r.verdict != "benign"]
    # Each room's connection is nobody's but the operation's, and each is visited from the
    # other room: two meetings on its own places make the two pieces one operation.
    assert flagged == [set(first) | set(second)], [len(f) for f in flagged]


def test_two_farms_meeting_on_one_place_stay_two_rings() -> None:
    b = SnapshotBuilder()
    first, second = _rooms(b, [("b03", "room-a")])
    result = detect(b.build(), seed=0)
    flagged = sorted((set(r.members) for r in result.rings if r.verdict != "benign"), key=min)
    # One shared address is what a resold proxy exit gives two unrelated operations.
    assert flagged == [set(first), set(second)], [len(f) for f in flagged]


# -- banned personas on the operation's own connection ------------------------------------------
def _farm_with_banned_loners(b: SnapshotBuilder, loners: int, customers: int) -> list[str]:
    """A farm of 4 on a connection, plus `loners` personas already banned on the same
    connection with a fresh device each (nothing ties them to anyone but the connection), and
    `customers` ordinary users of it."""
    ids = farm(b, "f", 4)
    for a in ids:
        b.add_link(a, "ip", "conn", 1, T0)
    for i in range(loners):
        a = f"x{i:02d}"
        ids.append(a)
        b.add_account(a, {"created_at": T0 + 900 * i, "banned_at": T0 + 20 * DAY})
        b.add_link(a, "device", f"fresh-{i}", 1, T0)
        b.add_link(a, "ip", "conn", 1, T0 + 900 * i)
    for i in range(customers):
        b.add_account(f"c{i:02d}", {"created_at": T0 - (i + 1) * 7 * DAY})
        b.add_link(f"c{i:02d}", "ip", "conn", 1, T0 - i * DAY)
    return ids


def test_banned_personas_on_the_operations_own_connection_join_its_ring() -> None:
    b = SnapshotBuilder()
    ids = _farm_with_banned_loners(b, loners=6, customers=0)
    result = detect(b.build(), seed=0)
    flagged = [set(r.members) for r in result.rings if r.verdict != "benign"]
    # The connection is nobody's but the farm's and its banned personas': one operation,
    # though only 4 of its 10 accounts sit in a suspicious community.
    assert flagged == [set(ids)], [len(f) for f in flagged]


def test_banned_strangers_do_not_make_a_public_connection_the_operations() -> None:
    b = SnapshotBuilder()
    ids = _farm_with_banned_loners(b, loners=2, customers=20)
    result = detect(b.build(), seed=0)
    flagged = [set(r.members) for r in result.rings if r.verdict != "benign"]
    assert flagged == [set(ids[:4])], [len(f) for f in flagged]


# -- an engagement farm: many rooms, the same customer targets --------------------------------
def _engagement_farm(b: SnapshotBuilder, name: str, rooms: int, t0: int) -> list[str]:
    """`rooms` rooms of 40 accounts, each room on its own device pool; every account pushes
    the farm's five targets, each campaign within two minutes (too many at once for the
    pairwise lockstep link)."""
    ids = []
    for r in range(rooms):
        for i in range(40):
            a = f"{name}{r}-{i:02d}"
            ids.append(a)
            t = t0 + r * 3 * DAY + 300 * i
            b.add_account(a, {"created_at": t, "country": "BD"})
            b.add_link(a, "device", f"{name}-room{r}-phone{i % 4}", 1, t)
            for c in range(5):
                # Inside one lockstep slot of either tiling (T0 + 700 is 300 s into one).
                b.add_engagement(a, f"{name}-target{c}", "like", t0 + (30 + c) * DAY + 700 + 2 * i)
    return ids


def _ordinary_users(b: SnapshotBuilder, n: int, *, seed: int) -> None:
    """`n` people of long standing, each on a phone of their own, who liked five of 200
    posts at random over two months."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        a = f"u{i:03d}"
        b.add_account(a, {"created_at": T0 - int(rng.integers(0, 400)) * DAY})
        b.add_link(a, "device", f"{a}-phone", 1, T0)
        for t in rng.choice(200, 5, replace=False).tolist():
            b.add_engagement(a, f"post{t}", "like", T0 + int(rng.integers(0, 60 * DAY)))


def test_an_engagement_farm_in_many_rooms_is_one_ring_two_farms_are_two() -> None:
    b = SnapshotBuilder()
    first = _engagement_farm(b, "x", 4, T0)
    second = _engagement_farm(b, "y", 2, T0 + 5 * DAY)
    _ordinary_users(b, 400, seed=3)
    result = detect(b.build(), seed=0)
    flagged = sorted((set(r.members) for r in result.rings if r.verdict != "benign"), key=min)
    assert flagged == [set(first), set(second)], [len(f) for f in flagged]


def test_a_farms_campaigns_take_in_its_remote_workers_not_bystanders() -> None:
    """A farm of three phones, three personas each, fires five campaigns, its phones 45
    minutes apart (too far apart for the pairwise lockstep link: only the campaign cells tie
    them). Ordinary users who each engaged one of the pushed posts once, between two phones'
    turns (a million-account platform has dozens per pushed post), are not the farm; workers
    on phones of their own who push every campaign between the phones' turns are."""
    b = SnapshotBuilder()
    farm, remote, bystanders = [], [], []
    for p in range(3):
        for j in range(3):
            a = f"farm-{p}{j}"
            farm.append(a)
            t = T0 + p * DAY + 600 * j
            b.add_account(a, {"created_at": t, "country": "BD"})
            b.add_link(a, "device", f"farm-phone-{p}", 1, t)
            for c in range(5):
                b.add_engagement(a, f"pushed-{c}", "like", T0 + (30 + c) * DAY + p * 2700 + 5 * j)
    for i in range(2):
        a = f"remote-{i}"
        remote.append(a)
        b.add_account(a, {"created_at": T0 + 20 * DAY + 600 * i, "country": "BD"})
        b.add_link(a, "device", f"{a}-phone", 1, T0 + 20 * DAY)
        for c in range(5):
            b.add_engagement(a, f"pushed-{c}", "like", T0 + (30 + c) * DAY + 1350 + 5 * i)
    for i in range(5):
        a = f"bystander-{i}"
        bystanders.append(a)
        b.add_account(a, {"created_at": T0 - (40 + i) * DAY})
        b.add_link(a, "device", f"{a}-phone", 1, T0 - (40 + i) * DAY)
        b.add_engagement(a, f"pushed-{i}", "like", T0 + (30 + i) * DAY + 4050 + 5 * i)
    _ordinary_users(b, 300, seed=5)
    result = detect(b.build(), seed=0)
    flagged = [set(r.members) for r in result.rings if r.verdict != "benign"]
    assert flagged == [set(farm) | set(remote)], [sorted(f - set(farm)) for f in flagged]


def test_a_stranger_whose_mailbox_looks_like_a_farms_is_not_in_its_ring() -> None:
    """A farm of six on one emulator and card, mailboxes minted from one template; two people
    who signed up the same day with look-alike mailboxes (a popular name and a birth year)
    and nothing else in common with it. The look-alike pairs are in the weighted graph (the
    farm's own templates tie it together too), but they hold no member on their own."""
    b = SnapshotBuilder()
    members = farm(b, "f", 6)
    template = list(range(100, 132))
    for i, a in enumerate(members):
        sketch = template[:28] + [1000 + 4 * i + k for k in range(4)]
        b.add_account(a, {"created_at": T0 + 60 * i, "country": "US", "email_sketch": sketch})
    strangers = ["maria-1", "maria-2"]
    for i, a in enumerate(strangers):
        sketch = template[:28] + [5000 + 4 * i + k for k in range(4)]
        b.add_account(
            a, {"created_at": T0 + 3600 * (i + 2), "country": "US", "email_sketch": sketch}
        )
        b.add_link(a, "device", f"{a}-phone", 1, T0)
        b.add_link(a, "ip", f"{a}-home", 1, T0)
    snap = b.build()
    links = soft_links(snap, BehaviourParams())
    row = snap.account_index()
    assert links.template[row["maria-1"], row[members[0]]] > 0  # the look-alike is seen
    flagged = [set(r.members) for r in detect(snap, seed=0).rings if r.verdict != "benign"]
    assert flagged == [set(members)], flagged


# -- signup bursts in a platform-wide surge -----------------------------------------------------
def _surge_world() -> SnapshotBuilder:
    """200 days of signups: ten a day on home networks of their own and one a day on a
    carrier-NAT block, then on day 100 a launch brings 400 signups in three hours, six of them
    through the NAT block within the hour (its share of the crowd), and six more through it
    within the hour on an ordinary day three months later. On day 50, a script
    registers five accounts on a quiet proxy block in half an hour; at the launch, another
    script does the same on another block."""
    b = SnapshotBuilder()
    rng = np.random.default_rng(5)

    def on(name: str, ts: int, block: str) -> None:
        signup(b, name, ts, "subnet", block)

    for i in range(2000):
        on(f"home{i}", T0 + int(rng.integers(0, 200 * DAY)), f"81.{i // 250}.{i % 250}.0/24")
    for i in range(200):
        on(f"mobile{i}", T0 + int(rng.integers(0, 200 * DAY)), "100.64.0.0/24")
    launch = T0 + 100 * DAY
    for i in range(400):
        on(f"crowd{i}", launch + int(rng.integers(0, 3 * 3600)), f"82.{i // 250}.{i % 250}.0/24")
    for i in range(6):
        on(f"crowd-nat{i}", launch + 3600 + 600 * i, "100.64.0.0/24")
        # The same six on an ordinary day, three months later.
        on(f"quiet-nat{i}", launch + 90 * DAY + 600 * i, "100.64.0.0/24")
    for i in range(5):
        on(f"script{i}", T0 + 50 * DAY + 360 * i, "198.51.100.0/24")
        on(f"launch-script{i}", launch + 3600 + 360 * i, "198.51.101.0/24")
    return b


def test_a_launch_crowd_on_carrier_nat_is_not_a_burst_but_scripts_are() -> None:
    """Six signups within the hour through a block that sees one a day is a burst by the block's
    own rate, but not while the whole platform takes 130 signups an hour: the NAT block's share
    of that crowd is about ten. A script alone on its block bursts in quiet times and in the
    launch alike."""
    snap = _surge_world().build()
    bursts = soft_links(snap).burst
    linked = set(np.flatnonzero(np.diff(bursts.tocsr().indptr)).tolist())
    crowd = set(rows(snap, [f"crowd-nat{i}" for i in range(6)]))
    assert crowd.isdisjoint(linked)
    quiet = set(rows(snap, [f"quiet-nat{i}" for i in range(6)]))
    scripts = set(rows(snap, [f"script{i}" for i in range(5)]))
    launch_scripts = set(rows(snap, [f"launch-script{i}" for i in range(5)]))
    # (A mobile user signing up during the quiet six's hour is in their session too.)
    assert quiet | scripts | launch_scripts <= linked

"""Per-ring features, a score in [0, 1], a verdict and the evidence an investigator reads.

The score is a hand-set logistic model over interpretable features rather than a trained one:
there are no trustworthy labels yet, and every coefficient has to be defensible to the person
whose account is restricted. What separates fraud from look-alikes:
- families share a tablet and a home IP but are few, created over years, of different ages;
- offices and campuses share only IPs/subnets (weak evidence), at any size;
- fraud rings share strong identifiers across many accounts, or register in bursts, act in
  lockstep, reuse email templates, and collect bans;
- card testers cycle several stolen cards through the same few accounts, where a household
  shares one card;
- farms share devices that never sit on a common home or office network (modems and emulators
  behind carrier NAT or rotating proxies), where a family's tablet lives on the family's Wi-Fi.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ringwatch.detectors._common import (
    STRONG_CODES,
    binary_links,
    check_snapshot,
    identifier_degree,
)
from ringwatch.detectors.age import ADULT_AGE, age_suspect, declared_age
from ringwatch.detectors.snapshot import KIND_CODE, KINDS, NOT_BANNED, RELATION_KINDS, Snapshot
from ringwatch.identity import IdentifierKind

FRAUD = "fraud"
SUSPICIOUS = "suspicious"
BENIGN = "benign"
FEATURES = (
    "size",
    "density",
    "strong_coverage",
    "strong_kinds",
    "identifier_reuse",
    "burst",
    "banned_share",
    "age_spread",
    "country_diversity",
    "behaviour_coverage",
    "evader_share",
    "weak_only",
    "slow_growth",
    "household",
    "shared_cards",
    "placeless",
    "coordination",
    "rotation",
    "young_share",
    "no_own_device",
    "rotating_peers",
    "subnet_burst",
    "household_shape",
    "social_embedding",
    "one_birthdate",
    "shared_mailbox",
    "emulated",
)


# Members not declared minors on one mailbox from which a household-shaped group is not cleared
# as a household, and the ring's `shared_mailbox` feature is set (`_shared_mailbox`).
MAILBOX_OPERATOR = 3
# Members declaring one same birthdate from which it is one hand's (`_one_birthdate`).
ONE_HAND_BIRTHDATES = 3
# Share of members on an IP with another member from which a small group can be a household.
HOME_MIN_COVERAGE = 0.5
# A group most of whose members share an emulator instance with another member (at least this
# share, and two members) is not cleared as a household, and its `emulated` feature counts
# (`_emulated`). A farm runs its personas on the emulators it shares between them; in a family
# a member may play the app on their own computer through a desktop player, and the device the
# family shares is a tablet.
EMULATED_MIN_SHARE = 0.75


@dataclass(frozen=True)
class VerdictParams:
    """Logistic coefficients (per feature) and the verdict thresholds on the score."""

    bias: float = -3.5
    strong_coverage: float = 2.0  # share of members sharing a strong identifier in the ring
    strong_kinds: float = 0.8  # per extra strong kind shared (device AND card AND phone...)
    log_size: float = 1.0  # per doubling above 6 members (beyond any family), capped
    max_log_size: float = 4.0
    burst: float = 2.5  # share of members created within `burst_window` of the ring median
    banned_share: float = 3.0
    behaviour_coverage: float = 2.5
    evader_share: float = 2.0
    # Fake profiles get random birthdates too, so age spread is only a mild household hint.
    age_spread: float = -0.5
    # Members claiming different countries while sharing devices/cards: households don't.
    country_diversity: float = 1.0
    # Share of members created more than `slow_window` from the ring median: groups that grew
    # over months or years (households, friends) rather than being registered in one go.
    slow_growth: float = -2.0
    weak_only: float = -1.5
    # Few members, one country, sharing a home IP: a household (families sign up together
    # too), unless bans, evaders or coordinated behaviour say otherwise.
    household: float = -3.0
    household_max: int = 6
    # Per distinct card shared inside the ring beyond the first, capped at `max_shared_cards`,
    # when there are at least half as many shared cards as members (a family pools one or two).
    shared_cards: float = 1.5
    max_shared_cards: int = 3
    placeless: float = 1.5
    # Lockstep and invites on top of behaviour coverage: acting together is harder to explain
    # away than looking alike (email templates count in behaviour coverage only).
    coordination: float = 1.5
    # Members who move across the same few networks together but never share an IP: a
    # proxy pool rotating addresses (a household shares its one home IP).
    rotation: float = 3.0
    # Members who each came through single-use IPs in a shared block (behaviour.
    # rotating_peers), without the second shared network: travellers and VPN users do that
    # too, so it weighs less.
    rotating_peers: float = 2.0
    # Share of members registered in one statistically significant burst from one subnet
    # with another member (behaviour.signup_bursts): scripted registration from one place.
    subnet_burst: float = 1.5
    # Share of age-suspect members (detectors.age), counted from half the ring up: a group of
    # children needs an age review whatever else it looks like; one child in a family does not.
    young_share: float = 6.0
    # Share of members (with any device) who have no device of their own: people carry a
    # phone nobody else logs into; accounts run from a farm live only on its shared devices.
    no_own_device: float = 2.5
    young_min_share: float = 0.5
    # Share of members with at least `embedded_min_friends` friends outside the group: people
    # who joined together (a campus on launch day, a company's onboarding) go on to live
    # separate social lives, befriended by people outside the group; a farm's accounts have
    # no one outside to befriend them (the few attack edges of SybilGuard and SybilRank).
    social_embedding: float = -4.0
    embedded_min_friends: int = 3
    # At least three members, and half the ring, declaring one same birthdate: one person
    # registering accounts types their own each time, a lazy operator recycles a few; the
    # people of a household or a circle of friends are born on different days (twins are two).
    one_birthdate: float = 3.0
    # Three or more grown-ups on one mailbox (`_shared_mailbox`): whoever reads it receives
    # every account's verification and recovery mail, so one person controls them all.
    shared_mailbox: float = 2.0
    # Share of members sharing an emulator instance with another member, from
    # `EMULATED_MIN_SHARE` up: farms run their personas on emulators they share, a family shares
    # a tablet. Spoofed agents go unseen, so no emulator is no evidence either way.
    emulated: float = 2.0
    burst_window: int = 3 * 86400
    slow_window: int = 180 * 86400
    fraud_threshold: float = 0.7
    suspicious_threshold: float = 0.4


def _ring_index(n: int, rings: list[np.ndarray]) -> np.ndarray:
    ring_of = np.full(n, -1, dtype=np.int64)
    for r, rows in enumerate(rings):
        if (ring_of[rows] >= 0).any():
            raise ValueError("rings must not overlap")
        ring_of[rows] = r
    return ring_of


def ring_features(
    snapshot: Snapshot,
    rings: list[np.ndarray],
    *,
    identifier_cols: np.ndarray,
    soft: sp.csr_matrix,
    look_alike: sp.csr_matrix | None = None,
    networks: sp.csr_matrix | None = None,
    rotating: sp.csr_matrix | None = None,
    bursts: sp.csr_matrix | None = None,
    runs: sp.csr_matrix | None = None,
    weights: sp.csr_matrix,
    evader_rows: np.ndarray,
    evader_continues: np.ndarray | None = None,
    burst_window: int = 3 * 86400,
    slow_window: int = 180 * 86400,
    household_max: int = 6,
    guardian_age: float = 25.0,
    min_age: int = 13,
    young: np.ndarray | None = None,
    place_max_degree: int = 300,
    embedded_min_friends: int = 3,
    judge_cores: bool = True,
) -> dict[str, np.ndarray]:
    """Feature arrays (one value per ring, names in FEATURES), all computed with sparse ops.

    `identifier_cols`: the columns counted as evidence (under their hub caps); `soft`:
    coordination links (lockstep, invites; signup timing is scored by `burst`); `look_alike`:
    softer links (email templates) that count towards behaviour coverage but cannot by
    themselves lift a group above weak-only evidence; `networks`: pairs seen together on
    several networks (behaviour.shared_networks); `runs`: phone-run links
    (behaviour.phone_runs), coordination that does not void the household clearance;
    `weights`: the full weighted graph the communities came from; `evader_rows`: accounts
    with an evader match; `young`: detectors.age.age_suspect per account (computed with
    `min_age` when not given); `judge_cores`: also clear a household whose acquaintances
    joined its ring (below).
    """
    snapshot = check_snapshot(snapshot)
    g = _Groups.of(snapshot, rings)
    size = g.size
    all_links = binary_links(snapshot)
    ids = _identifier_sharing(g, all_links, identifier_cols)
    ip_coverage, shares_place = _place_sharing(g, all_links, place_max_degree)
    links = _link_coverage(
        g,
        weights,
        soft,
        look_alike=look_alike,
        networks=networks,
        rotating=rotating,
        bursts=bursts,
        runs=None if runs is None else _runs_away_from_own_places(g, all_links, runs),
    )
    burst, slow_growth = _signup_timing(g, burst_window, slow_window)
    banned_share, evader_share, offenders = _offenders(g, evader_rows, evader_continues)
    country_diversity, one_country = _countries(g)

    # Households share their home IP between (nearly) all members; a pool's exits are reused
    # by a few members at most.
    not_home = 1.0 - ip_coverage
    rotation = links.networks * not_home
    rotating_peers = links.peers * not_home
    # Look-alike emails alone are weak: relatives and strangers with popular names write
    # near-identical local parts, so a group held only by them is not more than weak evidence.
    # A proxy pool's rotation is evidence of its own, not "weak-only" like a shared office.
    # So is a phone run: a range of numbers registered in one go is not a shared office.
    weak_only = (ids.n_strong == 0) & (links.hard == 0) & (rotation == 0) & (rotating_peers == 0)
    weak_only &= links.runs == 0
    # A household is cleared for what it looks like, unless bans, returning offenders or
    # coordinated behaviour (lockstep, invites) say otherwise (not email look-alikes: relatives
    # name their mailboxes alike); a small group with a banned member or acting in lockstep is
    # a cell, whatever it looks like.
    # One banned member in a family is that person's problem, not the family's: guilt by
    # association is what reviewers must not do. Two or more make the family look like a cell.
    clean = (offenders < 2) & (links.hard == 0)
    # Declared ages, read once for the helpers below (parsing every birthdate is per account).
    age = declared_age(snapshot)
    no_own_device, grown_without_own, deviceless_adults = _no_own_device(g, all_links, age)
    # People carry a phone of their own; a "household" whose members live only on shared
    # devices is a farm. Children are the exception: the family tablet and computer may be
    # all they have, so only the members not declared minors are counted here.
    clean &= grown_without_own < 0.5
    # A child may have only the family tablet, a grown-up hardly: two or more members
    # declared adult who live only on devices other accounts use are a farm's personas.
    clean &= deviceless_adults < 2
    # A mailbox is one person's: family members each have their own. A parent may register the
    # children under theirs (plus-addressing), and a couple may share a family address, but
    # three grown-ups on one mailbox (one address, or its dot and plus variants, which
    # normalise to it) is one operator registering personas past the platform's one-account-
    # per-address rule.
    shared_mailbox = _shared_mailbox(g, all_links, age) >= MAILBOX_OPERATOR
    clean &= ~shared_mailbox
    # Three members born on one day are one hand's registrations, not three relatives.
    one_birthdate = _one_birthdate(g)
    clean &= ~one_birthdate
    # A family shares a tablet; a group living on emulators it shares runs personas.
    emulated = _emulated(g, all_links)
    clean &= emulated == 0
    if young is None:
        young = age_suspect(snapshot, min_age=min_age)
    young_share, family_children = _young_share(g, young, age, guardian_age, household_max)
    clean &= (young_share < 0.5) | family_children
    young_share = np.where(family_children, 0.0, young_share)
    # A child cohort's shared school network is its evidence, like a pool's rotation.
    weak_only_f = (weak_only & (young_share < 0.5)).astype(np.float64)
    # A home is one connection its people share: the router gives everyone in the house the
    # same address. A group most of whose members never share an IP with another member does
    # not live under one roof, however small; two personas of a proxy pool drawing the same
    # residential exit once must not make the pool a family.
    under_one_roof = ids.shares_ip & (ip_coverage >= HOME_MIN_COVERAGE)
    household = ((size <= household_max) & one_country & under_one_roof & clean).astype(np.float64)
    # The same shape whatever the bans: the calibrated model must not see labels in features.
    shape = (links.hard == 0) & (grown_without_own < 0.5) & (young_share < 0.5)
    shape &= (deviceless_adults < 2) & ~shared_mailbox & ~one_birthdate & (emulated == 0)
    household_shape = ((size <= household_max) & one_country & under_one_roof & shape).astype(
        np.float64
    )
    if judge_cores:
        # Households with acquaintances: all the ring's strong sharing (the card, the tablet,
        # the phone) lies inside household-shaped cores, one per family, and everyone else is
        # attached by where they meet (one member's office, a network), with no coordination,
        # rotation or registration burst anywhere in the ring. A family with a member's
        # colleagues is still a family, and so are two families whose parents work together;
        # a farm fails the cores' own tests (its personas lack devices of their own, share
        # one birthdate) or shows the coordination.
        cores, core_of = _strong_cores(g, all_links, identifier_cols)
        if cores:
            core = ring_features(
                snapshot,
                cores,
                identifier_cols=identifier_cols,
                soft=soft,
                look_alike=look_alike,
                networks=networks,
                rotating=rotating,
                bursts=bursts,
                runs=runs,
                weights=weights,
                evader_rows=evader_rows,
                evader_continues=evader_continues,
                burst_window=burst_window,
                slow_window=slow_window,
                household_max=household_max,
                guardian_age=guardian_age,
                min_age=min_age,
                young=young,
                place_max_degree=place_max_degree,
                embedded_min_friends=embedded_min_friends,
                judge_cores=False,
            )
            quiet = (links.hard == 0) & (rotation == 0) & (rotating_peers == 0)
            quiet &= links.bursts == 0
            # Every piece must be a household: several families joined where their members
            # meet (an office, a school run) are still families.
            with_guests = _all_of(core_of, core["household"], g.count)
            household = np.maximum(household, with_guests * (quiet & clean))
            guests_shape = _all_of(core_of, core["household_shape"], g.count)
            household_shape = np.maximum(household_shape, guests_shape * (quiet & shape))
    # Inside a household-shaped group a run is the family contract, not a bought range.
    run_coverage = np.where(household > 0, 0.0, links.runs)
    behaviour_coverage = np.maximum(links.behaviour, run_coverage)
    # Hardware and payment instruments live somewhere; one person's mailbox does not, so a
    # shared email says nothing about where the group meets.
    placeless = (ids.shares_hardware & ~shares_place).astype(np.float64)
    embedded = _outside_friends(snapshot, g.ring_of) >= embedded_min_friends
    social_embedding = g.total(embedded[g.inside].astype(np.float64)) / size
    return {
        "size": size,
        "density": links.density,
        "strong_coverage": ids.strong_coverage,
        "strong_kinds": ids.strong_kinds,
        "identifier_reuse": ids.n_strong / size,
        "burst": burst,
        "banned_share": banned_share,
        "age_spread": _age_spread(g),
        "country_diversity": country_diversity,
        "behaviour_coverage": behaviour_coverage,
        "evader_share": evader_share,
        "weak_only": weak_only_f,
        "slow_growth": slow_growth,
        "household": household,
        "shared_cards": ids.shared_cards,
        "placeless": placeless,
        # A phone run is acting together too, but it does not by itself void the household
        # clearance: a family on one contract may register on one evening from home.
        "coordination": np.maximum(links.hard, run_coverage),
        "rotation": rotation,
        "young_share": young_share,
        "no_own_device": no_own_device,
        "rotating_peers": rotating_peers,
        "subnet_burst": links.bursts,
        "household_shape": household_shape,
        "social_embedding": social_embedding,
        "one_birthdate": one_birthdate.astype(np.float64),
        "shared_mailbox": shared_mailbox.astype(np.float64),
        "emulated": emulated,
    }


@dataclass(frozen=True)
class _Groups:
    """The rings as row sets of one snapshot: who is in which, and per-ring sums over them."""

    snapshot: Snapshot
    ring_of: np.ndarray  # per account: its ring, or -1
    inside: np.ndarray  # rows of the accounts in some ring
    ring_inside: np.ndarray  # ring_of[inside]
    size: np.ndarray  # members per ring (float)
    member: sp.csr_matrix  # rings x accounts

    @classmethod
    def of(cls, snapshot: Snapshot, rings: list[np.ndarray]) -> _Groups:
        n, r_count = snapshot.n_accounts, len(rings)
        ring_of = _ring_index(n, rings)
        size = np.array([r.shape[0] for r in rings], dtype=np.float64)
        inside = np.flatnonzero(ring_of >= 0)
        member = sp.csr_matrix(
            (np.ones(inside.shape[0]), (ring_of[inside], inside)), shape=(r_count, n)
        )
        return cls(snapshot, ring_of, inside, ring_of[inside], size, member)

    @property
    def count(self) -> int:
        return int(self.size.shape[0])

    def total(self, values: np.ndarray) -> np.ndarray:
        """Per ring, the sum of `values` (one per member row, in `inside` order)."""
        return np.bincount(self.ring_inside, values, self.count)

    def internal(self, mat: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Per ring: the links of `mat` between two of its members, and the share of its
        members with at least one."""
        ring_of, r_count = self.ring_of, self.count
        c = sp.triu(mat, k=1).tocoo()
        same = (ring_of[c.row] >= 0) & (ring_of[c.row] == ring_of[c.col])
        edges = np.bincount(ring_of[c.row[same]], minlength=r_count).astype(np.float64)
        touched = np.zeros(self.snapshot.n_accounts, bool)
        touched[c.row[same]] = True
        touched[c.col[same]] = True
        return edges, self.total(touched[self.inside]) / self.size


@dataclass(frozen=True)
class _Shared:
    """What the members share among the evidence columns, per ring."""

    strong_coverage: np.ndarray
    n_strong: np.ndarray  # strong identifiers shared by two members or more
    strong_kinds: np.ndarray
    shares_ip: np.ndarray
    shared_cards: np.ndarray
    shares_hardware: np.ndarray  # a shared strong identifier that is not an email


def _identifier_sharing(
    g: _Groups, all_links: sp.csc_matrix, identifier_cols: np.ndarray
) -> _Shared:
    snapshot, r_count = g.snapshot, g.count
    bip = all_links[:, identifier_cols].tocsr()
    per_ring = (g.member @ bip).tocsr()  # rings x identifiers: members using it
    kinds = snapshot.identifier_kind[identifier_cols].astype(np.int64)
    is_strong = np.isin(kinds, STRONG_CODES)
    strong_coverage = _shared_coverage(bip, per_ring, g.ring_of, is_strong, g.size)
    pr = per_ring.tocoo()
    shared = pr.data >= 2
    strong_shared = shared & is_strong[pr.col]
    n_strong = np.bincount(pr.row[strong_shared], minlength=r_count)
    kind_pairs = np.unique(pr.row[strong_shared] * 16 + kinds[pr.col[strong_shared]])
    strong_kinds = np.bincount(kind_pairs // 16, minlength=r_count).astype(np.float64)
    ip_code = KIND_CODE["ip"]
    shares_ip = np.bincount(pr.row[shared & (kinds[pr.col] == ip_code)], minlength=r_count) > 0
    card_code = KIND_CODE["card"]
    shared_cards = np.bincount(
        pr.row[shared & (kinds[pr.col] == card_code)], minlength=r_count
    ).astype(np.float64)
    email_code = KIND_CODE["email"]
    hardware = strong_shared & (kinds[pr.col] != email_code)
    shares_hardware = np.bincount(pr.row[hardware], minlength=r_count) > 0
    return _Shared(
        strong_coverage, n_strong, strong_kinds, shares_ip, shared_cards, shares_hardware
    )


def _strong_cores(
    g: _Groups, all_links: sp.csc_matrix, identifier_cols: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """The rings' strong cores: per ring, the pieces of members held together by strong
    identifiers (among the evidence columns) shared inside the ring, each household's own
    tablet, card or phone. Returned for rings with guests around their pieces (members in no
    piece) or with two or more pieces, with the index of the ring each piece belongs to."""
    snapshot = g.snapshot
    cols = identifier_cols[np.isin(snapshot.identifier_kind[identifier_cols], STRONG_CODES)]
    bip = all_links[:, cols].tocsr()
    per_ring = (g.member @ bip).tocsr()
    per_ring.data = (per_ring.data >= 2).astype(np.float64)
    per_ring.eliminate_zeros()
    inside = g.inside
    uses = bip[inside].multiply(per_ring[g.ring_inside]).tocsr()
    in_core = np.diff(uses.indptr) > 0
    if not in_core.any():
        return [], np.zeros(0, np.int64)
    rows, ring = inside[in_core], g.ring_inside[in_core]
    # Pieces: members joined by an identifier they share, within their own ring (the same
    # identifier may also be shared inside another ring).
    together = (uses[in_core] @ uses[in_core].T).tocoo()
    same = ring[together.row] == ring[together.col]
    count = rows.shape[0]
    adjacency = sp.coo_matrix(
        (np.ones(int(same.sum())), (together.row[same], together.col[same])), shape=(count, count)
    )
    _, piece = connected_components(adjacency, directed=False)
    pieces = np.unique(np.column_stack([ring, piece]), axis=0)
    per_ring_pieces = np.bincount(pieces[:, 0], minlength=g.count)
    core_size = np.bincount(ring, minlength=g.count)
    wanted = (core_size >= 2) & ((core_size < g.size) | (per_ring_pieces >= 2))
    order = np.lexsort((rows, piece, ring))
    rows, ring, piece = rows[order], ring[order], piece[order]
    starts = np.flatnonzero(np.r_[True, (ring[1:] != ring[:-1]) | (piece[1:] != piece[:-1])])
    ends = np.r_[starts[1:], rows.shape[0]]
    keep = [(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    keep = [(a, b) for a, b in keep if b - a >= 2 and wanted[ring[a]]]
    return [rows[a:b] for a, b in keep], np.array([ring[a] for a, _ in keep], np.int64)


def _all_of(ring: np.ndarray, value: np.ndarray, count: int) -> np.ndarray:
    """Per ring, the least `value` of its pieces (`ring`: each piece's ring); 0 without any."""
    least = np.zeros(count)
    least[ring] = 1.0
    np.minimum.at(least, ring, value)
    return least


def _place_sharing(
    g: _Groups, all_links: sp.csc_matrix, place_max_degree: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per ring: the share of members sharing an IP with another member, and whether any two
    meet on a place.

    Places: IPs and subnets used by at most `place_max_degree` accounts. Rarer than a carrier
    NAT, but including an office's or a campus's network, which the evidence columns leave out
    for being common: a group meeting on one is meeting somewhere."""
    snapshot = g.snapshot
    link_degree = identifier_degree(snapshot)
    place_kind = np.isin(snapshot.identifier_kind, [KIND_CODE["ip"], KIND_CODE["subnet"]])
    place_cols = np.flatnonzero(place_kind & (link_degree >= 2) & (link_degree <= place_max_degree))
    place_bip = all_links[:, place_cols].tocsr()
    place_per_ring = (g.member @ place_bip).tocsr()
    place_is_ip = snapshot.identifier_kind[place_cols] == KIND_CODE["ip"]
    ip_coverage = _shared_coverage(place_bip, place_per_ring, g.ring_of, place_is_ip, g.size)
    ppr = place_per_ring.tocoo()
    shares_place = np.bincount(ppr.row[ppr.data >= 2], minlength=g.count) > 0
    return ip_coverage, shares_place


@dataclass(frozen=True)
class _Coverage:
    """Per ring, from the link matrices: density of the weighted graph and the share of
    members with a link of each kind to another member."""

    density: np.ndarray
    hard: np.ndarray  # coordination (lockstep, invites)
    behaviour: np.ndarray  # coordination, or half the look-alike share if higher
    runs: np.ndarray
    networks: np.ndarray
    peers: np.ndarray
    bursts: np.ndarray


def _link_coverage(
    g: _Groups,
    weights: sp.csr_matrix,
    soft: sp.csr_matrix,
    *,
    look_alike: sp.csr_matrix | None,
    networks: sp.csr_matrix | None,
    rotating: sp.csr_matrix | None,
    bursts: sp.csr_matrix | None,
    runs: sp.csr_matrix | None,
) -> _Coverage:
    r_count, size = g.count, g.size
    edges, _ = g.internal(weights)
    _, hard_coverage = g.internal(soft)
    run_coverage = np.zeros(r_count)
    if runs is not None:
        _, run_coverage = g.internal(runs)
    behaviour_coverage = hard_coverage
    network_coverage = np.zeros(r_count)
    if networks is not None:
        _, network_coverage = g.internal(networks)
    peer_coverage = np.zeros(r_count)
    burst_coverage = np.zeros(r_count)
    if bursts is not None:
        _, burst_coverage = g.internal(bursts)
    if rotating is not None:
        _, peer_coverage = g.internal(rotating)
    if look_alike is not None:
        # Look-alike emails count half: strangers with popular names write them too.
        _, look_coverage = g.internal(look_alike)
        behaviour_coverage = np.maximum(behaviour_coverage, 0.5 * look_coverage)
    density = edges / np.maximum(size * (size - 1) / 2, 1)
    return _Coverage(
        density,
        hard_coverage,
        behaviour_coverage,
        run_coverage,
        network_coverage,
        peer_coverage,
        burst_coverage,
    )


def _runs_away_from_own_places(
    g: _Groups, all_links: sp.csc_matrix, runs: sp.csr_matrix
) -> sp.csr_matrix:
    """`runs` without the pairs that share an IP of the group's own: one that at least half
    of its accounts, and at least two, use from inside the group (a family's Wi-Fi, an
    office's line). Numbers in sequence at such a place are a family's contract or a
    company's phones, whatever else the group around them looks like (a family joined to
    colleagues by the office network is still a family). A bought range rides carrier NAT,
    whose thousands of strangers the operation never outnumbers."""
    snapshot = g.snapshot
    if runs.nnz == 0:
        return runs
    ip_cols = np.flatnonzero(snapshot.identifier_kind == KIND_CODE["ip"])
    ips = all_links[:, ip_cols]
    degree = identifier_degree(snapshot)[ip_cols]
    ips = ips.tocsr()
    per_ring = (g.member @ ips).tocoo()  # rings x IPs: members using it
    own = per_ring.data >= np.maximum(2, 0.5 * degree[per_ring.col])
    own_place = sp.csr_matrix(
        (np.ones(int(own.sum())), (per_ring.row[own], per_ring.col[own])), shape=per_ring.shape
    )
    # Each member's IPs that are its own group's places, then pairs sharing one.
    at = ips.tocoo()
    ring = g.ring_of[at.row]
    keep = np.zeros(at.nnz, bool)
    inside = np.flatnonzero(ring >= 0)
    if inside.shape[0]:
        keep[inside] = np.asarray(own_place[ring[inside], at.col[inside]]).ravel() > 0
    mine = sp.csr_matrix((np.ones(int(keep.sum())), (at.row[keep], at.col[keep])), shape=ips.shape)
    together = (mine @ mine.T).tocsr()
    return (runs - runs.multiply(together > 0)).tocsr()


def _signup_timing(
    g: _Groups, burst_window: int, slow_window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per ring: the share of members created within `burst_window` of the ring's median
    creation time, and the share created more than `slow_window` from it."""
    created, inside, ring_inside, size = g.snapshot.created_at, g.inside, g.ring_inside, g.size
    order = np.lexsort((created[inside], ring_inside))
    sorted_rows = inside[order]
    starts = np.searchsorted(ring_inside[order], np.arange(g.count))
    median = created[sorted_rows[starts + (size.astype(np.int64) - 1) // 2]]
    near = np.abs(created[inside] - median[ring_inside]) <= burst_window
    far = np.abs(created[inside] - median[ring_inside]) > slow_window
    return g.total(near) / size, g.total(far) / size


def _offenders(
    g: _Groups, evader_rows: np.ndarray, evader_continues: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ring: the banned share, the evader share, and the offenders counted once each
    (banned members plus evaders that do not continue a member)."""
    ring_of, inside, size = g.ring_of, g.inside, g.size
    banned = g.snapshot.banned_at[inside] != NOT_BANNED
    banned_share = g.total(banned) / size
    is_evader = np.zeros(g.snapshot.n_accounts, bool)
    is_evader[evader_rows] = True
    # An evader continuing a banned member of its own group is the same person as that
    # member: counted once among the group's offenders.
    outside = np.ones(g.snapshot.n_accounts, bool)
    if evader_continues is not None:
        continued = evader_continues[evader_rows]
        same = (continued >= 0) & (ring_of[evader_rows] >= 0)
        same &= ring_of[np.maximum(continued, 0)] == ring_of[evader_rows]
        outside[evader_rows[same]] = False
    evader_share = g.total(is_evader[inside]) / size
    banned_count = banned_share * size
    evader_count = g.total((is_evader & outside)[inside])
    return banned_share, evader_share, banned_count + evader_count


def _age_spread(g: _Groups) -> np.ndarray:
    """Per ring: the spread of declared birth years (std / 15 years, capped at 1)."""
    years = np.array(
        [
            int(b[:4]) if len(b) >= 4 and b[:4].isdigit() else -1
            for b in g.snapshot.birthdate[g.inside]
        ],
        dtype=np.float64,
    )
    known = years > 0
    k = g.total(known)
    s1 = g.total(np.where(known, years, 0))
    s2 = g.total(np.where(known, years**2, 0))
    mean = s1 / np.maximum(k, 1)
    std = np.sqrt(np.maximum(s2 / np.maximum(k, 1) - mean**2, 0))
    return np.where(k >= 2, np.minimum(std / 15.0, 1.0), 0.0)


def _one_birthdate(g: _Groups) -> np.ndarray:
    """Per ring: whether at least `ONE_HAND_BIRTHDATES` members, and at least half of them,
    declare one same birthdate. Half, because in a crowd of hundreds born in the same few
    years (a campus cohort) some three share a birthday by chance.

    >>> from ringwatch.detectors.snapshot import SnapshotBuilder
    >>> b = SnapshotBuilder()
    >>> for a, day in [("a", "1993-02-27"), ("b", "1993-02-27"), ("c", "1993-02-27"),
    ...                ("d", "1990-05-01"), ("e", "1990-05-01"), ("f", "1961-03-09"),
    ...                ("g", None), ("h", None), ("i", None)]:
    ...     b.add_account(a, {"created_at": 1, "birthdate": day})
    >>> s = b.build()
    >>> groups = [np.array([0, 1, 2]), np.array([3, 4, 5]), np.array([6, 7, 8])]
    >>> _one_birthdate(_Groups.of(s, groups)).tolist()  # twins are two; unknown is no date
    [True, False, False]
    """
    born = np.asarray(g.snapshot.birthdate[g.inside], dtype=object).astype(str)
    # YYYY-MM-DD only, as age.birth_days reads them: a missing value is never a shared one.
    top = _most_alike(g, born, np.char.str_len(born) == 10)
    return np.asarray((top >= ONE_HAND_BIRTHDATES) & (top >= 0.5 * g.size), dtype=bool)


def _countries(g: _Groups) -> tuple[np.ndarray, np.ndarray]:
    """Per ring: how many countries beyond the first its members claim (as a share), and
    whether 60% of them claim the most common one."""
    ring_inside, size, r_count = g.ring_inside, g.size, g.count
    country = g.snapshot.country[g.inside].astype(str)
    codes = np.unique(country, return_inverse=True)[1]
    has = country != ""
    pairs = np.unique(ring_inside[has] * (codes.max() + 1 if codes.size else 1) + codes[has])
    distinct = np.bincount(pairs // (codes.max() + 1 if codes.size else 1), minlength=r_count)
    country_diversity = np.where(size > 1, (distinct - 1) / np.maximum(size - 1, 1), 0.0)
    # The most common country's share: households are mostly one country, but a relative
    # registered abroad (an expat, a foreign spouse) is common enough not to clear the doubt.
    return country_diversity, _most_alike(g, country, has) >= 0.6 * size


def _most_alike(g: _Groups, values: np.ndarray, has: np.ndarray) -> np.ndarray:
    """Per ring, the most members with one same value (`values` and `has`, whether a member
    has one at all, per member row in `inside` order)."""
    top = np.zeros(g.count)
    if not has.any():
        return top
    codes = np.unique(values[has], return_inverse=True)[1].astype(np.int64)
    base = int(codes.max()) + 1
    pairs, counts = np.unique(
        g.ring_inside[has].astype(np.int64) * base + codes, return_counts=True
    )
    np.maximum.at(top, pairs // base, counts.astype(np.float64))
    return top


def _no_own_device(
    g: _Groups, all_links: sp.csc_matrix, age: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ring: the share of members with a device who use no device of their own, the same
    share among members not declared minors (under 18), and how many members declared adult
    live only on devices other accounts use. `age`: `declared_age` per account row."""
    snapshot = g.snapshot
    device_cols = np.flatnonzero(snapshot.identifier_kind == KIND_CODE["device"])
    devices = all_links[:, device_cols].tocsc()
    own_cols = np.diff(devices.indptr) == 1
    devices = devices.tocsr()
    has_device = np.diff(devices.indptr) > 0
    has_own = np.asarray(devices[:, own_cols].sum(axis=1)).ravel() > 0
    with_device = g.total(has_device[g.inside])
    without_own = g.total((has_device & ~has_own)[g.inside])
    adult = np.nan_to_num(age, nan=0.0) >= 18
    deviceless_adults = g.total((has_device & ~has_own & adult)[g.inside])
    grown = _not_declared_minor(age)
    grown_with = g.total((has_device & grown)[g.inside])
    grown_without = g.total((has_device & ~has_own & grown)[g.inside])
    return (
        np.asarray(without_own / np.maximum(with_device, 1)),
        np.asarray(grown_without / np.maximum(grown_with, 1)),
        deviceless_adults,
    )


def _not_declared_minor(age: np.ndarray) -> np.ndarray:
    """Per account: no declared age under 18 (an unknown age counts as not a minor)."""
    return np.asarray(~(np.nan_to_num(age, nan=99.0) < 18))


def _shared_mailbox(g: _Groups, all_links: sp.csc_matrix, age: np.ndarray) -> np.ndarray:
    """Per ring, the most members not declared minors (under 18; `age`: `declared_age` per
    account row) that use one and the same email address."""
    snapshot = g.snapshot
    email_cols = np.flatnonzero(snapshot.identifier_kind == KIND_CODE["email"])
    out = np.zeros(g.count)
    if email_cols.size == 0:
        return out
    grown = _not_declared_minor(age)
    rows = g.inside[grown[g.inside]]
    links = all_links[:, email_cols].tocsr()[rows].tocoo()
    if links.nnz == 0:
        return out
    pair = g.ring_of[rows[links.row]].astype(np.int64) * email_cols.size + links.col
    pairs, users = np.unique(pair, return_counts=True)
    np.maximum.at(out, pairs // email_cols.size, users.astype(np.float64))
    return out


def _young_share(
    g: _Groups, young: np.ndarray, age: np.ndarray, guardian_age: float, household_max: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per ring: the share of age-suspect members, and whether they are a family's children.

    A household has grown-ups: a group of mostly age-suspect members is a cohort, unless a
    parents' generation is there with them: children on the family tablet, with the grown-ups
    of their home, are a family. A classroom or a club has few grown-up members (children
    passing an 18+ gate claim 18, not 30), and a farm's fake profiles would need to fake a
    whole family's age structure on top of everything else."""
    inside, size = g.inside, g.size
    # Where two members' declared ages give children away, those declaring a minor's age
    # count as children too (behaviour.young_cohorts: classmates do not all lie alike). One
    # such child among declared teens is a family's youngest with its siblings as often as
    # a class: 1.5% of the flagged rings of two hold-out worlds were such siblings.
    minor = np.nan_to_num(age[inside], nan=ADULT_AGE) < ADULT_AGE
    suspects = g.total(young[inside])
    young_share = np.where(suspects >= 2, g.total(young[inside] | minor), suspects) / size
    grown = np.nan_to_num(age[inside], nan=0.0) >= guardian_age
    guardians = g.total(grown & ~young[inside])
    # At least one grown-up per two children: a teacher alone with a class is a cohort.
    family_children = (guardians >= 1) & (2 * guardians >= young_share * size)
    family_children &= size <= household_max
    return young_share, family_children


def _outside_friends(snapshot: Snapshot, ring_of: np.ndarray) -> np.ndarray:
    """Per account, how many distinct friends it has outside its own group (all its friends
    when it is in none). Friendship is mutual, so each pair counts once whatever the
    direction or how often it was sent."""
    rel = snapshot.relations
    n = snapshot.n_accounts
    if rel.shape[0] == 0:
        return np.zeros(n, dtype=np.int64)
    friend = rel[rel[:, 2] == RELATION_KINDS.index("friend")]
    lo, hi = np.minimum(friend[:, 0], friend[:, 1]), np.maximum(friend[:, 0], friend[:, 1])
    pair = np.unique(lo[lo != hi] * n + hi[lo != hi])
    a, b = pair // n, pair % n
    apart = (ring_of[a] < 0) | (ring_of[a] != ring_of[b])
    return np.bincount(a[apart], minlength=n) + np.bincount(b[apart], minlength=n)


def _emulated(g: _Groups, all_links: sp.csc_matrix) -> np.ndarray:
    """Per ring, the share of members who share an emulator instance (an `emulator` link: one
    emulator image on one device) with another member, 0 below `EMULATED_MIN_SHARE` or two
    members. Each member's own emulator (a desktop player on their computer) is not shared."""
    cols = np.flatnonzero(g.snapshot.kind_mask(IdentifierKind.EMULATOR))
    if cols.shape[0] == 0:
        return np.zeros(g.count)
    on_emulator = all_links[:, cols].tocsr()
    per_ring = (g.member @ on_emulator).tocsr()
    share = _shared_coverage(
        on_emulator, per_ring, g.ring_of, np.ones(cols.shape[0], bool), g.size
    )
    return np.where((share * g.size >= 2) & (share >= EMULATED_MIN_SHARE), share, 0.0)


def _shared_coverage(
    links: sp.csr_matrix,
    per_ring: sp.csr_matrix,
    ring_of: np.ndarray,
    column_mask: np.ndarray,
    size: np.ndarray,
) -> np.ndarray:
    """Per ring, the share of members sharing one of the masked columns with another member.

    `links`: accounts x columns (binary); `per_ring`: rings x the same columns, members using
    each (member-matrix @ links)."""
    coo = links.tocoo()
    rr = ring_of[coo.row]
    ok = (rr >= 0) & column_mask[coo.col]
    # Fancy-indexing a sparse matrix with empty arrays gives a (1, 0) matrix, not an array.
    count = np.asarray(per_ring[rr[ok], coo.col[ok]]).ravel() if ok.any() else np.zeros(0)
    covered = np.zeros(ring_of.shape[0], bool)
    covered[coo.row[ok][count >= 2]] = True
    inside = ring_of >= 0
    return np.asarray(np.bincount(ring_of[inside], covered[inside], size.shape[0]) / size)


_LINEAR = (
    "strong_coverage",
    "burst",
    "banned_share",
    "behaviour_coverage",
    "evader_share",
    "age_spread",
    "country_diversity",
    "slow_growth",
    "household",
    "weak_only",
    "placeless",
    "coordination",
    "rotation",
    "rotating_peers",
    "subnet_burst",
    "no_own_device",
    "social_embedding",
    "one_birthdate",
    "shared_mailbox",
    "emulated",
)


def score_rings(
    features: dict[str, np.ndarray], params: VerdictParams = VerdictParams()
) -> np.ndarray:
    """Logistic score in [0, 1] per ring.

    >>> f = {k: np.zeros(1) for k in FEATURES}
    >>> f["size"] = np.array([4.0]); f["strong_coverage"] = np.array([1.0])
    >>> f["strong_kinds"] = np.array([1.0]); f["slow_growth"] = np.array([0.75])
    >>> float(score_rings(f)[0]) < 0.4  # a family: few, strong links, different ages
    True
    """
    missing = set(FEATURES) - set(features)
    if missing:
        raise ValueError(f"missing features {sorted(missing)}")
    f = features
    log_size = np.clip(np.log2(np.maximum(f["size"], 1) / 6.0), -1.0, params.max_log_size)
    z = params.bias + params.log_size * log_size
    # Features that enter the score as coefficient x value (the coefficient is the
    # VerdictParams field of the same name).
    for name in _LINEAR:
        z = z + getattr(params, name) * f[name]
    z = z + params.strong_kinds * np.maximum(f["strong_kinds"] - 1, 0)
    z = z + params.shared_cards * np.where(
        f["shared_cards"] >= 0.5 * f["size"],
        np.clip(f["shared_cards"] - 1, 0, params.max_shared_cards),
        0.0,
    )
    z = z + params.young_share * np.where(
        f["young_share"] >= params.young_min_share, f["young_share"], 0.0
    )
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def verdict_of(score: float, params: VerdictParams = VerdictParams()) -> str:
    if not 0.0 <= score <= 1.0:
        raise ValueError("score must be in [0, 1]")
    if score >= params.fraud_threshold:
        return FRAUD
    return SUSPICIOUS if score >= params.suspicious_threshold else BENIGN


def ring_evidence(
    snapshot: Snapshot,
    rings: list[np.ndarray],
    features: dict[str, np.ndarray],
    *,
    identifier_cols: np.ndarray,
    soft_kinds: dict[str, sp.csr_matrix],
    max_identifiers: int = 20,
) -> list[dict[str, Any]]:
    """Per ring, what a reviewer needs to check the verdict: the shared identifiers (kind,
    hashed key, how many members use it; strong kinds first), the creation window, the banned
    members, the link types present (identifier kinds and behaviour signals) and the features.

    Sparse products do the counting for all rings at once; the loop only formats.
    """
    n, r_count = snapshot.n_accounts, len(rings)
    ring_of = _ring_index(n, rings)
    inside = np.flatnonzero(ring_of >= 0)
    member = sp.csr_matrix(
        (np.ones(inside.shape[0]), (ring_of[inside], inside)), shape=(r_count, n)
    )
    per_ring = (member @ binary_links(snapshot)[:, identifier_cols].tocsr()).tocsr()
    per_ring.data[per_ring.data < 2] = 0
    per_ring.eliminate_zeros()
    per_ring.sort_indices()
    kinds = snapshot.identifier_kind[identifier_cols].astype(np.int64)
    strong = np.isin(kinds, STRONG_CODES)
    keys = snapshot.identifiers[identifier_cols]
    soft_counts: dict[str, np.ndarray] = {}
    for name, mat in soft_kinds.items():
        c = sp.triu(mat, k=1).tocoo()
        same = (ring_of[c.row] >= 0) & (ring_of[c.row] == ring_of[c.col])
        soft_counts[name] = np.bincount(ring_of[c.row[same]], minlength=r_count)
    banned_mask = snapshot.banned_at != NOT_BANNED
    out = []
    for r, rows in enumerate(rings):
        lo, hi = per_ring.indptr[r], per_ring.indptr[r + 1]
        cols = per_ring.indices[lo:hi]
        counts = per_ring.data[lo:hi].astype(np.int64)
        order = np.lexsort((keys[cols].astype(str), -counts, ~strong[cols]))
        idents = [
            {
                "kind": KINDS[int(kinds[cols[i]])].value,
                "key": str(keys[cols[i]]),
                "members": int(counts[i]),
            }
            for i in order[:max_identifiers].tolist()
        ]
        kind_count = np.bincount(kinds[cols], minlength=len(KINDS))
        link_types = {KINDS[k].value: int(kind_count[k]) for k in np.flatnonzero(kind_count)}
        for name, cnt in soft_counts.items():
            if cnt[r]:
                link_types[name] = int(cnt[r])
        created = np.sort(snapshot.created_at[rows])
        m = created.shape[0]
        out.append(
            {
                "shared_identifiers": idents,
                "link_types": dict(sorted(link_types.items())),
                "created_window": {
                    "first": int(created[0]),
                    "last": int(created[-1]),
                    "p10": int(created[(m - 1) // 10]),
                    "p90": int(created[(m - 1) * 9 // 10]),
                },
                "banned_members": sorted(
                    str(a) for a in snapshot.accounts[rows[banned_mask[rows]]]
                ),
                "features": {k: round(float(v[r]), 4) for k, v in sorted(features.items())},
            }
        )
    return out

"""Soft links from coordinated behaviour: weighted account pairs that join the projection.

Every signal is found by bucketing (never all pairs) and buckets are capped, because a bucket of
k accounts yields k(k-1)/2 pairs and a huge bucket is a popular thing, not a coordinated one.

- *Signup bursts*: several signups from one /24 (or /48) subnet within a short window, more
  than that subnet's own background rate explains, raised during a platform-wide surge of
  signups (a launch or a campaign crowds every carrier NAT at once). Residential-proxy farms
  rotate IPs but not subnets, and scripts register in batches. On a hub's subnet (carrier
  NAT, a hotspot) a member who goes home afterwards, to an address of its own, is one of the
  crowd and is not linked: a farm's personas have no home outside its infrastructure.
- *Templated email local parts*: accounts created within the same window whose email-local
  MinHash sketches agree (`user1234`, `user1235`...), found by LSH banding inside the window.
- *Lockstep engagement*: accounts acting on the same target within minutes of each other, on at
  least `min_lockstep_targets` different targets (one shared viral post proves nothing), and on
  targets rare enough that chance does not explain the pair: among a million active accounts,
  every popular post gathers strangers by the thousand in each busy twenty minutes, and some
  of them meet again on the next popular post; a farm meets on its customers' obscure ones.
- *Invites*: invite relations, weak on their own but the backbone of referral-abuse chains.
  An invite from an account that is itself less than `fast_invite_window` old is a fresh
  account recruiting fresh accounts: people invite friends after using a service for a while,
  referral farms chain new accounts hour after hour. Those weigh like a shared device.
- *Shared networks*: account pairs seen on two or more of the same non-hub /24 (or /48)
  subnets. One shared subnet is what neighbours on one ISP block have; two distinct ones mean
  the accounts move between the same networks together: a household's home and holiday
  networks, or an operator's residential-proxy pool, which rotates IPs inside a few blocks but
  cannot rotate the blocks. The verdict tells these apart (a household shares one home IP; a
  proxy pool gives every session a fresh one).
- *Rotating peers*: accounts that each came through several single-use IPs nobody else used
  (a residential-proxy exit per session) and that share a non-hub subnet. Home users keep an
  address for weeks, mobile users share carrier NAT addresses with many others; an operator
  rotating through a proxy pool leaves a trail of one-off addresses in the same few blocks.
- *Young cohorts*: age-suspect accounts (detectors.age) on the same non-hub IP: a school's or
  a club's children, who share the building's network and not much else.
- *Device rooms*: accounts that live only on devices other accounts also use, on one IP where
  they are the majority and spread over several such devices. People carry a phone nobody
  else logs into; a farm's personas take turns on a rack of cheap phones in one rented room,
  two or three to a phone, so the device links fall apart into pairs that no community
  method can join at a shared IP's weak weight. A family's tablet is one device, its
  grown-ups have their own phones; a café's guests bring theirs.

Phone-number blocks (SIM farms buy runs of consecutive numbers) are identifiers of their own
(`phone_block`: a keyed hash of the number without its last two digits, see records.normalise):
they weigh in the projection like a rare weak identifier and join the pieces of a farm that
CPM splits per modem (pipeline: merge by shared infrastructure).

- *Phone runs*: a fixed block splits a bought range (150 numbers straddle two blocks of 100),
  so each number also links to two overlapping keyed windows (`phone_run`, identity.
  phone_runs). Accounts registered in one session inside one window, too many for that
  window's own rate, are linked with a weight growing with the run's improbability. This is
  what ties a SIM farm whose every account has a fresh device and comes through carrier NAT.
- *Email-stem runs*: mailboxes minted from one stem plus a counter at one provider, opened in
  one session, too many for the stem's frequency (detectors.email_stems), alone or together
  with a phone window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.stats import binom, poisson

from ringwatch.detectors._common import (
    binary_links,
    check_snapshot,
    group_pairs,
    identifier_degree,
    symmetric_from_pairs,
)
from ringwatch.detectors.age import ADULT_AGE, age_suspect, declared_age
from ringwatch.detectors.email_stems import StemParams, stem_runs
from ringwatch.detectors.snapshot import KIND_CODE, RELATION_KINDS, Snapshot


@dataclass(frozen=True)
class BehaviourParams:
    """Windows in seconds; weights are in units of one shared strong identifier (1.0)."""

    burst_gap: int = 3600  # a subnet's signups closer than this belong to one session
    burst_min: int = 3  # accounts in a session to call it a burst
    burst_alpha: float = 1e-3  # chance of such a session anywhere in the subnet's history
    burst_cap: int = 500  # larger sessions are not pairwise-linked (quadratic)
    burst_weight: float = 0.6
    burst_max_background: float = 1.0
    burst_pseudo_signups: float = 1.0  # a subnet's unseen ordinary life, in a surge's share
    # On a subnet of more accounts (a hub), a burst member with a home of its own (an IP of
    # at most burst_home_max_degree accounts it came back to) is a bystander, not linked.
    burst_crowd_degree: int = 200
    burst_home_max_degree: int = 6
    template_window: int = 2 * 86400  # templated emails registered within two days
    template_bands: int = 8
    template_rows: int = 4
    template_min_similarity: float = 0.5
    template_cap: int = 200
    template_weight: float = 0.5
    lockstep_window: int = 1200  # twenty minutes
    lockstep_cap: int = 100
    min_lockstep_targets: int = 2
    lockstep_weight: float = 0.25  # per shared (target, window), capped at lockstep_max
    lockstep_max: float = 1.5
    # A pair's shared targets must be rarer by chance than this many partners per account
    # among everyone active (lockstep: the configuration model's chance of the set).
    lockstep_chance_partners: float = 1.0
    invite_weight: float = 0.3
    fast_invite_window: int = 2 * 86400
    fast_invite_weight: float = 1.0
    network_max_degree: int = 200  # subnets with more accounts are hubs (carrier NAT, offices)
    network_min_shared: int = 2
    network_weight: float = 0.6  # per shared subnet from the second one on, up to network_max
    network_max: float = 1.2
    rotation_min_ips: int = 2  # single-use, unshared IPs that make an account a rotator
    # Rotators may share busier blocks than ordinary co-location allows: a proxy pool's own
    # /24s fill up with its accounts, while carrier NAT users are not rotators.
    rotation_max_degree: int = 500
    rotation_weight: float = 0.5
    cohort_max_degree: int = 100  # an IP with more accounts says nothing about who knows whom
    cohort_weight: float = 0.6
    # An IP's young users must be this improbable for its account count (young_cohorts).
    cohort_alpha: float = 0.05
    # SIM-farm number runs (phone_runs): registrations in one phone window closer than
    # run_gap, at least run_min of them and too many for the window's signup rate outside
    # the session (plus run_pseudo_signups: a window seen once may well be seen again).
    run_gap: int = 36 * 3600
    run_min: int = 3
    run_pseudo_signups: float = 1.0
    run_alpha: float = 1e-4
    run_cap: int = 400
    run_weight: float = 0.6  # at the significance threshold, + run_weight_per_decade beyond
    run_weight_per_decade: float = 0.1
    run_max: float = 1.2
    # Device rooms (device_rooms): at most room_max_degree accounts on the IP, at least
    # room_min_accounts of them without a device of their own, making up room_min_share of
    # the IP's accounts, over at least room_min_devices shared devices.
    room_max_degree: int = 500
    room_min_accounts: int = 3
    room_min_share: float = 0.5
    room_min_devices: int = 2
    # A farm's phone carries a few personas; a shop's kiosk or a library PC carries hundreds.
    room_device_max_degree: int = 30
    # ... and is a room's own: at least this share of its users are on that IP.
    room_device_share: float = 0.5
    room_weight: float = 0.5
    # Email-stem runs, alone and with the phone windows (detectors.email_stems).
    stems: StemParams = field(default_factory=StemParams)


@dataclass(frozen=True)
class SoftLinks:
    """Symmetric account x account weight matrices, one per signal (zero diagonal)."""

    burst: sp.csr_matrix
    template: sp.csr_matrix
    lockstep: sp.csr_matrix
    invite: sp.csr_matrix
    networks: sp.csr_matrix
    cohort: sp.csr_matrix
    rotating: sp.csr_matrix
    phone_run: sp.csr_matrix
    email_stem: sp.csr_matrix
    room: sp.csr_matrix

    def total(self) -> sp.csr_matrix:
        return (
            self.burst
            + self.template
            + self.lockstep
            + self.invite
            + self.networks
            + self.cohort
            + self.rotating
            + self.phone_run
            + self.email_stem
            + self.room
        ).tocsr()

    def coordination(self) -> sp.csr_matrix:
        """Signals other than signup timing (which the verdict scores on its own)."""
        return (self.template + self.lockstep + self.invite + self.runs()).tocsr()

    def runs(self) -> sp.csr_matrix:
        """Identities bought or minted as a run (phone ranges, email stems): the strongest
        link of each pair."""
        return self.phone_run.maximum(self.email_stem).tocsr()

    def kinds(self) -> dict[str, sp.csr_matrix]:
        return {
            "signup_burst": self.burst,
            "email_template": self.template,
            "lockstep": self.lockstep,
            "invite": self.invite,
            "shared_networks": self.networks,
            "young_cohort": self.cohort,
            "rotating_peers": self.rotating,
            "phone_run": self.phone_run,
            "email_stem": self.email_stem,
            "device_room": self.room,
        }


def _bucket_pairs(
    key: np.ndarray, slot: np.ndarray, member: np.ndarray, lo: int, cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of members sharing (key, slot) for buckets of lo..cap members.

    Returns (left, right, the bucket's key, the bucket's size) per pair.
    """
    if key.shape[0] == 0:
        e = np.zeros(0, np.int64)
        return e, e, e, e
    order = np.lexsort((member, slot, key))
    k, s, m = key[order], slot[order], member[order]
    new = np.r_[True, (k[1:] != k[:-1]) | (s[1:] != s[:-1])]
    gid = np.cumsum(new) - 1
    size = np.bincount(gid)
    keep = (size[gid] >= lo) & (size[gid] <= cap)
    left, right = group_pairs(gid[keep], m[keep])
    bucket, _ = group_pairs(gid[keep], gid[keep])
    return left, right, k[np.flatnonzero(new)][bucket], size[bucket]


def _unique_pairs(left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    return np.unique(np.minimum(left, right) * n + np.maximum(left, right))


def signup_bursts(snapshot: Snapshot, params: BehaviourParams) -> sp.csr_matrix:
    """Pairs of accounts created in one burst from one subnet (see module doc).

    Per subnet, signups are cut into sessions wherever two consecutive signups are more than
    `burst_gap` apart; a session is a burst when it is too large for chance: the Poisson tail
    of its size, given the subnet's own signup rate over the session's duration, is below
    `burst_alpha` divided by the number of sessions the subnet could have had (a Bonferroni
    bound, so a carrier-NAT subnet with thousands of signups does not burst every day). When
    more of the platform's other signups fall in the session's window than the even rate
    gives, the subnet's own signups outside the session take that share instead
    (`_burst_background`).
    The subnet of a signup is a subnet link first seen within `burst_gap` of the account's
    creation, so later logins from a busy subnet do not count.
    """
    n = snapshot.n_accounts
    links = snapshot.link_first_seen.tocoo()
    is_subnet = snapshot.identifier_kind[links.col] == KIND_CODE["subnet"]
    rows = links.row[is_subnet].astype(np.int64)
    cols = links.col[is_subnet].astype(np.int64)
    created = snapshot.created_at[rows]
    at_signup = np.abs(links.data[is_subnet] - created) <= params.burst_gap
    rows, cols, created = rows[at_signup], cols[at_signup], created[at_signup]
    if rows.shape[0] < 2:
        return sp.csr_matrix((n, n))
    span = max(int(snapshot.created_at.max() - snapshot.created_at.min()), params.burst_gap)
    per_subnet = np.bincount(cols, minlength=snapshot.identifiers.shape[0]).astype(np.float64)
    order = np.lexsort((rows, created, cols))
    rows, cols, created = rows[order], cols[order], created[order]
    new = np.r_[True, (cols[1:] != cols[:-1]) | (np.diff(created) > params.burst_gap)]
    session = np.cumsum(new) - 1
    size = np.bincount(session)
    first = np.flatnonzero(new)
    last = np.r_[first[1:], rows.shape[0]] - 1
    duration = np.maximum(created[last] - created[first], params.burst_gap)
    subnet = cols[first]
    lam = _burst_background(
        per_subnet[subnet],
        size.astype(np.float64),
        snapshot.created_at,
        created,
        first,
        last,
        duration,
        span,
        params.burst_pseudo_signups,
    )
    trials = np.maximum(span / duration, 1.0)
    tail = poisson.sf(size - 1, lam)
    burst = (size >= params.burst_min) & (tail * trials <= params.burst_alpha)
    # On a carrier-NAT or campus subnet strangers keep arriving during any burst: when the
    # session should hold `burst_max_background` or more chance signups, its members cannot
    # be told from bystanders, and linking them all would pull the bystanders into the ring.
    burst &= lam < params.burst_max_background
    in_burst = burst[session] & (size[session] <= params.burst_cap)
    # Through a hub's address (carrier NAT, a hotspot) a crowd's members go home afterwards,
    # each to an address of their own; an operation's personas live on its infrastructure.
    crowd = identifier_degree(snapshot)[cols] > params.burst_crowd_degree
    in_burst &= ~(crowd & _homed_elsewhere(snapshot, rows, session, params.burst_home_max_degree))
    left, right = group_pairs(session[in_burst], rows[in_burst])
    return symmetric_from_pairs(left, right, np.full(left.shape[0], params.burst_weight), n)


def _homed_elsewhere(
    snapshot: Snapshot, rows: np.ndarray, session: np.ndarray, max_degree: int
) -> np.ndarray:
    """Per session member (account `rows[k]` in `session[k]`): it has a home of its own, an
    IP that at most `max_degree` accounts use, that it came back to (two events or more) and
    that no other member of its session uses (a farm's room is not a home elsewhere)."""
    degree = identifier_degree(snapshot)
    small = np.flatnonzero((snapshot.identifier_kind == KIND_CODE["ip"]) & (degree <= max_degree))
    used = snapshot.links_by_identifier[:, small].tocsr()[rows].tocoo()
    key = session[used.row] * small.shape[0] + used.col
    _, where, members = np.unique(key, return_inverse=True, return_counts=True)
    own = (members[where] == 1) & (used.data >= 2)
    out = np.zeros(rows.shape[0], dtype=bool)
    out[used.row[own]] = True
    return out


def _burst_background(
    per_subnet: np.ndarray,
    size: np.ndarray,
    all_created: np.ndarray,
    created: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    duration: np.ndarray,
    span: int,
    pseudo_signups: float,
) -> np.ndarray:
    """Per session, the chance signups its subnet should see in its window: its signups
    spread evenly over time, or, when more is happening, its share of everyone else's
    signups in the window. A launch, a campaign or a viral moment brings strangers to every
    busy subnet at once, so a crowd on carrier NAT then is the crowd, not a script; a quiet
    night does not make an ordinary evening's signups suspicious. The share leaves the
    session out (plus `pseudo_signups`, as `phone_runs` does): a script registering on a
    block of its own during a surge is still alone on it."""
    mid = (created[first] + created[last]) / 2.0
    everyone = np.sort(all_created)
    inside = np.searchsorted(everyone, mid + duration / 2.0, side="right") - np.searchsorted(
        everyone, mid - duration / 2.0, side="left"
    )
    others = np.maximum(inside - size, 0.0) / np.maximum(everyone.shape[0] - size, 1.0)
    outside = per_subnet - size + pseudo_signups
    background: np.ndarray = np.maximum(per_subnet * duration / span, outside * others)
    return background


def phone_runs(snapshot: Snapshot, params: BehaviourParams) -> sp.csr_matrix:
    """Pairs of accounts whose numbers fall in one phone window (identity.phone_runs) and that
    registered in one session: a range of SIM cards bought and used in one go.

    The test is the burst test of `signup_bursts`, on phone windows instead of subnets: per
    window, signups closer than `run_gap` form a session, and a session is a run when it has at
    least `run_min` accounts and the Poisson tail of its size, given the window's signup rate
    outside the session over the session's duration, times the number of sessions the window
    could have had, is below `run_alpha`. Random assignment spreads a window's few hundred
    numbers over years of signups; a family's or an office's consecutive numbers are a handful
    joining over weeks. The weight grows with how unlikely the run is (per decade below the
    threshold). Carrier NAT and fresh devices do not matter: only the numbers and the clock
    are used.

    The rate leaves the session out: counted in, a range bought and used in one go is its
    window's whole history and explains itself, so a run of three or four numbers (a small
    operator's batch) could never be surprising. `run_pseudo_signups` stands for the
    window's unseen ordinary life, so a window with nothing else in it is not taken for
    silent; a busy window (a big platform, a popular range) keeps its own high rate.
    """
    n = snapshot.n_accounts
    links = snapshot.link_first_seen.tocoo()
    is_run = snapshot.identifier_kind[links.col] == KIND_CODE["phone_run"]
    rows = links.row[is_run].astype(np.int64)
    cols = links.col[is_run].astype(np.int64)
    if rows.shape[0] < params.run_min:
        return sp.csr_matrix((n, n))
    created = snapshot.created_at[rows]
    span = max(int(snapshot.created_at.max() - snapshot.created_at.min()), params.run_gap)
    per_window = np.bincount(cols, minlength=snapshot.identifiers.shape[0]).astype(np.float64)
    order = np.lexsort((rows, created, cols))
    rows, cols, created = rows[order], cols[order], created[order]
    new = np.r_[True, (cols[1:] != cols[:-1]) | (np.diff(created) > params.run_gap)]
    session = np.cumsum(new) - 1
    size = np.bincount(session)
    first = np.flatnonzero(new)
    last = np.r_[first[1:], rows.shape[0]] - 1
    duration = np.maximum(created[last] - created[first], params.run_gap)
    outside = per_window[cols[first]] - size + params.run_pseudo_signups
    lam = outside * duration / span
    trials = np.maximum(span / duration, 1.0)
    surprise = np.maximum(poisson.sf(size - 1, lam) * trials, 1e-300)
    run = (size >= params.run_min) & (surprise <= params.run_alpha)
    weight = np.minimum(
        params.run_weight + params.run_weight_per_decade * np.log10(params.run_alpha / surprise),
        params.run_max,
    )
    in_run = run[session] & (size[session] <= params.run_cap)
    left, right = group_pairs(session[in_run], rows[in_run])
    pair_weight, _ = group_pairs(session[in_run], session[in_run])
    w = weight[pair_weight]
    if left.shape[0] == 0:
        return sp.csr_matrix((n, n))
    # Two overlapping windows may hold the same pair: keep the stronger link, not the sum.
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    key = lo * n + hi
    order = np.lexsort((-w, key))
    key, w = key[order], w[order]
    keep = np.r_[True, key[1:] != key[:-1]]
    return symmetric_from_pairs(key[keep] // n, key[keep] % n, w[keep], n)


def _band_keys(sketch: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64 bucket keys: each band's values mixed into one 64-bit key."""
    if bands * rows > sketch.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows exceed the sketch size {sketch.shape[1]}")
    s = sketch[:, : bands * rows].astype(np.uint64).reshape(sketch.shape[0], bands, rows)
    key = np.zeros((sketch.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            key = (key ^ s[:, :, r]) * np.uint64(0x100000001B3)  # FNV-style mix
        key ^= np.arange(bands, dtype=np.uint64)[None, :] * np.uint64(0x9E3779B97F4A7C15)
    return key


def sketch_similarity_rows(sketch: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of row pairs: the share of equal positions (0 if either is unknown)."""
    a, b = sketch[left], sketch[right]
    sim = (a == b).mean(axis=1)
    known = a.any(axis=1) & b.any(axis=1)
    return np.where(known, sim, 0.0)


def email_templates(snapshot: Snapshot, params: BehaviourParams) -> sp.csr_matrix:
    """Pairs created within `template_window` whose email local parts look templated."""
    n = snapshot.n_accounts
    known = np.flatnonzero(snapshot.email_sketch.any(axis=1))
    if known.shape[0] < 2:
        return sp.csr_matrix((n, n))
    keys = _band_keys(snapshot.email_sketch[known], params.template_bands, params.template_rows)
    created = snapshot.created_at[known]
    ls, rs = [], []
    for shift in (0, params.template_window // 2):
        slot = (created + shift) // params.template_window
        for band in range(params.template_bands):
            left, right, _, _ = _bucket_pairs(
                keys[:, band], slot, known.astype(np.int64), 2, params.template_cap
            )
            ls.append(left)
            rs.append(right)
    pair = _unique_pairs(np.concatenate(ls), np.concatenate(rs), n)
    left, right = pair // n, pair % n
    sim = sketch_similarity_rows(snapshot.email_sketch, left, right)
    close = np.abs(snapshot.created_at[left] - snapshot.created_at[right])
    ok = (sim >= params.template_min_similarity) & (close <= params.template_window)
    # An identical local part is the same mailbox name: the exact email identifier covers that.
    ok &= sim < 1.0
    return symmetric_from_pairs(left[ok], right[ok], params.template_weight * sim[ok], n)


def lockstep(snapshot: Snapshot, params: BehaviourParams) -> sp.csr_matrix:
    """Pairs acting on the same targets within `lockstep_window`, on several distinct targets."""
    n = snapshot.n_accounts
    eng = snapshot.engagements
    if eng.shape[0] == 0:
        return sp.csr_matrix((n, n))
    acct, target, ts = eng[:, 0], eng[:, 1], eng[:, 3]
    n_targets = max(int(snapshot.engage_targets.shape[0]), 1)
    found = []
    for shift in (0, params.lockstep_window // 2):
        slot = (ts + shift) // params.lockstep_window
        left, right, tgt, _ = _bucket_pairs(target, slot, acct, 2, params.lockstep_cap)
        pair = np.minimum(left, right) * n + np.maximum(left, right)
        found.append(pair * n_targets + tgt)
    # (pair, target) once each, whichever tiling or repeat action saw it.
    pair_target = np.unique(np.concatenate(found))
    pairs, pair_of, shared = np.unique(
        pair_target // n_targets, return_inverse=True, return_counts=True
    )
    chance = _lockstep_log_chance(
        eng, n, n_targets, pairs // n, pairs % n, pair_of, pair_target % n_targets
    )
    active = max(int(np.unique(acct).shape[0]), 1)
    rare = chance < -np.log(active / params.lockstep_chance_partners)
    ok = (shared >= params.min_lockstep_targets) & rare
    weight = np.minimum(shared[ok] * params.lockstep_weight, params.lockstep_max)
    return symmetric_from_pairs(pairs[ok] // n, pairs[ok] % n, weight, n)


def _lockstep_log_chance(
    eng: np.ndarray,
    n: int,
    n_targets: int,
    left: np.ndarray,
    right: np.ndarray,
    pair_of: np.ndarray,
    target: np.ndarray,
) -> np.ndarray:
    """Per pair: log of the chance that both accounts engage each of their shared targets,
    under the configuration model of the engagement graph (an account with d_a of |E|
    engagements reaches target t, engaged d_t times, with probability d_a d_t / |E|). The
    time window is left out, so the chance is overstated: the test errs towards no link."""
    total = float(eng.shape[0])
    by_account = np.bincount(eng[:, 0], minlength=n).astype(np.float64)
    by_target = np.bincount(eng[:, 1], minlength=n_targets).astype(np.float64)
    reach = by_target[target] / total
    p_left = np.minimum(by_account[left[pair_of]] * reach, 1.0)
    p_right = np.minimum(by_account[right[pair_of]] * reach, 1.0)
    return np.bincount(pair_of, weights=np.log(p_left) + np.log(p_right), minlength=left.shape[0])


def invites(snapshot: Snapshot, params: BehaviourParams) -> sp.csr_matrix:
    """Invite pairs: `fast_invite_weight` when the inviter was itself under
    `fast_invite_window` old when the invitee signed up, else `invite_weight`."""
    n = snapshot.n_accounts
    rel = snapshot.relations
    inv = rel[rel[:, 2] == RELATION_KINDS.index("invite")] if rel.shape[0] else rel
    if inv.shape[0] == 0:
        return sp.csr_matrix((n, n))
    age = snapshot.created_at[inv[:, 1]] - snapshot.created_at[inv[:, 0]]
    fast = (age >= 0) & (age <= params.fast_invite_window)
    weight = np.where(fast, params.fast_invite_weight, params.invite_weight)
    # A pair invited both ways (or twice) is still one relationship: keep the larger weight.
    lo, hi = np.minimum(inv[:, 0], inv[:, 1]), np.maximum(inv[:, 0], inv[:, 1])
    key = lo * n + hi
    order = np.lexsort((-weight, key))
    first = np.r_[True, key[order][1:] != key[order][:-1]]
    pick = order[first]
    return symmetric_from_pairs(lo[pick], hi[pick], weight[pick], n)


def _co_users(
    snapshot: Snapshot,
    rows: np.ndarray,
    kind: str,
    max_degree: int,
    min_shared: int,
    only: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs among account `rows` sharing >= `min_shared` identifiers of `kind` that 2 to
    `max_degree` accounts use (and, given `only`, a mask per identifier, that it allows):
    (left row, right row, how many they share), each pair once.

    One sparse product over those columns only, and only over rows with enough of them: the
    columns are capped, so it has at most sum(d^2) entries however large the platform is.
    """
    degree = identifier_degree(snapshot)
    allowed = (snapshot.identifier_kind == KIND_CODE[kind]) & (degree >= 2) & (degree <= max_degree)
    cols = np.flatnonzero(allowed if only is None else allowed & only)
    sub = binary_links(snapshot)[:, cols].tocsr()[rows]
    enough = np.diff(sub.indptr) >= min_shared
    rows, sub = rows[enough], sub[enough].astype(np.float64)
    together = sp.triu(sub @ sub.T, k=1).tocoo()
    ok = together.data >= min_shared
    return rows[together.row[ok]], rows[together.col[ok]], together.data[ok]


def shared_networks(snapshot: Snapshot, params: BehaviourParams) -> sp.csr_matrix:
    """Pairs sharing >= `network_min_shared` subnets of at most `network_max_degree` accounts
    (most people are on one home block, so few rows take part)."""
    n = snapshot.n_accounts
    left, right, shared = _co_users(
        snapshot, np.arange(n), "subnet", params.network_max_degree, params.network_min_shared
    )
    weight = np.minimum(
        (shared - params.network_min_shared + 1) * params.network_weight, params.network_max
    )
    return symmetric_from_pairs(left, right, weight, n)


def rotating_peers(snapshot: Snapshot, params: BehaviourParams) -> sp.csr_matrix:
    """Pairs of rotators (>= `rotation_min_ips` IPs used once, by them only) sharing a subnet
    of at most `rotation_max_degree` accounts."""
    n = snapshot.n_accounts
    degree = identifier_degree(snapshot)
    lonely_ips = np.flatnonzero((snapshot.identifier_kind == KIND_CODE["ip"]) & (degree == 1))
    once = snapshot.links_by_identifier[:, lonely_ips]
    single_use = np.bincount(once.indices[once.data == 1], minlength=n)
    rotators = np.flatnonzero(single_use >= params.rotation_min_ips)
    left, right, _ = _co_users(snapshot, rotators, "subnet", params.rotation_max_degree, 1)
    return symmetric_from_pairs(left, right, np.full(left.shape[0], params.rotation_weight), n)


def young_cohorts(snapshot: Snapshot, young: np.ndarray, params: BehaviourParams) -> sp.csr_matrix:
    """Pairs sharing an IP of at most `cohort_max_degree` accounts of which one is age-suspect
    (`young`, a mask per account: detectors.age) and the other is too or declares itself a
    minor. Children who lie about their age do not all lie alike: at one school some claim
    13 or 18 (or a first of January), others a true-looking 14 or 15 that no single-account
    test can call a child's; what places the latter with the former is their school's
    network, shared with classmates whose declared age gives them away. An adult on that
    network (a teacher, a parent on the home router) declares no minor's age.

    Only on an IP whose users are young more often than chance puts there (`_cohort_ips`):
    a school's or a club's network is its children's, while a café, a VPN exit or a carrier
    address of fifty users holds the deployment's share of teenagers, and a gate's January
    1st among them is a coincidence."""
    n = snapshot.n_accounts
    minor = declared_age(snapshot) < ADULT_AGE
    rows = np.flatnonzero(young | minor)
    cohort_ips = _cohort_ips(snapshot, young | minor, params)
    left, right, _ = _co_users(snapshot, rows, "ip", params.cohort_max_degree, 1, cohort_ips)
    either = young[left] | young[right]
    left, right = left[either], right[either]
    return symmetric_from_pairs(left, right, np.full(left.shape[0], params.cohort_weight), n)


def _cohort_ips(snapshot: Snapshot, young: np.ndarray, params: BehaviourParams) -> np.ndarray:
    """Per identifier: an IP whose count of young users (`young`: suspect or declared minor)
    is improbable, below `cohort_alpha`, for as many accounts drawn from the deployment
    (binomial, the deployment's young share)."""
    users = identifier_degree(snapshot)
    ips = np.flatnonzero(snapshot.identifier_kind == KIND_CODE["ip"])
    on_ips = snapshot.links_by_identifier[:, ips].astype(bool).astype(np.int64)
    young_users = np.asarray(on_ips.T @ young.astype(np.int64)).ravel()
    share = float(young.mean()) if young.shape[0] else 0.0
    several = young_users >= 2
    cols = ips[several]
    out = np.zeros(users.shape[0], dtype=bool)
    out[cols] = binom.sf(young_users[several] - 1, users[cols], share) < params.cohort_alpha
    return out


def device_rooms(snapshot: Snapshot, params: BehaviourParams) -> sp.csr_matrix:
    """Pairs of accounts without a device of their own on one IP that such accounts dominate,
    spread over several shared devices (see module doc).

    >>> from ringwatch.detectors.snapshot import SnapshotBuilder
    >>> b = SnapshotBuilder()
    >>> for i, a in enumerate("abcd"):
    ...     b.add_account(a, {"created_at": 1_000_000})
    ...     b.add_link(a, "device", f"phone{i // 2}", 3, 1_000_000)
    ...     b.add_link(a, "ip", "room", 3, 1_000_000)
    >>> device_rooms(b.build(), BehaviourParams()).nnz  # 4 accounts, 2 phones: 6 pairs x 2
    12
    """
    n = snapshot.n_accounts
    links = binary_links(snapshot)
    degree = identifier_degree(snapshot)
    kind = snapshot.identifier_kind
    device_cols = np.flatnonzero(kind == KIND_CODE["device"])
    devices = links[:, device_cols].tocsr()
    own = (degree[device_cols] == 1).astype(np.float64)
    few = (degree[device_cols] >= 2) & (degree[device_cols] <= params.room_device_max_degree)
    # On a few-persona device and on no device of their own (a kiosk does not count).
    deviceless = (devices @ few.astype(np.float64) > 0) & (devices @ own == 0)
    devices = devices[:, np.flatnonzero(few)]
    rows = np.flatnonzero(deviceless)
    if rows.shape[0] < params.room_min_accounts:
        return sp.csr_matrix((n, n))
    ip_cols = np.flatnonzero(
        (kind == KIND_CODE["ip"])
        & (degree >= params.room_min_accounts)
        & (degree <= params.room_max_degree)
    )
    all_on_ip = links[:, ip_cols].tocsr()
    on_ip = all_on_ip[rows]  # deviceless rows x candidate IPs
    phones = devices[rows]
    # A room's phones: those most of whose users are on that one IP. A family tablet's users
    # live at the family's home, so a child who once used it over carrier NAT does not make
    # that NAT address a room.
    co = (all_on_ip.T @ devices).tocoo()  # IPs x phones: users of the phone on the IP
    phone_degree = degree[device_cols[np.flatnonzero(few)]]
    at_room = co.data >= params.room_device_share * phone_degree[co.col]
    room_phone = sp.csr_matrix(
        (np.ones(int(at_room.sum())), (co.row[at_room], co.col[at_room])),
        shape=(ip_cols.shape[0], phones.shape[1]),
    )
    # Members of a room: deviceless accounts on the IP that use one of its phones.
    member = on_ip.multiply((phones @ room_phone.T) > 0).tocsc()
    count = np.diff(member.indptr)
    n_phones = np.diff(room_phone.indptr)
    room = (count >= params.room_min_accounts) & (n_phones >= params.room_min_devices)
    room &= count >= params.room_min_share * degree[ip_cols]
    coo = member[:, np.flatnonzero(room)].tocoo()
    order = np.argsort(coo.col, kind="stable")
    left, right = group_pairs(coo.col[order].astype(np.int64), rows[coo.row[order]])
    if left.shape[0] == 0:
        return sp.csr_matrix((n, n))
    key = np.unique(np.minimum(left, right) * n + np.maximum(left, right))
    return symmetric_from_pairs(key // n, key % n, np.full(key.shape[0], params.room_weight), n)


def soft_links(
    snapshot: Snapshot,
    params: BehaviourParams = BehaviourParams(),
    *,
    young: np.ndarray | None = None,
) -> SoftLinks:
    """All behaviour signals as weighted account pairs (see module doc). `young`: the
    age-suspect mask (detectors.age.age_suspect; computed at its default minimum age if None).

    >>> from ringwatch.detectors.snapshot import SnapshotBuilder
    >>> b = SnapshotBuilder()
    >>> for i, a in enumerate("abc"):
    ...     b.add_account(a, {"created_at": 1_000_000 + 60 * i})
    ...     b.add_link(a, "subnet", "10.0.0.0/24", 1, 1_000_000 + 60 * i)
    >>> b.add_account("z", {"created_at": 9_000_000})
    >>> soft_links(b.build()).burst.nnz
    6
    """
    snapshot = check_snapshot(snapshot)
    if params.burst_min < 2 or params.lockstep_cap < 2 or params.template_cap < 2:
        raise ValueError("bucket sizes must allow at least 2 accounts")
    if min(params.burst_gap, params.template_window, params.lockstep_window) <= 0:
        raise ValueError("windows must be positive")
    return SoftLinks(
        burst=signup_bursts(snapshot, params),
        template=email_templates(snapshot, params),
        lockstep=lockstep(snapshot, params),
        invite=invites(snapshot, params),
        networks=shared_networks(snapshot, params),
        cohort=young_cohorts(snapshot, age_suspect(snapshot) if young is None else young, params),
        rotating=rotating_peers(snapshot, params),
        phone_run=phone_runs(snapshot, params),
        email_stem=stem_runs(snapshot, params.stems),
        room=device_rooms(snapshot, params),
    )

"""Weighted account-account projection partitioned by Leiden with the CPM objective.

Why CPM and not modularity: modularity compares a community with what a random graph of the
same degrees would give *across the whole graph*, so at a million accounts it cannot resolve a
ring of 5-200 accounts (the resolution limit) and swallows rings into communities ~40x larger.
CPM asks a local question instead, "is this group denser than `resolution`?", so the answer for
a ring does not depend on how big the rest of the platform is. That also means Leiden can run
per connected component (and batches of components) without changing the answer's meaning.

Edge weights are in units of "one shared strong identifier" (1.0):
- strong kinds (device, phone, card, email) weigh the same up to their cap, because benign
  sharing of these is inherently small (a family tablet, a couple's card) while a device behind
  50 accounts is exactly the farm we look for;
- weak kinds (ip, subnet, email domain) are divided by (degree - 1) ** exponent, because a
  shared home IP says something and a shared office or carrier-NAT IP says next to nothing;
- identifiers above their kind's cap are hubs and add nothing (they would add d^2/2 edges).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import igraph as ig
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ringwatch.detectors._common import (
    binary_links,
    check_snapshot,
    column_caps,
    identifier_degree,
)
from ringwatch.detectors.snapshot import KIND_CODE, Snapshot


def _frozen(d: dict[str, float]) -> Mapping[str, float]:
    return MappingProxyType(d)


@dataclass(frozen=True)
class ProjectionParams:
    """How much one shared identifier of each kind weighs, and where hubs start."""

    kind_weight: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {
                "device": 1.0,
                "phone": 1.0,
                "card": 1.0,
                "email": 1.0,
                "ip": 0.5,
                "subnet": 0.1,
                "email_domain": 0.1,
                "phone_block": 0.5,
            }
        )
    )
    # Weak kinds lose weight with degree; strong kinds keep it until the cap.
    rarity_exponent: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {
                "device": 0.0,
                "phone": 0.0,
                "card": 0.0,
                "email": 0.0,
                "ip": 1.0,
                "subnet": 1.0,
                "email_domain": 1.0,
                "phone_block": 0.5,
            }
        )
    )
    kind_cap: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {
                "device": 300,
                "phone": 50,
                "card": 100,
                "email": 20,
                "ip": 200,
                "subnet": 300,
                "email_domain": 50,
                "phone_block": 100,
            }
        )
    )

    # A shared identifier adding less than this to a pair is dropped: it costs d^2/2 edges and
    # cannot move CPM at the default resolution unless dozens of such identifiers coincide.
    min_pair_weight: float = 0.02

    def validate(self) -> None:
        for name in ("kind_weight", "rarity_exponent", "kind_cap"):
            table = getattr(self, name)
            unknown = set(table) - set(KIND_CODE)
            if unknown:
                raise ValueError(f"{name}: unknown identifier kinds {sorted(unknown)}")
            if any(v < 0 for v in table.values()):
                raise ValueError(f"{name}: values must be >= 0")


def identifier_weights(snapshot: Snapshot, params: ProjectionParams) -> np.ndarray:
    """Per identifier column: the weight one shared link adds to an account pair (0 = unused)."""
    degree = identifier_degree(snapshot)
    kinds = snapshot.identifier_kind.astype(np.int64)
    base = np.zeros(len(KIND_CODE))
    expo = np.zeros(len(KIND_CODE))
    for kind, w in params.kind_weight.items():
        base[KIND_CODE[kind]] = w
    for kind, e in params.rarity_exponent.items():
        expo[KIND_CODE[kind]] = e
    cap = column_caps(snapshot, {k: int(v) for k, v in params.kind_cap.items()})
    shared = np.maximum(degree - 1, 1).astype(np.float64)
    weight = base[kinds] / shared ** expo[kinds]
    weight[(degree < 2) | (degree > cap) | (weight < params.min_pair_weight)] = 0.0
    return np.asarray(weight, dtype=np.float64)


def projection(snapshot: Snapshot, params: ProjectionParams = ProjectionParams()) -> sp.csr_matrix:
    """Symmetric account x account weight matrix from shared identifiers (zero diagonal).

    >>> from ringwatch.detectors.snapshot import SnapshotBuilder
    >>> b = SnapshotBuilder()
    >>> for a in ("a", "b"):
    ...     b.add_link(a, "device", "d1", 1, 0)
    ...     b.add_link(a, "ip", "i1", 1, 0)
    >>> float(projection(b.build())[0, 1])
    1.5
    """
    snapshot = check_snapshot(snapshot)
    params.validate()
    weight = identifier_weights(snapshot, params)
    cols = np.flatnonzero(weight > 0)
    n = snapshot.n_accounts
    if cols.shape[0] == 0:
        return sp.csr_matrix((n, n))
    bip = binary_links(snapshot)[:, cols]
    left = bip.multiply(weight[cols][None, :]).tocsr()
    proj = (left @ bip.T.tocsc()).tocsr()
    proj.setdiag(0)
    proj.eliminate_zeros()
    return proj.astype(np.float64)


@dataclass(frozen=True)
class Partition:
    """`labels[i]`: account row i's community, -1 if it belongs to none (trivial component or
    singleton community); communities are numbered by their first row."""

    labels: np.ndarray  # int64 (n_accounts,)
    component: np.ndarray  # int64 (n_accounts,) connected component of the weighted graph

    def members(self, min_size: int = 1) -> list[np.ndarray]:
        """Rows of each community with at least `min_size` accounts, in label order."""
        inside = np.flatnonzero(self.labels >= 0)
        if inside.shape[0] == 0:
            return []
        order = inside[np.argsort(self.labels[inside], kind="stable")]
        lab = self.labels[order]
        cuts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1], True])
        groups = [order[cuts[i] : cuts[i + 1]] for i in range(cuts.shape[0] - 1)]
        return [g for g in groups if g.shape[0] >= min_size]


def _renumber_by_first_row(labels: np.ndarray) -> np.ndarray:
    out = np.full(labels.shape[0], -1, dtype=np.int64)
    inside = labels >= 0
    if not inside.any():
        return out
    _, first, inverse = np.unique(labels[inside], return_index=True, return_inverse=True)
    rank = np.empty(first.shape[0], dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
    out[inside] = rank[inverse]
    return out


def leiden_cpm(
    weights: sp.csr_matrix,
    *,
    resolution: float = 0.25,
    seed: int = 0,
    n_iterations: int = 4,
    min_component: int = 3,
    batch_nodes: int = 200_000,
) -> Partition:
    """Leiden/CPM on each connected component of `weights` with >= `min_component` nodes.

    Small components are batched into one igraph run (Leiden never moves a node to a
    community it has no edge to, so a batch of disjoint components partitions exactly like
    separate runs do); batches are independent and could run in parallel. igraph's RNG is
    seeded from `seed` per batch, so the same input always gives the same partition.
    `leiden_plan`, `leiden_batches` and `leiden_assemble` are the same run in three steps, so
    that batches can run in other processes (services/fanout.py).

    >>> w = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0.1], [0, 0, 0.1, 0]]))
    >>> leiden_cpm(w, seed=1).labels.tolist()
    [0, 0, 0, -1]
    """
    if resolution <= 0:
        raise ValueError("resolution must be > 0")
    plan = leiden_plan(weights, min_component=min_component, batch_nodes=batch_nodes)
    batches = range(plan.n_batches)
    memberships = leiden_batches(
        plan, batches, resolution=resolution, seed=seed, n_iterations=n_iterations
    )
    return leiden_assemble(plan, memberships)


@dataclass(frozen=True)
class LeidenPlan:
    """What Leiden runs on, cut into batches: `upper` (the weights' strict upper triangle),
    each account's connected `component`, and the accounts of every batch, batch b being
    `nodes[cuts[b]:cuts[b + 1]]`. A batch's partition depends only on the plan, `seed` and b."""

    upper: sp.csr_matrix
    component: np.ndarray  # int64 (n,)
    nodes: np.ndarray  # int64: accounts in components >= min_component, by component
    cuts: np.ndarray  # int64 (n_batches + 1,)

    @property
    def n_batches(self) -> int:
        return int(self.cuts.shape[0]) - 1

    def batch(self, b: int) -> np.ndarray:
        return self.nodes[int(self.cuts[b]) : int(self.cuts[b + 1])]

    def batch_sizes(self) -> np.ndarray:
        return np.diff(self.cuts)


def leiden_plan(
    weights: sp.csr_matrix, *, min_component: int = 3, batch_nodes: int = 200_000
) -> LeidenPlan:
    """The components of `weights` with >= `min_component` nodes, cut into batches of about
    `batch_nodes` nodes at component boundaries."""
    if weights.shape[0] != weights.shape[1]:
        raise ValueError("weights must be a square matrix")
    if min_component < 2:
        raise ValueError("min_component must be >= 2")
    n = weights.shape[0]
    upper = sp.triu(weights, k=1).tocsr()
    upper.eliminate_zeros()
    if n == 0:
        empty = np.zeros(0, np.int64)
        return LeidenPlan(upper, empty, empty, np.zeros(1, np.int64))
    sym = (upper + upper.T).tocsr()
    _, component = connected_components(sym, directed=False)
    component = component.astype(np.int64)
    sizes = np.bincount(component)
    nodes = np.flatnonzero(sizes[component] >= min_component)
    nodes = nodes[np.argsort(component[nodes], kind="stable")]
    comp_sorted = component[nodes]
    starts = np.flatnonzero(np.r_[True, comp_sorted[1:] != comp_sorted[:-1]])
    ends = np.r_[starts[1:], nodes.shape[0]]
    cuts = np.array([0, *_batch_ends(starts, ends, batch_nodes)], dtype=np.int64)
    return LeidenPlan(upper, component, nodes.astype(np.int64), cuts)


def leiden_batches(
    plan: LeidenPlan,
    batches: Iterable[int],
    *,
    resolution: float = 0.25,
    seed: int = 0,
    n_iterations: int = 4,
) -> dict[int, np.ndarray]:
    """Leiden/CPM membership (local community numbers) of each batch in `batches`.

    igraph's RNG is seeded with `seed * 1_000_003 + b` for batch b, so a batch's membership is
    the same whichever process runs it and whatever other batches it runs with.
    """
    if resolution <= 0:
        raise ValueError("resolution must be > 0")
    out: dict[int, np.ndarray] = {}
    saved = random.getstate()
    try:
        for b in batches:
            batch = plan.batch(b)
            sub = plan.upper[batch][:, batch].tocoo()
            graph = ig.Graph(n=batch.shape[0], edges=np.column_stack([sub.row, sub.col]))
            rng = random.Random(seed * 1_000_003 + b)
            ig.set_random_number_generator(rng)
            part = graph.community_leiden(
                objective_function="CPM",
                weights=sub.data.tolist(),
                resolution=resolution,
                n_iterations=n_iterations,
            )
            out[b] = np.asarray(part.membership, dtype=np.int64)
    finally:
        ig.set_random_number_generator(random)
        random.setstate(saved)
    return out


def leiden_assemble(plan: LeidenPlan, memberships: Mapping[int, np.ndarray]) -> Partition:
    """The Partition from every batch's membership (`leiden_batches`, in any grouping)."""
    missing = sorted(set(range(plan.n_batches)) - set(memberships))
    if missing:
        raise ValueError(f"memberships missing for batches {missing}")
    n = plan.component.shape[0]
    labels = np.full(n, -1, dtype=np.int64)
    offset = 0
    for b in range(plan.n_batches):
        member = memberships[b]
        batch = plan.batch(b)
        if member.shape != batch.shape:
            raise ValueError(f"batch {b}: {member.shape[0]} labels for {batch.shape[0]} nodes")
        labels[batch] = member + offset
        offset += int(member.max()) + 1 if member.shape[0] else 0
    # A community of one account is no community.
    counts = np.bincount(labels[labels >= 0]) if offset else np.zeros(0, np.int64)
    single = labels >= 0
    single[single] = counts[labels[single]] < 2
    labels[single] = -1
    return Partition(_renumber_by_first_row(labels), plan.component)


def _batch_ends(starts: np.ndarray, ends: np.ndarray, batch_nodes: int) -> list[int]:
    """Cut points at component boundaries so each batch has about `batch_nodes` nodes."""
    if ends.shape[0] == 0:
        return []
    batch = starts // batch_nodes
    cut = np.flatnonzero(batch[1:] != batch[:-1]) + 1
    return [int(x) for x in starts[cut]] + [int(ends[-1])]


def merge_by_strong_bridges(
    partition: Partition, strong: sp.csr_matrix, *, min_pairs: int = 3
) -> Partition:
    """Join communities that many strong-identifier links connect.

    CPM splits a farm that spreads its accounts over a pool of devices or cards into one
    community per device (the cross-device density is low), yet accounts hopping between the
    pool's devices bind it into one operation. Requiring `min_pairs` linked account pairs keeps
    a single resold phone or borrowed card from joining two unrelated groups.

    `strong`: symmetric account x account matrix, nonzero where two accounts share a strong
    identifier under its cap.
    """
    if min_pairs < 1:
        raise ValueError("min_pairs must be >= 1")
    labels = partition.labels
    k = int(labels.max()) + 1 if labels.shape[0] and labels.max() >= 0 else 0
    if k == 0:
        return partition
    c = sp.triu(strong, k=1).tocoo()
    a, b = labels[c.row], labels[c.col]
    between = (a >= 0) & (b >= 0) & (a != b)
    pairs = sp.coo_matrix(
        (np.ones(int(between.sum())), (a[between], b[between])), shape=(k, k)
    ).tocsr()
    pairs.sum_duplicates()
    pairs.data = (pairs.data >= min_pairs).astype(np.float64)
    pairs.eliminate_zeros()
    _, group = connected_components(pairs, directed=False)
    merged = np.where(labels >= 0, group[np.maximum(labels, 0)], -1)
    return Partition(_renumber_by_first_row(merged), partition.component)


def _operated(
    links: sp.spmatrix, suspect: np.ndarray, min_suspects: int, min_share: float
) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """(`links` as CSC, each column's accounts and suspects among them, the columns mostly used
    by suspects: at least `min_suspects` of them and `min_share` of the column's accounts)."""
    links = sp.csc_matrix(links, dtype=np.float64)
    degree = np.diff(links.indptr).astype(np.float64)
    suspects = np.asarray(links.T @ suspect.astype(np.float64)).ravel()
    operated = np.flatnonzero(
        (suspects >= min_suspects) & (suspects >= min_share * np.maximum(degree, 1))
    )
    return links, degree, suspects, operated


def merge_by_operated_bridges(
    partition: Partition,
    places: sp.spmatrix,
    suspect: np.ndarray,
    *,
    min_bridges: int = 2,
    min_suspects: int = 2,
    min_suspect_share: float = 0.5,
) -> Partition:
    """Join suspicious communities that meet on two or more of an operation's own places.

    An operation with several rooms (a rack of phones behind each of a few connections) comes
    out of CPM as one community per room, and the rooms' own connections join nothing across
    them (`merge_by_shared_infrastructure` joins a community to a connection most of its
    members use). Yet its personas are not pinned to one room: one logs in from the other
    room's connection, another borrows a phone from the next rack. A place counts as the
    operation's when it is small and mostly used by suspects (`min_suspect_share`, at least
    `min_suspects` of them): no office, campus or carrier address is. Two suspicious
    communities that meet on `min_bridges` different such places are one operation; one
    shared place is what a resold proxy exit gives two unrelated operations.

    Only communities whose members are mostly suspects take part: the merge regroups the
    pieces of one operation into one ring, it does not reach out to anyone else.

    `places`: accounts x candidate places (binary; the caller caps their size); `suspect`:
    bool per account, member of a community scored suspicious or worse on its own evidence
    (the pipeline adds the accounts already banned).

    >>> import numpy as np, scipy.sparse as sp
    >>> part = Partition(np.array([0, 0, 0, 1, 1, 1]), np.zeros(6, np.int64))
    >>> rooms = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 1, 1]])
    >>> everyone = np.ones(6, bool)
    >>> merge_by_operated_bridges(part, sp.csc_matrix(rooms), everyone).labels.tolist()
    [0, 0, 0, 0, 0, 0]
    >>> merge_by_operated_bridges(part, sp.csc_matrix(rooms[:, :1]), everyone).labels.tolist()
    [0, 0, 0, 1, 1, 1]
    """
    if min_bridges < 1:
        raise ValueError("min_bridges must be >= 1")
    labels = partition.labels
    inside = labels >= 0
    k = int(labels.max()) + 1 if inside.any() else 0
    if k < 2 or places.shape[1] == 0 or not suspect.any():
        return partition
    size = np.bincount(labels[inside], minlength=k)
    suspicious = np.bincount(labels[inside & suspect], minlength=k) * 2 >= np.maximum(size, 1)
    places, _, _, own = _operated(places, suspect, min_suspects, min_suspect_share)
    if own.shape[0] == 0:
        return partition
    coo = places[:, own].tocoo()
    community = labels[coo.row]
    keep = community >= 0
    keep[keep] = suspicious[community[keep]]
    # Each (place, community) once, sorted by place: the communities that meet on each place.
    met = np.unique(np.column_stack([coo.col[keep], community[keep]]), axis=0)
    starts = np.flatnonzero(np.r_[True, met[1:, 0] != met[:-1, 0], True])
    left: list[int] = []
    right: list[int] = []
    for lo, hi in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
        if hi - lo < 2:
            continue
        here = met[lo:hi, 1].tolist()
        for i, a in enumerate(here):
            for b in here[i + 1 :]:
                left.append(a)
                right.append(b)
    if not left:
        return partition
    bridges = sp.coo_matrix((np.ones(len(left)), (left, right)), shape=(k, k)).tocsr()
    bridges.sum_duplicates()
    bridges.data = (bridges.data >= min_bridges).astype(np.float64)
    bridges.eliminate_zeros()
    if bridges.nnz == 0:
        return partition
    _, group = connected_components(bridges, directed=False)
    merged = np.where(inside, group[np.maximum(labels, 0)], -1)
    return Partition(_renumber_by_first_row(merged), partition.component)


def merge_along(partition: Partition, links: sp.spmatrix) -> Partition:
    """Join the communities (and unassigned accounts) that `links` connect, transitively.

    For explicit chains such as fast invites: CPM cuts a long, sparse chain into pieces (a
    path of five accounts scores better as three plus two), but every link of a referral
    chain is a deliberate act, so the whole chain is one operation.
    """
    labels = partition.labels
    n = labels.shape[0]
    c = sp.triu(sp.coo_matrix(links), k=1).tocoo()
    if c.nnz == 0:
        return partition
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    # Nodes: communities 0..k-1, then every account k..k+n-1 (used when it has no community).
    node = np.where(labels >= 0, labels, k + np.arange(n))
    a, b = node[c.row], node[c.col]
    graph = sp.coo_matrix((np.ones(a.shape[0]), (a, b)), shape=(k + n, k + n))
    _, group = connected_components(graph, directed=False)
    linked = np.zeros(k + n, bool)
    linked[a] = linked[b] = True
    keeps = (labels >= 0) | linked[node]
    merged = np.where(keeps, group[node], -1)
    return Partition(_renumber_by_first_row(merged), partition.component)


def drop_loose_members(partition: Partition, ties: sp.spmatrix) -> Partition:
    """Take out of its community every member with no tie in `ties` to another member.

    `ties` is the weighted graph without the links that cannot hold a member on their own
    (the pipeline leaves out email look-alikes: strangers with popular names and birth years
    write near-identical local parts, and at a million accounts each farm's window of signups
    holds dozens of them). Repeated until no member leaves, since a member may have been tied
    only to one that left. The members left out are singletons (-1), free to join an
    operation later through the infrastructure it runs on.

    >>> import numpy as np, scipy.sparse as sp
    >>> part = Partition(np.array([0, 0, 0, 0]), np.zeros(4, np.int64))
    >>> ties = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]]))
    >>> drop_loose_members(part, ties).labels.tolist()
    [0, 0, 0, -1]
    """
    labels = partition.labels.copy()
    c = sp.coo_matrix(ties)
    # A difference of sums (the weights less one signal) may leave rounding dust, not a tie.
    keep = (c.data > 1e-6) & (c.row != c.col)
    row, col = c.row[keep].astype(np.int64), c.col[keep].astype(np.int64)
    while True:
        same = (labels[row] >= 0) & (labels[row] == labels[col])
        tied = np.zeros(labels.shape[0], bool)
        tied[row[same]] = True
        loose = (labels >= 0) & ~tied
        if not loose.any():
            break
        labels[loose] = -1
    if np.array_equal(labels, partition.labels):
        return partition
    return Partition(_renumber_by_first_row(labels), partition.component)


def _campaigners(who: np.ndarray, target: np.ndarray, min_targets: int) -> np.ndarray:
    """Per entry (node `who`, campaign `target`, -1: not a campaign cell): whether the node's
    campaign cells cover at least `min_targets` different targets."""
    camp = target >= 0
    pairs = np.unique(np.column_stack([who[camp], target[camp]]), axis=0)
    nodes, targets = np.unique(pairs[:, 0], return_counts=True)
    return np.isin(who, nodes[targets >= min_targets])


def merge_by_shared_infrastructure(
    partition: Partition,
    links: sp.csc_matrix,
    suspect: np.ndarray,
    *,
    min_suspect_share: float = 0.5,
    min_suspects: int = 3,
    min_member_share: float = 0.5,
    created: np.ndarray | None = None,
    slack: int = 12 * 3600,
    busy_degree: int = 50,
    own_share: float = 0.9,
    campaign_target: np.ndarray | None = None,
    min_campaign_targets: int = 1,
    homed: np.ndarray | None = None,
) -> Partition:
    """Join the pieces of one operation that runs on its own infrastructure.

    CPM cuts an operation into one community per strong identifier (a device, a card pool)
    when the only thing the pieces share is a weak identifier: the operator's own IP address.
    A weak identifier says little on its own (an office IP is exclusive to its colleagues
    too), so it joins communities only when it is *operated*: most
    of the accounts using it (`min_suspect_share`, at least `min_suspects`) already sit in
    communities judged suspicious on their own evidence. An office's IP, whose users are
    colleagues in no ring, never qualifies; a farm's connection, used by nobody but the farm's
    devices, does. Every community of which at least `min_member_share` of the members use an
    operated identifier joins it, and so do accounts on it that belong to no community (the
    members with no strong link, e.g. one fresh device per proxy account).

    `links`: accounts x candidate identifier columns (binary, weak kinds under a hub cap);
    `suspect`: bool per account, member of a community scored suspicious or worse (the
    pipeline adds the accounts already banned).
    `created`: per account creation time; when given, an account outside the suspicious
    communities (in a community cleared on its own evidence, or in none) counts towards
    joining through an identifier of more than `busy_degree` accounts only if it was created
    within `slack` of a suspect's creation on that identifier. A carrier-NAT address a SIM
    farm comes through is the farm's for a day and thousands of strangers' the rest of the
    year; a small identifier mostly used by suspects is the operation's own connection.
    `homed`: per account, whether it has a home of its own (an address few use, that it comes
    back to, where no suspect is): nearness then does not take it in through a busy identifier.
    The accounts nearness is for, an operation's loose personas, live only on its
    infrastructure; a person who signed up through the carrier's NAT on the day a farm
    came through it goes home afterwards, and an operation that registers for weeks through
    one address has a suspect near everybody who signed up there meanwhile.

    An identifier of which at least `own_share` of the accounts are suspects is the
    operation's own connection (the room its farm of devices sits in), however many accounts
    use it: a community with `min_suspects` or more members on it joins even below
    `min_member_share`. A farm spreads its devices over its few connections, so each
    device's community has only a third of its members on any one of three; strangers do
    not end up on a connection nobody but the operation uses. A room of 180 personas is no
    less the farm's own than one of 30 (capping this at `busy_degree` cut a 400-account farm
    on three such connections into 30 rings); a connection strangers share (carrier NAT, a
    campus) never has nine suspects in ten of its users.

    `campaign_target`: per column of `links`, the target of a campaign cell (engagement on
    one target in one window), -1 for an identifier. With `created`, an account outside the
    suspicious communities that was created far from the suspects in a campaign cell counts
    towards joining through it only if its node (its community, or itself) sits in operated
    cells of at least `min_campaign_targets` different targets: one like of a post a farm is
    pushing is what ordinary users do (a million-account platform has dozens per pushed post);
    campaign after campaign is what the farm's workers do.
    """
    labels = partition.labels
    n = labels.shape[0]
    if links.shape[1] == 0 or not suspect.any():
        return partition
    links, degree, suspects, operated = _operated(links, suspect, min_suspects, min_suspect_share)
    if operated.shape[0] == 0:
        return partition
    ops = links[:, operated].tocsr()
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    # Nodes: communities 0..k-1, then unassigned accounts k.., then operated identifiers.
    inside = labels >= 0
    node = np.where(inside, labels, k + np.arange(n))
    size = np.bincount(labels[inside], minlength=k).astype(np.float64)
    coo = ops.tocoo()
    if created is not None:
        is_suspect = suspect[coo.row]
        # Times as offsets inside one band per identifier column, so one sorted array and
        # one searchsorted find each outsider's nearest suspect on the same identifier.
        when = created[coo.row].astype(np.int64)
        base = int(when.min(initial=0))
        band = int(when.max(initial=0)) - base + 4 * slack + 1
        key = coo.col.astype(np.int64) * band + (when - base) + 2 * slack
        marks = np.sort(key[is_suspect])
        pos = np.searchsorted(marks, key)
        after = marks[np.minimum(pos, marks.shape[0] - 1)] - key
        before = key - marks[np.maximum(pos - 1, 0)]
        near = ((after >= 0) & (after <= slack)) | ((before >= 0) & (before <= slack))
        # Only busy identifiers are shared infrastructure; a small one mostly used by
        # suspects is the operation's own connection, whoever came through it and when.
        busy = degree[operated][coo.col] > busy_degree
        if homed is not None:
            home_elsewhere = homed[coo.row]
            if campaign_target is not None:
                # A campaign cell has its own test below.
                home_elsewhere &= campaign_target[operated][coo.col] < 0
            near &= ~home_elsewhere
        keep = is_suspect | near | ~busy
        if campaign_target is not None and min_campaign_targets > 1:
            # An outsider in a campaign cell, created far from the suspects in it, joins only
            # if its node engaged in the operation's cells of several targets.
            target = campaign_target[operated][coo.col]
            lone = (target >= 0) & ~is_suspect & ~near
            if lone.any():
                keep &= ~lone | _campaigners(node[coo.row], target, min_campaign_targets)
        coo = sp.coo_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape)
    pair_node = node[coo.row]
    per = sp.coo_matrix(
        (np.ones(coo.nnz), (pair_node, coo.col)), shape=(k + n, operated.shape[0])
    ).tocsr()
    per.sum_duplicates()
    pc = per.tocoo()
    node_size = np.where(pc.row < k, size[np.minimum(pc.row, max(k - 1, 0))], 1.0)
    attach = pc.data >= min_member_share * node_size
    own = suspects[operated] >= own_share * degree[operated]
    attach |= (pc.row < k) & own[pc.col] & (pc.data >= min_suspects)
    rows, cols = pc.row[attach], pc.col[attach] + k + n
    total = k + n + operated.shape[0]
    graph = sp.coo_matrix((np.ones(rows.shape[0]), (rows, cols)), shape=(total, total)).tocsr()
    _, group = connected_components(graph, directed=False)
    # Unassigned accounts that joined nothing stay unassigned.
    touched = np.zeros(total, bool)
    touched[rows] = True
    merged = np.where(inside | touched[node], group[node], -1)
    return Partition(_renumber_by_first_row(merged), partition.component)

"""Fellegi-Sunter linkage on a detection snapshot: what the graph keeps, as LinkRecords.

The snapshot holds keyed values only (docs/privacy.md): a keyed MinHash sketch of the whole
name and of the email local part, the birthdate, the declared country, and keyed identifier
digests. Without the text, "exact" on a name means an identical sketch (the same 3-gram set),
there is no phonetic level, and the fuzzy levels come from the sketch agreement.
"""

from __future__ import annotations

import numpy as np

from ringwatch.detectors._common import binary_links, check_snapshot
from ringwatch.detectors.linkage import LinkParams, LinkRecords, Links, link
from ringwatch.detectors.snapshot import KINDS, NOT_BANNED, Snapshot

# Identifier kinds compared (email_domain is shared by millions: no evidence of a person).
LINK_KINDS = ("device", "phone", "phone_block", "card", "ip", "subnet", "email")


def _sketch_keys(sketch: np.ndarray) -> np.ndarray:
    known = sketch.any(axis=1)
    rows = np.ascontiguousarray(sketch).view(np.dtype((np.void, sketch.shape[1] * 4))).ravel()
    keys = np.array([r.tobytes().hex() for r in rows], dtype=object)
    return np.where(known, keys, "").astype(object)


def snapshot_records(snapshot: Snapshot) -> LinkRecords:
    n = snapshot.n_accounts
    empty = np.full(n, "", dtype=object)
    codes = snapshot.identifier_kind.astype(np.int64)
    names = np.array([KINDS[c].value for c in range(len(KINDS))], dtype=object)
    kind_of_col = names[codes] if codes.shape[0] else np.zeros(0, dtype=object)
    cols = np.flatnonzero(np.isin(kind_of_col, LINK_KINDS))
    return LinkRecords(
        given=empty,
        given_phonetic=empty,
        given_sketch=np.zeros((n, snapshot.name_sketch.shape[1]), dtype=np.uint32),
        surname=_sketch_keys(snapshot.name_sketch),
        surname_phonetic=empty,
        surname_sketch=snapshot.name_sketch,
        birthdate=np.asarray(snapshot.birthdate, dtype=object),
        email_local=_sketch_keys(snapshot.email_sketch),
        email_sketch=snapshot.email_sketch,
        city=empty,
        postcode=empty,
        country=np.asarray(snapshot.country, dtype=object),
        identifiers=binary_links(snapshot)[:, cols].tocsr(),
        identifier_kind=kind_of_col[cols],
        surname_label="name",
    )


def link_snapshot(
    snapshot: Snapshot, params: LinkParams = LinkParams()
) -> tuple[LinkRecords, Links] | None:
    """Rank banned accounts for every account created after the first ban; None if no bans."""
    snapshot = check_snapshot(snapshot)
    banned = np.flatnonzero(snapshot.banned_at != NOT_BANNED).astype(np.int64)
    if banned.shape[0] == 0:
        return None
    first_ban = int(snapshot.banned_at[banned].min())
    queries = np.flatnonzero(snapshot.created_at > first_ban).astype(np.int64)
    if queries.shape[0] == 0:
        return None
    records = snapshot_records(snapshot)
    out = link(
        records,
        queries,
        banned,
        params,
        created_at=snapshot.created_at,
        banned_at=snapshot.banned_at,
    )
    return records, out

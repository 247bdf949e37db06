"""The planted truth of a world, as written to truth.json (schema: docs/worlds.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ringwatch.worlds.model import GROUP_KIND_NAMES, LABELS, SITE_SLOTS, SiteKind, World
from ringwatch.worlds.render import Clock, account_id, device_id, ipv4

TRUTH_FORMAT = "ringwatch-truth/1"


def build_truth(w: World) -> dict[str, Any]:
    def aid(i: int) -> str:
        return account_id(i, w.salt)

    clock = Clock(w.t0, w.profile.days + 2)
    labels = {aid(i): LABELS[int(w.label[i])] for i in np.flatnonzero(w.label != 0).tolist()}
    counts = np.bincount(w.label, minlength=len(LABELS))
    rings = [
        {
            "ring_id": r.ring_id,
            "style": r.style,
            "country": _country_code(r.country),
            "size": len(r.members),
            "members": [aid(i) for i in r.members.tolist()],
            "banned": [aid(i) for i in r.members.tolist() if w.ban[i] >= 0],
        }
        for r in w.rings
    ]
    offenders = []
    for i in np.flatnonzero(w.prev >= 0).tolist():
        chain = []
        j = int(w.prev[i])
        while j >= 0:
            chain.append(aid(j))
            j = int(w.prev[j])
        offenders.append({"account_id": aid(i), "continues": chain, "kept": w.kept.get(i, [])})
    return {
        "format": TRUTH_FORMAT,
        "seed": w.seed,
        "profile": w.profile.name,
        "start": clock(w.t0),
        "end": clock(w.t1),
        "accounts": w.n,
        "default_label": "benign",
        "label_counts": {name: int(counts[k]) for k, name in enumerate(LABELS)},
        "labels": labels,
        "rings": rings,
        "repeat_offenders": offenders,
        "groups": _groups(w),
    }


def _country_code(c: int) -> str:
    from ringwatch.worlds.locale import COUNTRIES

    return COUNTRIES[c].code


def _groups(w: World) -> list[dict[str, Any]]:
    """Benign shared groups, from the sites accounts actually use (each slot is used by at
    least one event), keeping groups of two or more accounts."""
    accounts, sites = [], []
    for slot in SITE_SLOTS:
        col = getattr(w, slot)
        idx = np.flatnonzero(col >= 0)
        accounts.append(idx)
        sites.append(col[idx].astype(np.int64))
    acc = np.concatenate(accounts)
    site = np.concatenate(sites)
    group = w.site_group[site].astype(np.int64)
    benign = w.group_kind[group] != int(SiteKind.FRAUD)
    acc, site, group = acc[benign], site[benign], group[benign]
    key = np.unique(group * (w.n + 1) + acc)
    g_of, a_of = key // (w.n + 1), key % (w.n + 1)
    starts = np.flatnonzero(np.r_[True, g_of[1:] != g_of[:-1]])
    ends = np.r_[starts[1:], len(g_of)]
    site_key = np.unique(group * (len(w.site_ip) + 1) + site)
    sg, ss = site_key // (len(w.site_ip) + 1), site_key % (len(w.site_ip) + 1)
    out = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s < 2:
            continue
        g = int(g_of[s])
        members = a_of[s:e]
        kind = SiteKind(int(w.group_kind[g]))
        lo, hi = np.searchsorted(sg, [g, g + 1])
        entry: dict[str, Any] = {
            "group_id": f"{GROUP_KIND_NAMES[kind]}-{g:07d}",
            "kind": GROUP_KIND_NAMES[kind],
            "ips": [ipv4(int(w.site_ip[x])) for x in ss[lo:hi].tolist()],
            "members": [account_id(int(m), w.salt) for m in members.tolist()],
        }
        tablet = int(w.group_device[g])
        if tablet >= 0 and bool(np.any(w.tablet[members] == tablet)):
            entry["devices"] = [device_id(tablet)]
        out.append(entry)
    return out

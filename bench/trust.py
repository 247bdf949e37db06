"""Benchmark trust propagation (issue 12): SybilSCAR and SybilRank at 1M accounts and 10M
relations, generated in memory (the detectors are pure), next to the baseline of the same
number of plain sparse mat-vecs, plus the AUC of each on the graph's planted Sybil region.

    .venv/bin/python bench/trust.py --accounts 1000000 --relations 10000000

Writes bench/results/trust.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

# bench/machine.py, beside this script
from machine import clocked, machine_info
from sklearn.metrics import roc_auc_score

from ringwatch.detectors.trust import adjacency, sybilrank, sybilscar


def graph(n: int, m: int, sybil_share: float, attack: int, seed: int):  # type: ignore[no-untyped-def]
    """Random graph with heavy-tailed degrees (endpoint picked by a Zipf-like weight) in each
    region; the Sybil region (last sybil_share of accounts) joined by `attack` edges."""
    rng = np.random.default_rng(seed)
    n_s = int(n * sybil_share)
    n_b = n - n_s
    m_s = int(m * sybil_share)
    m_b = m - m_s - attack

    def region(size: int, edges: int) -> tuple[np.ndarray, np.ndarray]:
        w = 1.0 / np.sqrt(np.arange(1, size + 1))
        w /= w.sum()
        perm = rng.permutation(size)
        return perm[rng.choice(size, edges, p=w)], rng.integers(0, size, edges)

    bs, bd = region(n_b, m_b)
    ss, sd = region(n_s, m_s)
    src = np.concatenate([bs, ss + n_b, rng.integers(0, n_b, attack)])
    dst = np.concatenate([bd, sd + n_b, n_b + rng.integers(0, n_s, attack)])
    is_sybil = np.r_[np.zeros(n_b, bool), np.ones(n_s, bool)]
    return src, dst, is_sybil


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--relations", type=int, default=10_000_000)
    ap.add_argument("--sybil-share", type=float, default=0.05)
    ap.add_argument("--attack-edges", type=int, default=10_000)
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("bench/results/trust.json"))
    args = ap.parse_args()
    load_before = os.getloadavg()

    t0 = time.perf_counter()
    src, dst, is_sybil = graph(
        args.accounts, args.relations, args.sybil_share, args.attack_edges, args.seed
    )
    adj = adjacency(src, dst, args.accounts)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    sybils = rng.choice(np.flatnonzero(is_sybil), args.seeds, replace=False)
    benign = rng.choice(np.flatnonzero(~is_sybil), args.seeds, replace=False)
    unlabelled = np.ones(args.accounts, bool)
    unlabelled[sybils] = unlabelled[benign] = False

    p, scar_s, scar_cpu = clocked(sybilscar, adj, sybils, benign)
    trust, rank_s, rank_cpu = clocked(sybilrank, adj, benign)
    steps = int(np.ceil(np.log2(args.accounts)))

    def plain_matvecs() -> np.ndarray:
        x = np.ones(args.accounts)
        csr = sp.csr_matrix(adj)
        for _ in range(steps):
            x = csr @ x
        return x

    _, base_s, base_cpu = clocked(plain_matvecs)

    out = {
        "accounts": args.accounts,
        "relations_generated": args.relations,
        "adjacency_nnz": int(adj.nnz),
        "attack_edges": args.attack_edges,
        "seeds_each": args.seeds,
        "build_adjacency_s": round(build_s, 3),
        "sybilscar_s": round(scar_s, 3),
        "sybilscar_cpu_s": round(scar_cpu, 3),
        "sybilrank_s": round(rank_s, 3),
        "sybilrank_cpu_s": round(rank_cpu, 3),
        "baseline_plain_matvecs": steps,
        "baseline_plain_matvecs_s": round(base_s, 3),
        "baseline_plain_matvecs_cpu_s": round(base_cpu, 3),
        "sybilscar_auc": round(float(roc_auc_score(is_sybil[unlabelled], p[unlabelled])), 4),
        "sybilrank_auc": round(float(roc_auc_score(is_sybil[unlabelled], -trust[unlabelled])), 4),
        "machine": machine_info(load_before),
    }
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

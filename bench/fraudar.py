"""Benchmark engagement rings (issue 12): Fraudar's heap peel and SynchroTrap at 1M accounts
and 10M engagements generated in memory, with dense blocks planted under camouflage. Baselines
in the same run: Fraudar peeling every node (`prune=False`) and SynchroTrap's whole
accounts x cells product (`synchrotrap_full` below, the implementation before pruning), both
checked to give the same answer; the naive O(|V|^2) peel on a small matrix.

    .venv/bin/python bench/fraudar.py --accounts 1000000 --engagements 10000000
    .venv/bin/python bench/fraudar.py --skip-baseline   # new code only, while iterating

Writes bench/results/fraudar.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ringwatch.detectors.engagement import (
    Block,
    FraudarParams,
    SyncParams,
    fraudar,
    log_weights,
    naive_peel,
    peel,
    similar_clusters,
    synchrotrap,
)


def synchrotrap_full(
    account: np.ndarray,
    target: np.ndarray,
    ts: np.ndarray,
    n_accounts: int,
    params: SyncParams = SyncParams(),
) -> list[np.ndarray]:
    """SynchroTrap as first written: one accounts x cells product over every account."""
    account = np.asarray(account, dtype=np.int64)
    cell_key = np.asarray(target, dtype=np.int64) * (1 << 32) + np.asarray(ts, np.int64) // max(
        params.bucket_s, 1
    )
    _, cell = np.unique(cell_key, return_inverse=True)
    n_cells = int(cell.max()) + 1
    b = sp.csr_matrix((np.ones(account.shape[0]), (account, cell)), shape=(n_accounts, n_cells))
    b.sum_duplicates()
    b.data[:] = 1.0
    size = np.asarray(b.sum(axis=1)).ravel()
    col_deg = np.asarray(b.sum(axis=0)).ravel()
    b = sp.csr_matrix(b @ sp.diags((col_deg <= params.max_bucket_accounts).astype(np.float64)))
    b.eliminate_zeros()
    co = sp.triu(b @ b.T, k=1).tocoo()
    union = size[co.row] + size[co.col] - co.data
    jac = np.divide(co.data, union, out=np.zeros_like(co.data), where=union > 0)
    keep = (co.data >= params.min_common) & (jac >= params.min_jaccard)
    sim = sp.csr_matrix(
        (np.ones(int(keep.sum())), (co.row[keep], co.col[keep])), shape=(n_accounts, n_accounts)
    )
    return similar_clusters(sim, params.min_cluster)


def _same_blocks(a: list[Block], b: list[Block]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x.rows, y.rows) and np.array_equal(x.cols, y.cols)
        for x, y in zip(a, b, strict=True)
    )


def _same_clusters(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def world(n: int, n_targets: int, m: int, blocks: int, seed: int):  # type: ignore[no-untyped-def]
    """Benign engagements with Zipf-popular targets over 30 days; `blocks` farms of 50
    accounts x 20 targets, each member also engaging 20 popular targets (camouflage)."""
    rng = np.random.default_rng(seed)
    w = 1.0 / np.arange(1, n_targets + 1)
    w /= w.sum()
    acc = [rng.integers(0, n, m)]
    tgt = [rng.choice(n_targets, m, p=w)]
    ts = [rng.integers(0, 30 * 86400, m)]
    truth = []
    for _ in range(blocks):
        rows = rng.choice(n, 50, replace=False)
        cols = rng.choice(n_targets, 20, replace=False)
        truth.append(rows)
        r, c = np.meshgrid(rows, cols, indexing="ij")
        start = int(rng.integers(0, 29 * 86400))
        acc.append(r.ravel())
        tgt.append(c.ravel())
        ts.append(start + rng.integers(0, 1800, r.size))
        cam = rng.choice(200, (50, 20))
        acc.append(np.repeat(rows, 20))
        tgt.append(cam.ravel())
        ts.append(rng.integers(0, 30 * 86400, 1000))
    return np.concatenate(acc), np.concatenate(tgt), np.concatenate(ts), truth


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--targets", type=int, default=200_000)
    ap.add_argument("--engagements", type=int, default=10_000_000)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--naive-size", type=int, default=300)
    ap.add_argument("--skip-baseline", action="store_true", help="new code only")
    ap.add_argument("--out", type=Path, default=Path("bench/results/fraudar.json"))
    args = ap.parse_args()

    acc, tgt, ts, truth = world(
        args.accounts, args.targets, args.engagements, args.blocks, args.seed
    )
    matrix = sp.csr_matrix((np.ones(acc.shape[0]), (acc, tgt)), shape=(args.accounts, args.targets))
    # CPU seconds too: on a shared machine wall time mostly measures the neighbours.
    t0, c0 = time.perf_counter(), time.process_time()
    blocks = fraudar(matrix, FraudarParams(max_blocks=args.blocks + 1))
    fraudar_s, fraudar_cpu = time.perf_counter() - t0, time.process_time() - c0
    found = np.unique(np.concatenate([b.rows for b in blocks])) if blocks else np.array([])
    planted = np.unique(np.concatenate(truth))
    hit = np.intersect1d(found, planted).shape[0]

    t0, c0 = time.perf_counter(), time.process_time()
    clusters = synchrotrap(acc, tgt, ts, args.accounts)
    sync_s, sync_cpu = time.perf_counter() - t0, time.process_time() - c0
    sflag = np.unique(np.concatenate(clusters)) if clusters else np.array([])
    shit = np.intersect1d(sflag, planted).shape[0]

    baseline: dict[str, object] = {}
    print(json.dumps({"fraudar_s": fraudar_s, "synchrotrap_s": sync_s}), flush=True)
    if not args.skip_baseline:
        t0, c0 = time.perf_counter(), time.process_time()
        old_blocks = fraudar(matrix, FraudarParams(max_blocks=args.blocks + 1), prune=False)
        baseline["fraudar_unpruned_s"] = round(time.perf_counter() - t0, 3)
        baseline["fraudar_unpruned_cpu_s"] = round(time.process_time() - c0, 3)
        baseline["fraudar_same_blocks"] = _same_blocks(blocks, old_blocks)
        t0, c0 = time.perf_counter(), time.process_time()
        old_clusters = synchrotrap_full(acc, tgt, ts, args.accounts)
        baseline["synchrotrap_full_s"] = round(time.perf_counter() - t0, 3)
        baseline["synchrotrap_full_cpu_s"] = round(time.process_time() - c0, 3)
        baseline["synchrotrap_same_clusters"] = _same_clusters(clusters, old_clusters)

    # Baseline on a small matrix: same answer, O(|V|^2) versus O(|E| log |V|).
    rng = np.random.default_rng(args.seed)
    k = args.naive_size
    small = (rng.random((k, k)) < 0.02).astype(float)
    small[:20, :20] = 1.0
    w = log_weights(sp.csr_matrix(small))
    t0 = time.perf_counter()
    fast = peel(w)
    fast_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = naive_peel(w)
    slow_s = time.perf_counter() - t0

    out = {
        "accounts": args.accounts,
        "targets": args.targets,
        "engagements": int(matrix.nnz),
        "planted_blocks": args.blocks,
        "fraudar_s": round(fraudar_s, 3),
        "fraudar_cpu_s": round(fraudar_cpu, 3),
        "fraudar_blocks": len(blocks),
        "fraudar_precision": round(hit / max(found.shape[0], 1), 4),
        "fraudar_recall": round(hit / planted.shape[0], 4),
        "synchrotrap_s": round(sync_s, 3),
        "synchrotrap_cpu_s": round(sync_cpu, 3),
        "synchrotrap_clusters": len(clusters),
        "synchrotrap_precision": round(shit / max(sflag.shape[0], 1), 4),
        "synchrotrap_recall": round(shit / planted.shape[0], 4),
        **baseline,
        "baseline_size": f"{k}x{k}",
        "heap_peel_small_s": round(fast_s, 4),
        "naive_peel_small_s": round(slow_s, 4),
        "heap_equals_naive": bool(
            np.array_equal(fast.rows, slow.rows) and np.array_equal(fast.cols, slow.cols)
        ),
        "machine": platform.processor() or platform.machine(),
    }
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

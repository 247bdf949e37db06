"""Benchmark engagement rings (issue 12): Fraudar's weighted-core peel and SynchroTrap's
prefix-filtered join at each --scales (default 100k, 300k and 1M accounts; 10 engagements and
0.2 targets per account, generated in memory, with dense blocks planted under camouflage).

Baseline in the same run, at every scale: the code as first written (bench/engagement_baseline.py:
Fraudar peeling every node, SynchroTrap's whole accounts x cells product), each in a forked
process stopped after --old-timeout seconds (then recorded as "did not finish in N s"), checked
to give the same blocks and clusters when it finishes. The old Fraudar has no expectation test
(`expected_lift`): where its block is under 2x the configuration-model expectation, the new
code rejects it and reports the inner peel's block instead (same_blocks false). Also the naive
O(|V|^2) peel on a small matrix, and Fraudar's own example (the authors' code ships a
500 x 500 sparse matrix with a 20 x 20 clique injected in the first 20 rows and columns;
regenerated here with the same shape).

    .venv/bin/python bench/fraudar.py                       # 100k, 300k, 1M with baselines
    .venv/bin/python bench/fraudar.py --scales 100000 --skip-baseline   # while iterating

Writes bench/results/fraudar.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

# bench/engagement_baseline.py and bench/machine.py, beside this script
from engagement_baseline import fraudar_v1, synchrotrap_v1
from machine import clocked, machine_info

from ringwatch.detectors.engagement import (
    Block,
    FraudarParams,
    fraudar,
    log_weights,
    naive_peel,
    peel,
    synchrotrap,
)


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


def timed(fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> dict[str, Any]:
    """Run fn(*args): wall and CPU seconds and its result. With a timeout, in a forked process
    (it shares the arrays, copy on write) that is stopped after `timeout` seconds."""
    if timeout is None:
        result, wall, cpu = clocked(fn, *args)
        return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "result": result}
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)

    def child() -> None:
        import resource

        result, wall, cpu = clocked(fn, *args)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        send.send(
            {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "rss_bytes": rss, "result": result}
        )

    proc = ctx.Process(target=child)
    t0 = time.perf_counter()
    proc.start()
    send.close()
    out: dict[str, Any]
    if recv.poll(timeout):
        out = recv.recv()
    else:
        out = {"did_not_finish_s": round(time.perf_counter() - t0, 1), "result": None}
        proc.kill()
    proc.join()
    return out


def paper_example(seed: int) -> list[dict[str, Any]]:
    """Fraudar's example: a 500 x 500 sparse matrix with a 20 x 20 clique in the first 20 rows
    and columns, at a few background densities, with and without camouflage (the clique's rows
    also engaging 20 random columns each)."""
    out = []
    for density in (0.01, 0.02, 0.05):
        for camouflage in (False, True):
            rng = np.random.default_rng(seed)
            m = (rng.random((500, 500)) < density).astype(np.float64)
            m[:20, :20] = 1.0
            if camouflage:
                for r in range(20):
                    m[r, rng.choice(np.arange(20, 500), 20, replace=False)] = 1.0
            csr = sp.csr_matrix(m)
            t0 = time.perf_counter()
            best = peel(log_weights(csr))
            peel_s = time.perf_counter() - t0
            blocks = fraudar(csr)
            first = blocks[0] if blocks else Block(np.zeros(0, np.int64), np.zeros(0, np.int64), 0)
            out.append(
                {
                    "background_density": density,
                    "camouflage": camouflage,
                    "edges": int(csr.nnz),
                    "peel_rows": int(best.rows.shape[0]),
                    "peel_cols": int(best.cols.shape[0]),
                    "peel_exact": best.rows.tolist() == list(range(20))
                    and best.cols.tolist() == list(range(20)),
                    "peel_s": round(peel_s, 4),
                    "fraudar_blocks": len(blocks),
                    "fraudar_first_block_exact": first.rows.tolist() == list(range(20))
                    and first.cols.tolist() == list(range(20)),
                }
            )
    return out


def scale_run(n: int, args: argparse.Namespace) -> dict[str, Any]:
    n_targets = max(int(n * args.targets_per_account), 1000)
    m = int(n * args.engagements_per_account)
    acc, tgt, ts, truth = world(n, n_targets, m, args.blocks, args.seed)
    matrix = sp.csr_matrix((np.ones(acc.shape[0]), (acc, tgt)), shape=(n, n_targets))
    planted = np.unique(np.concatenate(truth))
    fparams = FraudarParams(max_blocks=args.blocks + 1)
    row: dict[str, Any] = {
        "accounts": n,
        "targets": n_targets,
        "engagements": int(matrix.nnz),
        "actions": int(acc.shape[0]),
        "planted_accounts": int(planted.shape[0]),
        "loadavg_start": os.getloadavg(),
    }

    def quality(prefix: str, flagged: np.ndarray) -> None:
        hit = np.intersect1d(flagged, planted).shape[0]
        row[f"{prefix}_precision"] = round(hit / max(flagged.shape[0], 1), 4)
        row[f"{prefix}_recall"] = round(hit / planted.shape[0], 4)

    # CPU seconds too: on a shared machine wall time mostly measures the neighbours.
    new_f = timed(fraudar, matrix, fparams)
    blocks = new_f.pop("result")
    row["fraudar"] = {**new_f, "blocks": len(blocks)}
    quality(
        "fraudar", np.unique(np.concatenate([b.rows for b in blocks])) if blocks else planted[:0]
    )
    new_s = timed(synchrotrap, acc, tgt, ts, n)
    clusters = new_s.pop("result")
    row["synchrotrap"] = {**new_s, "clusters": len(clusters)}
    quality("synchrotrap", np.unique(np.concatenate(clusters)) if clusters else planted[:0])
    print(json.dumps({k: v for k, v in row.items() if k != "loadavg_start"}), flush=True)
    if not args.skip_baseline:
        old_f = timed(fraudar_v1, matrix, fparams, timeout=args.old_timeout)
        old_blocks = old_f.pop("result")
        if old_blocks is not None:
            old_f["same_blocks"] = _same_blocks(blocks, old_blocks)
        row["fraudar_v1"] = old_f
        print(json.dumps({"accounts": n, "fraudar_v1": old_f}), flush=True)
        old_s = timed(synchrotrap_v1, acc, tgt, ts, n, timeout=args.old_timeout)
        old_clusters = old_s.pop("result")
        if old_clusters is not None:
            old_s["same_clusters"] = _same_clusters(clusters, old_clusters)
        row["synchrotrap_v1"] = old_s
        print(json.dumps({"accounts": n, "synchrotrap_v1": old_s}), flush=True)
    row["loadavg_end"] = os.getloadavg()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    ap.add_argument("--targets-per-account", type=float, default=0.2)
    ap.add_argument("--engagements-per-account", type=float, default=10.0)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--naive-size", type=int, default=300)
    ap.add_argument(
        "--old-timeout", type=float, default=1200.0, help="seconds before a baseline run is stopped"
    )
    ap.add_argument("--skip-baseline", action="store_true", help="new code only")
    ap.add_argument("--out", type=Path, default=Path("bench/results/fraudar.json"))
    args = ap.parse_args()
    load_before = os.getloadavg()

    scales = [scale_run(n, args) for n in args.scales]

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
        "scales": scales,
        "planted_blocks": args.blocks,
        "old_timeout_s": None if args.skip_baseline else args.old_timeout,
        "naive": {
            "size": f"{k}x{k}",
            "heap_peel_s": round(fast_s, 4),
            "naive_peel_s": round(slow_s, 4),
            "heap_equals_naive": bool(
                np.array_equal(fast.rows, slow.rows) and np.array_equal(fast.cols, slow.cols)
            ),
        },
        "paper_example_500x500": paper_example(args.seed),
        "machine": machine_info(load_before),
    }
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""CPU per event of validation (JSON decode, schema, normalise, pseudonymise): what `ringwatch
load`'s workers and `ringwatch ingest`'s normalisers spend on each event before the graph.

Each run is a fresh process that reads a file in chunks of the batch size, as the loader does,
and validates each chunk with `validate_events`; only those calls' CPU seconds count. Give
`--base DIR` (a tree holding another version's `ringwatch/`, e.g. `git archive main ringwatch |
tar -x -C /tmp/base`) to run both versions on the same files, alternating, in the same session,
and to check that they give the same records and rejections: every chunk's output is pickled to
a temporary file and compared old against new, value and type (`repr`), record by record.

    .venv/bin/python bench/validate.py FILE... --base /tmp/base --rounds 2

Writes bench/results/validate.json (`--out`).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from machine import machine_info, run_in_tree, trees, write_result  # noqa: E402

KEY = b"bench-validate-key-0123456789abcdef"


def child(code: Path, path: Path, batch: int, dump: Path) -> None:
    """Runs in its own process, with `code`'s ringwatch first on the path."""
    sys.path.insert(0, str(code))
    from ringwatch.event_files import read_raw_events
    from ringwatch.identity import Pseudonymiser
    from ringwatch.services.ingest import validate_events

    hasher = Pseudonymiser(KEY)
    events = rejected = 0
    cpu = 0.0
    lines = read_raw_events(path)
    with open(dump, "wb") as out:
        while chunk := list(islice(lines, batch)):
            started = time.process_time()
            records, problems = validate_events(chunk, hasher)
            cpu += time.process_time() - started
            events += len(chunk)
            rejected += len(problems)
            pickle.dump((records, problems), out, protocol=pickle.HIGHEST_PROTOCOL)
    print(orjson.dumps({"events": events, "rejected": rejected, "cpu_s": cpu}).decode())


def _run(code: Path, path: Path, batch: int, dump: Path) -> dict[str, Any]:
    result = run_in_tree(__file__, code, str(path), "--batch", str(batch), "--dump", str(dump))
    result["us_per_event"] = round(result["cpu_s"] / max(result["events"], 1) * 1e6, 2)
    return result


def _chunks(dump: Path) -> Any:
    with open(dump, "rb") as handle:
        while True:
            try:
                yield pickle.load(handle)
            except EOFError:
                return


def same_output(old: Path, new: Path) -> tuple[bool, int, int]:
    """(identical, records, rejections): values and types (`repr`), chunk by chunk."""
    records = problems = 0
    for (a_rec, a_pro), (b_rec, b_pro) in zip(_chunks(old), _chunks(new), strict=True):
        if a_rec != b_rec or repr(a_rec) != repr(b_rec) or a_pro != b_pro:
            return False, records, problems
        records += len(a_rec)
        problems += len(a_pro)
    return True, records, problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--base", type=Path, help="a tree with the old ringwatch/ to compare")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2000, help="events per chunk (batch size)")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/validate.json")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.files[0], args.batch, args.dump)
        return

    load_before = os.getloadavg()
    codes = trees(args.base)
    runs: list[dict[str, Any]] = []
    identical: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        for path in args.files:
            for round_ in range(args.rounds):
                # Alternate which version goes first: the neighbours' load drifts.
                order = sorted(codes, reverse=round_ % 2 == 1)
                for name in order:
                    dump = Path(tmp) / f"{name}.pkl"
                    result = {"file": str(path), "code": name, "round": round_}
                    result |= _run(codes[name], path, args.batch, dump)
                    runs.append(result)
                    print(orjson.dumps(result).decode(), flush=True)
                if round_ == 0 and args.base:
                    same, n_rec, n_pro = same_output(Path(tmp) / "old.pkl", Path(tmp) / "new.pkl")
                    identical[str(path)] = {
                        "identical": same,
                        "records": n_rec,
                        "rejections": n_pro,
                    }
                    print(
                        f"{path}: identical={same} records={n_rec} rejections={n_pro}", flush=True
                    )
    summary = {}
    for path in args.files:
        for name in codes:
            mine = [r["us_per_event"] for r in runs if r["file"] == str(path) and r["code"] == name]
            summary[f"{path}:{name}"] = {"min_us": min(mine), "runs_us": mine}
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    write_result(
        args.out,
        {
            "bench": "validate",
            "batch": args.batch,
            "runs": runs,
            "identical": identical,
            "summary": summary,
            "machine": machine_info(load_before),
        },
    )


if __name__ == "__main__":
    main()

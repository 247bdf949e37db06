"""A dense social graph as events: the shape of the 12-minute `detect --full` of issue 13.

    .venv/bin/python bench/social.py OUT.jsonl [--accounts 8078] [--friends 11] [--seed 1]

Accounts sign up (a device and an IP each, a few shared as households do), then befriend each
other along a preferential-attachment graph (networkx's Barabási-Albert model): a few accounts
with thousands of friends, most with a handful, as on a real social network. Each friendship is
sent twice, once from each side, as a platform's own export holds it. 8,078 accounts with 11
friends added per signup give ~177k relation events and ~185k events in all, the size reported.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx
import orjson

START = datetime(2026, 1, 1, tzinfo=UTC)


def _ts(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def write_social_world(out: Path, accounts: int, friends: int, seed: int) -> int:
    """Write the events to `out`; returns how many."""
    rng = random.Random(seed)
    graph = nx.barabasi_albert_graph(accounts, friends, seed=seed)
    n = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as handle:
        for node in range(accounts):
            # Households of about three share a router, so IPs link a few accounts, as in life.
            home = node // 3
            event = {
                "event_id": f"s-{node}",
                "type": "signup",
                "ts": _ts(node * 60),
                "account_id": f"u-{node}",
                "device_id": f"dev-{node}",
                "ip": f"10.{home // 65536 % 256}.{home // 256 % 256}.{home % 256}",
                "country": rng.choice(("US", "GB", "DE", "FR", "BR")),
            }
            handle.write(orjson.dumps(event) + b"\n")
            n += 1
        for i, (a, b) in enumerate(sorted(graph.edges())):
            base = accounts * 60 + i * 5
            for j, (x, y) in enumerate(((a, b), (b, a))):
                event = {
                    "event_id": f"f-{i}-{j}",
                    "type": "relation",
                    "ts": _ts(base + j),
                    "account_id": f"u-{x}",
                    "other_account_id": f"u-{y}",
                    "kind": "friend",
                }
                handle.write(orjson.dumps(event) + b"\n")
                n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--accounts", type=int, default=8078)
    parser.add_argument("--friends", type=int, default=11, help="friends added per signup")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n = write_social_world(args.out, args.accounts, args.friends, args.seed)
    print(f"{n:,} events written to {args.out}")


if __name__ == "__main__":
    main()

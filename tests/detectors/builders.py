"""Small hand-built platforms shared by the detector tests: a clock, a device farm, accounts
signed up with one link, the engagement an ordinary platform has around a test's accounts."""

from __future__ import annotations

from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder

T0 = 1_700_000_000
DAY = 86400


def farm(builder: SnapshotBuilder, prefix: str, size: int, t0: int = T0) -> list[str]:
    """A device farm: one emulator and one stolen card behind `size` accounts in one hour."""
    ids = [f"{prefix}{i:02d}" for i in range(size)]
    for i, a in enumerate(ids):
        builder.add_account(a, {"created_at": t0 + 60 * i, "country": "US"})
        builder.add_link(a, "device", f"{prefix}-emu", 1, t0)
        builder.add_link(a, "card", f"{prefix}-card", 1, t0)
        builder.add_link(a, "email", f"{prefix}-mail{i}", 1, t0)
    return ids


def rows(snapshot: Snapshot, ids: list[str]) -> list[int]:
    index = snapshot.account_index()
    return sorted(index[a] for a in ids)


def signup(builder: SnapshotBuilder, account: str, ts: int, kind: str, key: str) -> None:
    """An account created at `ts` with one link of `kind`, first seen then."""
    builder.add_account(account, {"created_at": ts})
    builder.add_link(account, kind, key, 1, ts)


def everyday_likes(builder: SnapshotBuilder, people: int = 200, posts: int = 20) -> None:
    """A platform's ordinary engagement: `people` each liking two of `posts` popular posts,
    each in an hour of their own, so that no two of them meet within minutes. Without it a
    handful of accounts on a handful of posts is the whole platform, and chance explains any
    meeting."""
    for i in range(people):
        person, at = f"everyday{i:04d}", T0 - 400 * DAY + 3600 * i
        builder.add_account(person, {"created_at": at - 30 * DAY})
        builder.add_engagement(person, f"popular{i % posts}", "like", at)
        builder.add_engagement(person, f"popular{(i + 1) % posts}", "like", at + 60)

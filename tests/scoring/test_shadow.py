"""Shadow comparison on a hand-made set of paired decisions."""

from __future__ import annotations

from ringwatch.scoring.shadow import compare, compare_many
from ringwatch.scoring.strategy import Decision, Fired


def dec(action: str, *rules: str) -> Decision:
    return Decision("s", "1", "signup", action, 0,
                    tuple(Fired(r, 10, r.upper(), {}) for r in rules))


def test_agreement_mix_rules_and_confusion() -> None:
    pairs = [
        (dec("allow"), dec("allow")),
        (dec("allow"), dec("challenge", "new")),
        (dec("review", "farm"), dec("block", "farm", "new")),
        (dec("block", "ring"), dec("review", "ring")),
        (dec("allow"), dec("allow")),
    ]
    c = compare(pairs)
    out = c.to_dict()
    assert out["decisions"] == 5
    assert out["agreement"] == 2 / 5
    assert (out["candidate_stricter"], out["candidate_looser"]) == (2, 1)
    assert out["action_mix"]["live"]["allow"] == {"count": 3, "share": 0.6}
    assert out["action_mix"]["candidate"]["block"]["count"] == 1
    assert out["rules_fired"] == {"live": {"farm": 1, "ring": 1},
                                  "candidate": {"new": 2, "farm": 1, "ring": 1}}
    assert out["confusion"]["allow"]["allow"] == 2
    assert out["confusion"]["allow"]["challenge"] == 1
    assert out["confusion"]["review"]["block"] == 1
    assert out["confusion"]["block"]["review"] == 1
    assert sum(sum(row.values()) for row in out["confusion"].values()) == 5


def test_many_candidates_and_stored_dicts() -> None:
    live = dec("allow").to_dict()
    records = [
        (live, {"a@1": dec("allow"), "b@1": dec("block", "x").to_dict()}),
        (dec("review", "farm"), {"a@1": dec("review", "farm")}),
    ]
    result = compare_many(records)
    assert result["a@1"].n == 2 and result["a@1"].agreement == 1.0
    assert result["b@1"].n == 1 and result["b@1"].agreement == 0.0
    assert result["b@1"].candidate_rules == {"x": 1}


def test_empty() -> None:
    out = compare([]).to_dict()
    assert out["agreement"] is None and out["action_mix"]["live"]["allow"]["share"] is None

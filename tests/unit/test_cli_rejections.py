"""The rejection summary that `ringwatch ingest` and `ringwatch load` print."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringwatch.cli.common import print_rejections
from ringwatch.errors import Problem


def test_most_common_reasons_first_with_counts(capsys: pytest.CaptureFixture[str]) -> None:
    rejected = [Problem("ts", "needs a UTC offset")] * 3 + [Problem("card", "Field required")]
    print_rejections(rejected, Path("rejects.jsonl"), most=1)
    err = capsys.readouterr().err
    assert "rejected events are in rejects.jsonl" in err
    assert "3  ts: needs a UTC offset" in err
    assert "card" not in err  # only the most common one was asked for


def test_nothing_rejected_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    print_rejections([], Path("rejects.jsonl"))
    assert capsys.readouterr().err == ""

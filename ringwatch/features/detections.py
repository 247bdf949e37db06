"""Precomputed features: per-account rows of a detection run, from exports or a result object."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from ringwatch.features.assemble import DetectionFacts
from ringwatch.quality.readers import EvaderRow, FlaggedRing, read_evaders, read_rings

if TYPE_CHECKING:
    from ringwatch.detectors.pipeline import DetectionResult

_NOTHING = DetectionFacts()


class Detections:
    """Account -> DetectionFacts. An account the run did not flag gets the 'none' row (the run
    looked and found nothing), which is different from having no run at all (features null)."""

    def __init__(self, facts: Mapping[str, DetectionFacts]) -> None:
        self._facts = dict(facts)

    def __len__(self) -> int:
        return len(self._facts)

    def get(self, account_id: str) -> DetectionFacts:
        return self._facts.get(account_id, _NOTHING)

    @classmethod
    def from_rows(
        cls, rings: Iterable[FlaggedRing], evaders: Iterable[EvaderRow] = ()
    ) -> Detections:
        ring_of: dict[str, FlaggedRing] = {}
        for row in rings:
            for member in row.members:
                # An account in several rings (overlapping exports) is judged by the worst one.
                if member not in ring_of or row.score > ring_of[member].score:
                    ring_of[member] = row
        evader_score: dict[str, float] = {}
        for match in evaders:
            # docs/exports.md: if an account appears on several lines, the first line counts.
            evader_score.setdefault(match.account_id, match.score)
        facts = {}
        for account in ring_of.keys() | evader_score.keys():
            ring: FlaggedRing | None = ring_of.get(account)
            facts[account] = DetectionFacts(
                ring_verdict=ring.verdict if ring else "none",
                ring_size=len(ring.members) if ring else 0,
                ring_score=ring.score if ring else 0.0,
                evader_score=evader_score.get(account, 0.0),
            )
        return cls(facts)

    @classmethod
    def from_files(
        cls, rings: Path | None, evaders: Path | None = None, accounts: Path | None = None
    ) -> Detections:
        """rings.jsonl / evaders.jsonl as in docs/exports.md (raises quality's ExportError);
        accounts.jsonl adds its `sybil_score` and `engagement_score` columns where present."""
        out = cls.from_rows(
            read_rings(rings) if rings else [], read_evaders(evaders) if evaders else []
        )
        if accounts is not None:
            with accounts.open("rb") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    row = orjson.loads(line)
                    sybil = row.get("sybil_score")
                    engaged = float(row.get("engagement_score") or 0.0)
                    if (sybil is None or sybil == 0.5) and engaged <= 0:
                        continue
                    account = str(row["account_id"])
                    out._facts[account] = dataclasses.replace(
                        out.get(account),
                        sybil_score=None if sybil is None or sybil == 0.5 else float(sybil),
                        engagement_score=engaged,
                    )
        return out

    @classmethod
    def from_result(cls, result: DetectionResult) -> Detections:
        rings = [
            FlaggedRing(r.ring_id, frozenset(r.members), r.verdict, r.score) for r in result.rings
        ]
        evaders = [
            EvaderRow(e.account_id, [m.banned_id for m in e.matched], e.score)
            for e in result.evaders
        ]
        out = cls.from_rows(rings, evaders)
        n = len(result.accounts)
        sybil = result.sybil_score if result.sybil_score is not None else [0.5] * n
        engaged = result.engagement_score if result.engagement_score is not None else [0.0] * n
        for account, s, e in zip(result.accounts.tolist(), list(sybil), list(engaged), strict=True):
            if s != 0.5 or e > 0:
                out._facts[str(account)] = dataclasses.replace(
                    out.get(str(account)),
                    sybil_score=None if s == 0.5 else float(s),
                    engagement_score=float(e),
                )
        return out

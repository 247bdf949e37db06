"""What a repository needs of a store: run a read, run one write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Runner(Protocol):
    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...
    def write(self, query: str, params: Mapping[str, Any] | None = None) -> None: ...

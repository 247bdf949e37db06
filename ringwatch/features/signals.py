"""Account signals that need no graph: disposable email domains, datacenter ranges, declared age."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=1)
def disposable_domains() -> frozenset[str]:
    """The built-in list (package data), one domain per line, `#` comments."""
    text = resources.files("ringwatch.features").joinpath("disposable_domains.txt").read_text()
    return frozenset(_entries(text.splitlines()))


def _entries(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        entry = line.split("#", 1)[0].strip().lower()
        if entry:
            yield entry


def is_disposable(domain: str | None, domains: frozenset[str] | None = None) -> bool | None:
    """True when the domain or a parent of it is listed: throwaway services hand out
    subdomains (`x.mailinator.com`) as freely as addresses. None for no domain."""
    if not domain:
        return None
    listed = disposable_domains() if domains is None else domains
    labels = domain.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in listed for i in range(len(labels) - 1))


class DatacenterRanges:
    """CIDR ranges of hosting providers, VPN and proxy exits, supplied by configuration.

    What it can know: whether an address (or a /24, /48 subnet, which is all records keep in
    clear) falls in a listed range. What it cannot: residential proxies (ordinary consumer
    addresses rented out), ranges missing from the list, or reassigned ones. A subnet that only
    partly overlaps a range counts as inside, so a narrow listed range flags its whole /24.
    """

    def __init__(self, cidrs: Iterable[str]) -> None:
        nets: list[Network] = []
        for raw in _entries(cidrs):
            try:
                nets.append(ipaddress.ip_network(raw, strict=False))
            except ValueError as e:
                raise ValueError(f"not a CIDR range: {raw!r}") from e
        self._by_version: dict[int, list[Network]] = {
            v: [n for n in nets if n.version == v] for v in (4, 6)
        }

    @classmethod
    def from_file(cls, path: Path) -> DatacenterRanges:
        """One CIDR per line, `#` comments and blank lines ignored."""
        return cls(path.read_text(encoding="utf-8").splitlines())

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_version.values())

    def contains(self, address_or_subnet: str | None) -> bool | None:
        """None when no address is known; False for text that is no address."""
        if not address_or_subnet:
            return None
        try:
            net = ipaddress.ip_network(address_or_subnet.strip(), strict=False)
        except ValueError:
            return False
        return any(net.overlaps(r) for r in self._by_version[net.version])


def declared_age_years(birthdate: str | None, at: dt.date) -> int | None:
    """Completed years on `at`; None for no or unreadable birthdate (events are validated, but
    the store may hold older data)."""
    if not birthdate:
        return None
    try:
        born = dt.date.fromisoformat(birthdate)
    except ValueError:
        return None
    years = at.year - born.year - ((at.month, at.day) < (born.month, born.day))
    return max(years, 0)

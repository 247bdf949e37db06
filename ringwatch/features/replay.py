"""Features as of each event's time, from an in-memory replay of normalised records.

Backtests feed records in time order to `ReplayState.observe`: the record is applied first (the
decision service ingests the decision's event before deciding, so a signup's own device counts),
then the features of the account are read and assembled exactly as the live service does
(`features.assemble`). Counts exclude the account itself.

Precomputed features come from `Detections`. If those were computed over the whole history,
they know the future (a ring detected in June colours a signup in March): backtests with them
measure "strategy + perfect hindsight detection", an upper bound, and say so in their report.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

from ringwatch.features.assemble import AccountFacts, DetectionFacts, GraphFacts, assemble
from ringwatch.features.detections import Detections
from ringwatch.features.registry import FeatureValue
from ringwatch.features.signals import DatacenterRanges
from ringwatch.records import on_emulator
from ringwatch.vocabulary import STRONG_KINDS

STRONG: frozenset[str] = frozenset(STRONG_KINDS)
# Event type -> checkpoint decided on it; other event types only change the state.
CHECKPOINT_OF: Mapping[str, str] = {
    "signup": "signup",
    "login": "login",
    "payment": "payment",
    "engage": "content",
}
VELOCITY_WINDOW_S = 3600

Ident = tuple[str, str]


class ReplayState:
    def __init__(
        self,
        *,
        detections: Detections | None = None,
        datacenter: DatacenterRanges | None = None,
        min_age: int | None = None,
    ) -> None:
        self.detections = detections
        self.datacenter = datacenter
        self.min_age = min_age
        self._accounts_on: dict[Ident, set[str]] = defaultdict(set)  # strong ids and subnets
        self._strong_of: dict[str, set[Ident]] = defaultdict(set)
        self._devices_of: dict[str, set[Ident]] = defaultdict(set)
        # Banned accounts per identifier, kept up to date on bans and new links, so a hub
        # device shared by thousands costs nothing per decision.
        self._banned_on: dict[Ident, set[str]] = defaultdict(set)
        self._banned: set[str] = set()
        self._created: dict[str, int] = {}
        self._signed_up: set[str] = set()
        self._birthdate: dict[str, str] = {}
        self._domain: dict[str, str] = {}
        self._subnet: dict[str, str] = {}
        self._signups: dict[str, deque[tuple[int, str]]] = defaultdict(deque)
        self.last_ts = 0
        self.out_of_order = 0

    @property
    def created(self) -> Mapping[str, int]:
        """Account -> creation time (s) as replayed so far."""
        return self._created

    @property
    def banned(self) -> frozenset[str]:
        return frozenset(self._banned)

    def observe(self, rec: Mapping[str, Any]) -> dict[str, FeatureValue] | None:
        """Apply one record; return the account's features if the record is a checkpoint."""
        self.apply(rec)
        checkpoint = CHECKPOINT_OF.get(rec["t"])
        if checkpoint is None:
            return None
        return self.features(rec["a"], checkpoint, int(rec["ts"]) // 1000, rec)

    def apply(self, rec: Mapping[str, Any]) -> None:
        ts = int(rec["ts"]) // 1000
        if ts < self.last_ts:
            self.out_of_order += 1
        self.last_ts = max(self.last_ts, ts)
        account = rec["a"]
        if rec["t"] == "signup" and account not in self._signed_up:
            self._signed_up.add(account)
            self._created[account] = ts
        elif account not in self._created:
            # Until a signup shows up, the first event stands in for account creation.
            self._created[account] = ts
        for kind, key in rec["ids"]:
            if kind in STRONG or kind == "subnet":
                self._link(account, (kind, key))
            if kind == "subnet":
                self._subnet[account] = key
        if "email_domain" in rec:
            self._domain[account] = rec["email_domain"][1]
        birthdate = (rec.get("profile") or {}).get("birthdate")
        if birthdate:
            self._birthdate[account] = birthdate
        if rec["t"] == "signup" and "ip_subnet" in rec:
            self._signups[rec["ip_subnet"][1]].append((ts, account))
        if rec["t"] == "enforcement":
            if rec.get("action") == "ban":
                self._set_banned(account, True)
            elif rec.get("action") == "clear":
                self._set_banned(account, False)

    def _link(self, account: str, ident: Ident) -> None:
        members = self._accounts_on[ident]
        if account in members:
            return
        members.add(account)
        if ident[0] == "subnet":
            return
        self._strong_of[account].add(ident)
        if ident[0] == "device":
            self._devices_of[account].add(ident)
        if account in self._banned:
            self._banned_on[ident].add(account)

    def _set_banned(self, account: str, banned: bool) -> None:
        if banned == (account in self._banned):
            return
        if banned:
            self._banned.add(account)
        else:
            self._banned.discard(account)
        for ident in self._strong_of.get(account, ()):
            if banned:
                self._banned_on[ident].add(account)
            else:
                self._banned_on[ident].discard(account)

    def graph_facts(self, account: str, now: int, subnet: str | None) -> GraphFacts:
        strong = self._strong_of.get(account, set())
        shared = 0
        neighbours: set[str] = set()
        for ident in strong:
            others = self._banned_on.get(ident)
            if others and (len(others) > 1 or account not in others):
                shared += 1
                neighbours |= others
        neighbours.discard(account)
        devices = self._devices_of.get(account, set())
        subnet_members = self._accounts_on.get(("subnet", subnet), set()) if subnet else set()
        return GraphFacts(
            device_accounts=max((len(self._accounts_on[d]) - 1 for d in devices), default=0),
            subnet_accounts=len(subnet_members) - (account in subnet_members),
            subnet_signups_1h=self._velocity(subnet, account, now) if subnet else 0,
            shared_with_banned=shared,
            banned_neighbours=len(neighbours),
        )

    def _velocity(self, subnet: str, account: str, now: int) -> int:
        window = self._signups.get(subnet)
        if not window:
            return 0
        while window and window[0][0] <= now - VELOCITY_WINDOW_S:
            window.popleft()
        return sum(1 for ts, other in window if other != account and ts <= now)

    def features(
        self, account: str, checkpoint: str, now: int, rec: Mapping[str, Any] | None = None
    ) -> dict[str, FeatureValue]:
        subnet = rec["ip_subnet"][1] if rec and "ip_subnet" in rec else self._subnet.get(account)
        facts = AccountFacts(
            created_at=self._created.get(account),
            birthdate=self._birthdate.get(account),
            email_domain=self._domain.get(account),
            subnet=subnet,
            banned=account in self._banned,
            emulator=on_emulator(rec),
        )
        detection: DetectionFacts | None = (
            None if self.detections is None else self.detections.get(account)
        )
        return assemble(
            checkpoint,
            now,
            facts,
            self.graph_facts(account, now, subnet),
            detection,
            datacenter=self.datacenter,
            min_age=self.min_age,
        )

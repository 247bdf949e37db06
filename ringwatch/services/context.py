"""Wire one process's services from `Settings`: the composition root for API, workers and CLI."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis

from ringwatch.features import DatacenterRanges
from ringwatch.graph.factory import open_redis, open_store, release
from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.services.decision_log import DecisionLog
from ringwatch.services.decisions import DecisionService, StrategySet
from ringwatch.services.ingest import IngestService
from ringwatch.services.intake import Intake
from ringwatch.services.velocity import Velocity
from ringwatch.settings import Settings


@dataclass
class Services:
    settings: Settings
    # Whether close() stops an embedded engine this process started; `ringwatch serve` keeps it
    # until its worker has stopped.
    release_engine: bool = True

    @cached_property
    def store(self) -> GraphStore:
        return open_store(self.settings)

    @cached_property
    def redis(self) -> redis.Redis:
        return open_redis(self.settings)

    @cached_property
    def intake(self) -> Intake:
        return Intake(self.redis, self.settings.dedupe_window_days)

    @cached_property
    def hasher(self) -> Pseudonymiser:
        return Pseudonymiser(self.settings.hash_key.get_secret_value().encode())

    @cached_property
    def ingest(self) -> IngestService:
        return IngestService(
            self.store,
            self.intake,
            self.hasher,
            self.settings.batch_size,
            velocity=Velocity(self.redis),
        )

    @cached_property
    def strategies(self) -> StrategySet:
        """The live and shadow strategies; raises `Invalid` (not cached) when they do not load."""
        s = self.settings
        return StrategySet.load(s.strategies_dir, s.live_strategy, s.shadow_strategies)

    @cached_property
    def decisions(self) -> DecisionService:
        settings = self.settings
        datacenter = None
        if settings.datacenter_ranges_file:
            datacenter = DatacenterRanges(settings.datacenter_ranges_file.read_text().splitlines())
        return DecisionService(
            self.store,
            self.redis,
            self.ingest,
            self.strategies,
            DecisionLog(self.redis, settings.decision_retention_days),
            cache_ttl_s=settings.feature_cache_ttl_s,
            datacenter=datacenter,
        )

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if "redis" in self.__dict__:
            self.redis.close()
        if self.release_engine:
            release(self.settings)

"""Wire one process's services from `Settings`: the composition root for API, workers and CLI.

Every service is built here, once per process (on first use); routers, tasks and commands only
fetch them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis
from celery import Celery

from ringwatch.features import DatacenterRanges
from ringwatch.graph.factory import open_redis, open_store, release
from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.services.coalescing import CoalescingQueue
from ringwatch.services.decision_log import DecisionLog
from ringwatch.services.decisions import DecisionService, StrategySet
from ringwatch.services.detection import DetectionService
from ringwatch.services.detection_queue import DetectionQueue
from ringwatch.services.fanout import FanOut
from ringwatch.services.ingest import IngestService
from ringwatch.services.intake import Intake
from ringwatch.services.keys import KeyService
from ringwatch.services.reviews import ReviewService
from ringwatch.services.ring_actions import RingActionService
from ringwatch.services.tasks import DETECT_SHARD, CeleryQueue, celery_client, send
from ringwatch.services.velocity import Velocity
from ringwatch.services.webhooks import WebhookService
from ringwatch.settings import Settings


@dataclass
class Services:
    settings: Settings
    # Whether close() stops an embedded engine this process started; `ringwatch serve` keeps it
    # until its worker has stopped.
    release_engine: bool = True
    # The community algorithm's seed (`ringwatch detect --seed`); same seed, same rings.
    detection_seed: int = 0

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
            keys=self.keys,
        )

    @cached_property
    def keys(self) -> KeyService:
        return KeyService(self.redis, self.settings)

    @cached_property
    def reviews(self) -> ReviewService:
        settings = self.settings
        return ReviewService(
            self.store,
            self.ingest,
            self.redis,
            fraud_action=settings.review_fraud_action,
            claim_minutes=settings.review_claim_minutes,
        )

    @cached_property
    def ring_actions(self) -> RingActionService:
        return RingActionService(self.store, self.ingest, self.redis)

    @cached_property
    def webhooks(self) -> WebhookService:
        # Its HTTP client opens at the first delivery only; management calls never open one.
        return WebhookService(
            self.redis, self.store, allow_private=self.settings.webhooks_may_call_private
        )

    @cached_property
    def detection(self) -> DetectionService:
        settings = self.settings
        fan = None
        if settings.detection_shards > 1:
            fan = FanOut(
                settings.detection_runs_root,
                settings.detection_shards,
                send=lambda run_id, part: send(self.celery, DETECT_SHARD, run_id, part),
                timeout_s=settings.detection_shard_timeout_s,
            )
        return DetectionService.from_settings(
            self.store, settings, seed=self.detection_seed, fanout=fan
        )

    @cached_property
    def detection_queue(self) -> DetectionQueue:
        return DetectionQueue(self.redis)

    @cached_property
    def celery(self) -> Celery:
        """A client of the workers' broker, which sends tasks by name (`services.tasks`)."""
        return celery_client(self.settings)

    @cached_property
    def batch_queue(self) -> CoalescingQueue:
        """Where the API puts accepted batch ids: coalesced, then sent to the ingest tasks."""
        return CoalescingQueue(CeleryQueue(self.celery).enqueue_many)

    def close(self) -> None:
        if "batch_queue" in self.__dict__:
            self.batch_queue.close()
        if "webhooks" in self.__dict__:
            self.webhooks.close()
        if "store" in self.__dict__:
            self.store.close()
        if "redis" in self.__dict__:
            self.redis.close()
        if self.release_engine:
            release(self.settings)

"""One settings object for every process (API, workers, CLI), read from `RINGWATCH_*` env vars."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_HASH_KEY = "ringwatch-development-key-do-not-use-in-production"
# Shipped as package data, so an installed wheel or a container decides with no files beside it;
# a deployment's own RINGWATCH_STRATEGIES_DIR replaces it.
PACKAGED_STRATEGIES = Path(__file__).parent / "strategies"
DEV_NEO4J_PASSWORD = "ringwatch-test-password"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RINGWATCH_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"

    # Graph store. No Neo4j URI means the embedded FalkorDB engine under `data_dir`.
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr(DEV_NEO4J_PASSWORD)
    neo4j_database: str = "neo4j"
    graph_name: str = Field(default="ringwatch", description="FalkorDB graph key (embedded engine)")
    # `ringwatch load` onto Neo4j (docs/performance.md, "Bulk load"): neo4j-admin for the
    # database's files, and how the DBMS is stopped and started around the import. Run on the
    # database's host; `bash scripts/neo4j.sh admin|stop|start` for the test server.
    neo4j_admin: str = "neo4j-admin"
    neo4j_stop: str = "neo4j stop"
    neo4j_start: str = "neo4j start"

    # Redis: Celery broker, durable intake and the event-id dedupe ledger. No URL means the
    # embedded engine's own Redis server serves these too.
    redis_url: str | None = None

    data_dir: Path = Field(
        default=Path.home() / ".local" / "share" / "ringwatch",
        description="Where the embedded engine keeps its files (graph, append-only log, socket).",
    )

    hash_key: SecretStr = SecretStr(DEV_HASH_KEY)

    batch_size: int = Field(default=2000, ge=100, le=5000)
    dedupe_window_days: int = Field(default=30, ge=1)
    max_events_per_request: int = 10_000
    max_body_bytes: int = 10 * 1024 * 1024
    # Seconds a pending batch may wait before the sweeper sends its task again; covers an API
    # process that died between the durable write and the Celery send.
    resend_after_s: int = 60
    celery_eager: bool = False

    # Decisions (docs/strategies.md, docs/features.md).
    strategies_dir: Path = Field(
        default_factory=lambda: PACKAGED_STRATEGIES,
        description="Strategy YAML files; default: the strategies shipped in the package",
    )
    live_strategy: str = Field(default="default", description="id or id@version that decides")
    shadow_strategies: tuple[str, ...] = Field(
        default=(), description="ids or id@versions run beside the live one and only recorded"
    )
    datacenter_ranges_file: Path | None = Field(
        default=None, description="CIDR ranges of hosting/VPN/proxy networks, one per line"
    )
    feature_cache_ttl_s: int = Field(default=60, ge=0)
    webhook_allow_private: bool | None = Field(
        default=None,
        description="Allow webhook URLs on private networks; default: outside production only",
    )
    decision_retention_days: int = Field(default=30, ge=1)
    full_detection_hour_utc: int = Field(default=2, ge=0, le=23)
    # An applied batch triggers an incremental detection run this many seconds later, so a burst
    # of batches is examined together rather than one run per batch.
    incremental_delay_s: float = Field(default=2.0, ge=0)
    # How many shared places (addresses, subnets, number blocks) an incremental run's scope
    # crosses from the changed accounts. Each place multiplies the scope several times
    # (docs/detection.md, "Full and incremental runs").
    incremental_place_hops: int = Field(default=2, ge=1, le=6)
    # Analyst Cypher (POST /v1/cypher, saved investigations): server-side time limit per query,
    # and the most rows returned (a request may ask for fewer, never more).
    analyst_timeout_s: float = Field(default=10.0, gt=0, le=300)
    analyst_row_cap: int = Field(default=1000, ge=1, le=10_000)

    # Requests per second per API key, by the key's role unless the key carries its own limit.
    # Ingest keys front whole platforms' event streams, so they get more headroom.
    rate_limit_ingest_per_s: int = Field(default=50, ge=1)
    rate_limit_per_s: int = Field(default=20, ge=1)
    # Enforcement asks for a decision on every signup, login and payment: its keys need headroom.
    rate_limit_decide_per_s: int = Field(default=2000, ge=1)

    # Review queue: what a `fraud` label applies to the reviewed accounts, and how long a claim
    # holds before the item goes back to the queue (so items never stay stuck with one person).
    review_fraud_action: Literal["ban", "suspend", "restrict", "age_gate", "verify"] = "ban"
    review_claim_minutes: int = Field(default=30, ge=1, le=24 * 60)

    # Ring verdicts calibrated on the deployment's own labels at every full run
    # (docs/detection.md): fewer positive rings than the minimum keep the hand-set weights; the
    # `fraud` and `suspicious` thresholds are where the cross-validated precision reaches these.
    # Both verdicts flag a ring for enforcement or review, so both aim at 99%: a review queue
    # where one ring in ten is a family teaches reviewers to click through.
    verdict_calibration: bool = True
    verdict_min_positive_rings: int = Field(default=30, ge=5)
    verdict_target_precision_fraud: float = Field(default=0.995, gt=0, le=1)
    verdict_target_precision_suspicious: float = Field(default=0.99, gt=0, le=1)
    verdict_cv_folds: int = Field(default=5, ge=2, le=20)
    # Shadow ring verdicts (docs/detection.md): a YAML/JSON file of detection parameters that
    # differ from the live ones; every full run also runs this candidate over the same snapshot
    # and records which rings it would flag instead (GET /v1/detection/shadow). Writes nothing.
    shadow_detection_file: Path | None = Field(
        default=None, description="Candidate detection parameter overrides run beside full runs"
    )
    # Sharded full runs (docs/scale.md, "Detection fans out"): 1 runs detection in the process
    # of the full run, as before; N > 1 sends the evader matcher and N shards of Leiden batches
    # to `detect.shard` tasks and merges them into the same result. The runs directory must be
    # shared by that process and the workers; a shard not finished within the timeout fails
    # the run (which the full-run task retries).
    detection_shards: int = Field(default=1, ge=1, le=256)
    detection_runs_dir: Path | None = Field(
        default=None, description="Sharded runs' working files; default: <data_dir>/detection-runs"
    )
    detection_shard_timeout_s: float = Field(default=3600.0, gt=0)

    @property
    def detection_runs_root(self) -> Path:
        return self.detection_runs_dir or self.data_dir / "detection-runs"

    @model_validator(mode="after")
    def _check_verdict_targets(self) -> Settings:
        if self.verdict_target_precision_suspicious > self.verdict_target_precision_fraud:
            raise ValueError(
                "RINGWATCH_VERDICT_TARGET_PRECISION_SUSPICIOUS must not exceed the fraud target"
            )
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env == "production":
            if self.hash_key.get_secret_value() == DEV_HASH_KEY:
                raise ValueError("RINGWATCH_HASH_KEY must be set to a secret key in production")
            if len(self.hash_key.get_secret_value()) < 32:
                raise ValueError("RINGWATCH_HASH_KEY must be at least 32 characters")
            if self.neo4j_uri and self.neo4j_password.get_secret_value() == DEV_NEO4J_PASSWORD:
                raise ValueError("RINGWATCH_NEO4J_PASSWORD must not be the development default")
        return self

    @property
    def webhooks_may_call_private(self) -> bool:
        if self.webhook_allow_private is not None:
            return self.webhook_allow_private
        return self.env != "production"

    @property
    def embedded(self) -> bool:
        return self.neo4j_uri is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

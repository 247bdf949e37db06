"""Settings -> a connected store (and, in embedded mode, the server behind it)."""

from __future__ import annotations

import redis

from ringwatch.graph.embedded import EmbeddedServer, embedded_server, stop_embedded
from ringwatch.graph.store import GraphStore
from ringwatch.settings import Settings


def redis_url(settings: Settings, *, start: bool = True) -> str:
    """Redis for the broker, intake and dedupe: configured, else the embedded engine's own.

    `start=False` only names the embedded engine's socket: configuring Celery must not spawn a
    server as a side effect of an import.
    """
    if settings.redis_url:
        return settings.redis_url
    if not start:
        return EmbeddedServer(settings.data_dir.resolve()).redis_url
    return embedded_server(settings.data_dir).redis_url


def release(settings: Settings) -> None:
    """Stop the embedded engine if this process started it (others may share it)."""
    if settings.embedded or not settings.redis_url:
        stop_embedded(settings.data_dir)


def open_store(settings: Settings) -> GraphStore:
    if settings.neo4j_uri:
        from ringwatch.graph.neo4j_store import Neo4jStore

        store: GraphStore = Neo4jStore(
            settings.neo4j_uri,
            settings.neo4j_user,
            settings.neo4j_password.get_secret_value(),
            settings.neo4j_database,
        )
    else:
        from ringwatch.graph.falkordb_store import FalkorDBStore

        server = embedded_server(settings.data_dir)
        store = FalkorDBStore(server.client(), settings.graph_name)
    store.ensure_schema()
    return store


def open_redis(settings: Settings) -> redis.Redis:
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, socket_timeout=30)
    return embedded_server(settings.data_dir).client()

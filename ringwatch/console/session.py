"""Console sessions: an API key is exchanged once for a random session id kept in a cookie.

The key itself never reaches the cookie or Redis: the session names the key id, and every
request re-reads the key so a revoked key ends its sessions at once. Each session carries its own
CSRF token, which every POST must echo in a form field or the `X-CSRF-Token` header.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

import redis

from ringwatch.services.keys import KeyService, Role

COOKIE = "rw_console"
SESSION_PREFIX = "rw:console:session:"
TTL_S = 8 * 3600  # one working day; a new sign-in after that


@dataclass(frozen=True)
class Session:
    session_id: str
    key_id: str
    role: Role
    name: str
    csrf: str

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, token or "")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Sessions:
    def __init__(self, client: redis.Redis, keys: KeyService) -> None:
        self._redis = client
        self._keys = keys

    def sign_in(self, token: str) -> Session:
        """Raises Unauthorized for an unknown or revoked key."""
        principal = self._keys.authenticate(token)
        session = Session(
            secrets.token_urlsafe(32),
            principal.key_id,
            principal.role,
            principal.name,
            secrets.token_urlsafe(32),
        )
        key = SESSION_PREFIX + session.session_id
        self._redis.hset(
            key,
            mapping={
                "key_id": session.key_id,
                "role": session.role.value,
                "name": session.name,
                "csrf": session.csrf,
            },
        )
        self._redis.expire(key, TTL_S)
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        raw = self._redis.hgetall(SESSION_PREFIX + session_id)
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        info = self._keys.get(fields["key_id"])
        if info is None or info.revoked:
            self.sign_out(session_id)
            return None
        return Session(session_id, info.key_id, info.role, info.name, fields["csrf"])

    def sign_out(self, session_id: str) -> None:
        self._redis.delete(SESSION_PREFIX + session_id)

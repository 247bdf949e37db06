"""API keys: creation, revocation, authentication and per-key rate limits, all in Redis.

A key reads `rw_<key id>_<secret>`. The id is public (it names the key in lists, logs and the
revoke command) and lets a lookup fetch exactly one record; the secret is 256 random bits, of
which only a keyed hash is stored and compared in constant time.

Why HMAC-SHA256 with a pepper rather than bcrypt/argon2 or bare SHA-256: the secrets are random,
not chosen by people, so there is no dictionary to slow down and a slow hash would only cost
latency on every request. A bare SHA-256 would be as hard to invert, but anyone who can write to
Redis (a shared instance, a leaked password) could then plant the hash of a secret of their own
and mint an admin key. Keyed with a sub-key of `RINGWATCH_HASH_KEY`, a stored hash is worthless
without the application's secret. The sub-key is derived under its own label so key hashes and
identifier pseudonyms never share a keyed function.

Keys (Redis):
- `rw:apikey:{id}`  hash: hash, role, name, created_at, created_by, revoked, revoked_at,
  rate_limit
- `rw:apikeys`      set of every key id ever created (revoked ones stay, for the audit trail)
- `rw:ratelimit:{id}`  the request counter of the key's current one-second window
- `rw:apikeys:bootstrapped`  set once the development admin key has been made
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis
from redis.commands.core import Script

from ringwatch.errors import (
    Forbidden,
    Invalid,
    NotFound,
    Problem,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from ringwatch.settings import Settings

PREFIX = "rw"
KEY_PREFIX = "rw:apikey:"
INDEX = "rw:apikeys"
RATE_PREFIX = "rw:ratelimit:"
BOOTSTRAPPED = "rw:apikeys:bootstrapped"
_ID = re.compile(r"^[0-9a-f]{16}$")
_NAME_MAX = 100
_WINDOW_MS = 1000


class Role(StrEnum):
    INGEST = "ingest"
    DECIDE = "decide"
    ENFORCEMENT = "enforcement"
    INVESTIGATOR = "investigator"
    ANALYST = "analyst"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: handed to routes so audit entries can name the key, never its secret."""

    key_id: str
    role: Role
    name: str


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    role: Role
    name: str
    created_at: str
    revoked: bool
    revoked_at: str | None
    rate_limit: int | None
    created_by: str

    def as_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "role": self.role.value,
            "name": self.name,
            "created_at": self.created_at,
            "revoked": self.revoked,
            "revoked_at": self.revoked_at,
            "rate_limit": self.rate_limit,
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class NewKey:
    info: KeyInfo
    token: str  # the only time the plaintext exists outside the caller's hands


_REVOKE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'revoked') ~= '1' then
  redis.call('HSET', KEYS[1], 'revoked', '1', 'revoked_at', ARGV[1])
end
return 1
"""


# Authentication and the rate-limit count in ONE round trip: the key's record is returned (and
# its request counted, in a fixed one-second window opened by SET NX PX) only when the secret's
# hash matches, so a wrong secret neither learns the record nor spends the key's rate. The hash
# compared is an HMAC under a pepper the caller cannot know, so comparing it with Lua's `==`
# leaks nothing usable through timing.
_AUTHENTICATE_FN = """
local function authenticate(record_key, rate_key, hash, window_ms)
  local stored = redis.call('HGET', record_key, 'hash')
  if not stored or stored ~= hash then return false end
  local raw = redis.call('HGETALL', record_key)
  local count, ttl = 0, 0
  if redis.call('HGET', record_key, 'revoked') ~= '1' then
    redis.call('SET', rate_key, 0, 'PX', window_ms, 'NX')
    count = redis.call('INCR', rate_key)
    ttl = redis.call('PTTL', rate_key)
  end
  return {raw, count, ttl}
end
"""
_AUTHENTICATE = _AUTHENTICATE_FN + "return authenticate(KEYS[1], KEYS[2], ARGV[1], ARGV[2])\n"

# The key's check, then another script's work only for a key that `KeyService.authenticate` and
# the role check would admit: not revoked, within its rate, of a role that may make the call
# (the same tests, in the same order, as `admitted` applies to the answer). The other script's
# body (`body`) runs as a function of its own ARGV, the arguments after the key's; its answer is
# the fourth element of the reply, absent when the key was refused: nothing of it happened.
# KEYS: the key's record and rate counter, then the body's keys (none so far). ARGV: hash,
# window, rate limits of ingest / decide / other roles, the number of admitted roles, the roles,
# then the body's ARGV.
_GATED = """
local found = authenticate(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if not found then return false end
local raw, role, limit, revoked = found[1], nil, nil, false
for i = 1, #raw, 2 do
  local field = raw[i]
  if field == 'role' then role = raw[i + 1]
  elseif field == 'rate_limit' then limit = raw[i + 1]
  elseif field == 'revoked' then revoked = raw[i + 1] == '1' end
end
if revoked then return found end
if not limit or limit == '' then
  if role == 'ingest' then limit = ARGV[3] elseif role == 'decide' then limit = ARGV[4]
  else limit = ARGV[5] end
end
if found[2] > tonumber(limit) then return found end
local roles, permitted = tonumber(ARGV[6]), false
for i = 7, 6 + roles do
  if ARGV[i] == role then permitted = true end
end
if not permitted then return found end
local function body(ARGV)
-- BODY
end
found[4] = body({unpack(ARGV, 7 + roles)})
return found
"""


@dataclass(frozen=True)
class Admission:
    """A key to check before a call's work: its token, the roles that may make the call (admin
    included) and the call as the 403 names it (`POST /v1/decisions`)."""

    token: str
    roles: frozenset[Role]
    call: str


def _refused() -> Unauthorized:
    # One message for every failure: a caller learns nothing about which ids exist.
    return Unauthorized("invalid or revoked API key")


def _unavailable(e: Exception) -> Unavailable:
    # Fail closed, but as 503 rather than 500: the key may be fine, Redis is not.
    return Unavailable(f"cannot check API keys: {type(e).__name__}")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def parse_token(token: str) -> tuple[str, str] | None:
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not _ID.match(parts[1]) or not parts[2]:
        return None
    return parts[1], parts[2]


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


class KeyService:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._redis = client
        self._settings = settings
        self._pepper = hmac.new(
            settings.hash_key.get_secret_value().encode(), b"ringwatch api keys v1", hashlib.sha256
        ).digest()
        self._revoke = client.register_script(_REVOKE)
        self._authenticate = client.register_script(_AUTHENTICATE)

    def _hash(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    def create(
        self,
        role: Role | str,
        name: str = "",
        rate_limit: int | None = None,
        *,
        created_by: str = "",
    ) -> NewKey:
        """`created_by` names the creator (an admin key id, `cli`) for whoever audits keys later."""
        try:
            role = Role(role)
        except ValueError as e:
            raise Invalid(
                f"unknown role {role!r}",
                [Problem(field="role", reason=f"one of {', '.join(r.value for r in Role)}")],
            ) from e
        if len(name) > _NAME_MAX:
            raise Invalid("name too long", [Problem(field="name", reason=f"≤ {_NAME_MAX} chars")])
        if rate_limit is not None and rate_limit < 1:
            raise Invalid(
                "rate limit must be positive", [Problem(field="rate_limit", reason="≥ 1")]
            )
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        info = KeyInfo(key_id, role, name, _now(), False, None, rate_limit, created_by)
        record: dict[str, str] = {
            "hash": self._hash(secret),
            "role": role.value,
            "name": name,
            "created_at": info.created_at,
            "revoked": "0",
            "created_by": created_by,
        }
        if rate_limit is not None:
            record["rate_limit"] = str(rate_limit)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(KEY_PREFIX + key_id, mapping=record)  # type: ignore[arg-type]
        pipe.sadd(INDEX, key_id)
        pipe.execute()
        return NewKey(info, f"{PREFIX}_{key_id}_{secret}")

    def revoke(self, key_id: str) -> KeyInfo:
        if not _ID.match(key_id) or not self._revoke(keys=[KEY_PREFIX + key_id], args=[_now()]):
            raise NotFound(f"no API key {key_id}")
        info = self.get(key_id)
        assert info is not None
        return info

    def get(self, key_id: str) -> KeyInfo | None:
        raw = self._redis.hgetall(KEY_PREFIX + key_id)
        return self._info(key_id, raw) if raw else None

    def list(self) -> list[KeyInfo]:
        ids = sorted(_text(i) or "" for i in self._redis.smembers(INDEX))
        pipe = self._redis.pipeline(transaction=False)
        for key_id in ids:
            pipe.hgetall(KEY_PREFIX + key_id)
        infos = [self._info(i, raw) for i, raw in zip(ids, pipe.execute(), strict=True) if raw]
        return sorted(infos, key=lambda k: (k.created_at, k.key_id))

    def count(self) -> int:
        return int(self._redis.scard(INDEX))

    def authenticate(self, token: str) -> Principal:
        parsed = parse_token(token)
        if parsed is None:
            raise _refused()
        key_id, secret = parsed
        try:
            found = self._authenticate(
                keys=[KEY_PREFIX + key_id, RATE_PREFIX + key_id],
                args=[self._hash(secret), _WINDOW_MS],
            )
        except redis.RedisError as e:
            raise _unavailable(e) from e
        return self._principal(key_id, found)

    def admit(self, admission: Admission) -> Principal:
        """`authenticate`, then refuse (403) a role that may not make the call."""
        return self._permit(self.authenticate(admission.token), admission)

    def gate(self, body: str) -> Script:
        """A script that checks a key, then runs the Lua `body` (a script's text, reading its
        ARGV) only when `admitted` will admit it; sent with `gate_args` (`Script.sha` for a
        pipeline: see `Intake.accept_on`)."""
        return self._redis.register_script(_AUTHENTICATE_FN + _GATED.replace("-- BODY", body))

    def gate_args(self, admission: Admission) -> tuple[Sequence[str], Sequence[Any]] | None:
        """The gate's KEYS and first ARGV for `admission`; None for a token of the wrong shape
        (refused by `admitted` without a round trip)."""
        parsed = parse_token(admission.token)
        if parsed is None:
            return None
        key_id, secret = parsed
        s = self._settings
        roles = sorted(r.value for r in admission.roles)
        args: list[Any] = [
            self._hash(secret),
            _WINDOW_MS,
            s.rate_limit_ingest_per_s,
            s.rate_limit_decide_per_s,
            s.rate_limit_per_s,
            len(roles),
            *roles,
        ]
        return [KEY_PREFIX + key_id, RATE_PREFIX + key_id], args

    def admitted(self, admission: Admission, found: Any) -> tuple[Principal, Any]:
        """The gate's reply as `admit` answers: the principal and the body's own reply, or the
        same 401 / 429 / 403 (then the body did not run). A `redis.RedisError` as the reply (a
        pipeline's) is the 503 `authenticate` raises."""
        if isinstance(found, redis.RedisError):
            raise _unavailable(found) from found
        parsed = parse_token(admission.token)
        if parsed is None or not found:
            raise _refused()
        principal = self._permit(self._principal(parsed[0], found[:3]), admission)
        if len(found) < 4:  # the script and these checks disagree: never answer as admitted
            raise Unavailable("the API key's check and the call's script disagree")
        return principal, found[3]

    def _principal(self, key_id: str, found: Any) -> Principal:
        if not found:
            raise _refused()
        flat, count, ttl_ms = found
        info = self._info(key_id, dict(zip(flat[::2], flat[1::2], strict=True)))
        if info.revoked:
            raise _refused()
        limit = self.limit_for(info)
        if int(count) > limit:
            retry = max(1, math.ceil(max(int(ttl_ms), 0) / 1000))
            raise RateLimited(f"over {limit} requests per second for this key", retry_after=retry)
        return Principal(info.key_id, info.role, info.name)

    @staticmethod
    def _permit(principal: Principal, admission: Admission) -> Principal:
        if principal.role is not Role.ADMIN and principal.role not in admission.roles:
            raise Forbidden(f"role {principal.role.value} may not call {admission.call}")
        return principal

    def limit_for(self, info: KeyInfo) -> int:
        if info.rate_limit is not None:
            return info.rate_limit
        if info.role is Role.INGEST:
            return self._settings.rate_limit_ingest_per_s
        if info.role is Role.DECIDE:
            return self._settings.rate_limit_decide_per_s
        return self._settings.rate_limit_per_s

    def bootstrap_admin(self) -> NewKey | None:
        """In development only, the first start with no keys at all makes one admin key.

        The marker is set with NX so that concurrent first starts make one key, and it is never
        cleared, so revoking every key later does not silently bring a new admin back.
        """
        if self._settings.env != "development" or self.count() > 0:
            return None
        if not self._redis.set(BOOTSTRAPPED, _now(), nx=True):
            return None
        return self.create(Role.ADMIN, "bootstrap admin (development)", created_by="serve")

    @staticmethod
    def _info(key_id: str, raw: Mapping[bytes | str, bytes | str]) -> KeyInfo:
        limit = _text(raw.get(b"rate_limit"))
        return KeyInfo(
            key_id=key_id,
            role=Role(_text(raw[b"role"]) or ""),
            name=_text(raw.get(b"name")) or "",
            created_at=_text(raw.get(b"created_at")) or "",
            revoked=raw.get(b"revoked") == b"1",
            revoked_at=_text(raw.get(b"revoked_at")),
            rate_limit=int(limit) if limit else None,
            created_by=_text(raw.get(b"created_by")) or "",
        )

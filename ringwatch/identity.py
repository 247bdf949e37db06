"""Normalise identifiers and pseudonymise them with a keyed hash before they reach any store.

Raw email, phone, card, IP and device values never leave this module: callers get keyed hashes
plus the few clear fields detection needs (email domain, IP subnet, country). See docs/privacy.md.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import struct
import threading
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import numpy as np
import phonenumbers
from phonenumbers import phonenumberutil as _pn_util
from phonenumbers.phonemetadata import PhoneMetadata as _pn_meta


class IdentifierKind(StrEnum):
    """Every identifier node type; also the whitelist for labels formatted into Cypher."""

    DEVICE = "device"
    IP = "ip"
    SUBNET = "subnet"
    EMAIL = "email"
    EMAIL_DOMAIN = "email_domain"
    PHONE = "phone"
    CARD = "card"
    # The E.164 number without its last two digits: a block of 100 consecutive numbers.
    # SIM farms buy numbers in runs; the keyed hash of the full number hides adjacency.
    PHONE_BLOCK = "phone_block"
    # Overlapping windows of PHONE_RUN_WIDTH consecutive numbers (two per number, offset by
    # half a window): any two numbers closer than half a window share one, so a bought range
    # is linked whatever its alignment. Keyed like every identifier (docs/privacy.md).
    PHONE_RUN = "phone_run"
    # The email local part's stem (separators, +tags and trailing digits removed) at its
    # provider: `anna.k.88` and `annak89` at one provider share it. Operators mint mailboxes
    # as one stem plus a counter; only the keyed hash of (provider, stem) is kept.
    EMAIL_STEM = "email_stem"
    # An emulator instance: the image family an event's user agent names (`emulator_family`,
    # in clear) and the keyed hash of the event's device, `family:device`. Device farms run
    # their personas on shared emulators; people run phones. It has no projection weight (the
    # device link already joins the accounts); detection reads who shares one.
    EMULATOR = "emulator"


class NormaliseError(ValueError):
    """A value that cannot be normalised; the message is shown to API clients."""


GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SKETCH_SIZE = 32
_PRIME = (1 << 31) - 1
# Identifiers repeat: every login of an account brings its device, address and user agent again,
# and an ingest profile spent most of its time normalising and hashing the same values (issue
# 13). The functions below are pure, so results are memoised; the bound keeps the memory of a
# long-running worker flat (a few hundred bytes per entry).
CACHE_SIZE = 1 << 17


def normalise_email(raw: str) -> tuple[str, str, str]:
    """Return (normalised address, local part, domain)."""
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        raise NormaliseError("not an email address")
    local, domain = email.rsplit("@", 1)
    domain = domain.rstrip(".")
    if domain in GMAIL_DOMAINS:
        # Gmail ignores dots and +tags, so they are the same mailbox: the classic way one person
        # registers many accounts with one inbox.
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    if not local:
        raise NormaliseError("empty local part")
    return f"{local}@{domain}", local, domain


# One mailbox namespace under several domain names: a stem is the same person's at either.
PROVIDER_ALIASES = {"me.com": "icloud.com", "mac.com": "icloud.com"}
# Providers whose sub-addressing separator is not "+" (Yahoo's disposable addresses are
# `base-keyword`); every other domain is read with the RFC 5233 "+" convention.
_SUBADDRESS = {"yahoo.com": "-"}
MIN_STEM_LENGTH = 3
_TRAILING_DIGITS = re.compile(r"[0-9]+$")


def email_stem(local: str, domain: str) -> tuple[str, str] | None:
    """(provider, stem) of a normalised email's local part, or None when too little is left.

    The stem is the local part without its sub-address tag, accents, separators (`.`, `_`,
    `-`) and trailing digits: what stays fixed when one person or one script numbers its
    mailboxes. Stems shorter than MIN_STEM_LENGTH letters (`jo12`, `a.b`) or made of digits
    (QQ-style numeric mailboxes) say nothing and are left out.

    >>> email_stem("anna.k.88", "outlook.com"), email_stem("annak89", "outlook.com")
    (('outlook.com', 'annak'), ('outlook.com', 'annak'))
    >>> email_stem("12345678", "qq.com") is None
    True
    """
    provider = PROVIDER_ALIASES.get(domain, domain)
    local = local.split(_SUBADDRESS.get(provider, "+"), 1)[0]
    stem = _TRAILING_DIGITS.sub("", fold_text(local).replace(" ", ""))
    if sum(ch.isalpha() for ch in stem) < MIN_STEM_LENGTH:
        return None
    return provider, stem


@lru_cache(maxsize=CACHE_SIZE)
def normalise_phone(raw: str, country: str | None) -> str:
    """E.164. Numbers without a leading + need the event's country to be read."""
    if _PLUS_DIGITS.fullmatch(raw) and (e164 := _plus_digits_e164(raw, country or None)):
        return e164
    try:
        number = phonenumbers.parse(raw, country or None)
    except phonenumbers.NumberParseException as e:
        raise NormaliseError(f"not a phone number ({e})") from e
    if not phonenumbers.is_possible_number(number):
        raise NormaliseError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# "+" and ASCII digits: how almost every number arrives. `phonenumbers.parse` spends ~40 us on
# such a string, mostly on what other shapes need (punctuation, letters, extensions, RFC 3966,
# Unicode digits, an international dialling prefix); `_plus_digits_e164` takes only the steps
# that decide a "+digits" number, with the library's own functions, in parse's order.
# `test_identity_and_events` compares it with the library on every country code.
_PLUS_DIGITS = re.compile(r"\+[1-9][0-9]{2,16}")


def _plus_digits_e164(raw: str, region: str | None) -> str | None:
    """What `normalise_phone` gives for "+" and digits, or None to leave the number (and the
    wording of its error) to `phonenumbers.parse`."""
    country_code, national = _pn_util._extract_country_code(raw[1:])
    if country_code == 0:
        return None
    number_region = phonenumbers.region_code_for_country_code(country_code)
    if number_region != region:
        metadata = _pn_meta.metadata_for_region_or_calling_code(country_code, number_region)
    else:  # parse keeps the metadata of the region it was given
        metadata = _pn_meta.metadata_for_region(number_region.upper(), None)
    if metadata is not None:
        _, stripped, _ = _pn_util._maybe_strip_national_prefix_carrier_code(national, metadata)
        if _pn_util._test_number_length(stripped, metadata) not in _KEEP_UNSTRIPPED:
            national = stripped
    if not _pn_util._MIN_LENGTH_FOR_NSN <= len(national) <= _pn_util._MAX_LENGTH_FOR_NSN:
        return None
    # The national significant number is these digits, leading zeros included (parse keeps
    # them as the "Italian leading zeros" and format_number writes them back).
    possible = _pn_meta.metadata_for_region_or_calling_code(country_code, number_region)
    if possible is None or _pn_util._test_number_length(national, possible) not in _POSSIBLE:
        return None
    return f"+{country_code}{national}"


_KEEP_UNSTRIPPED = (
    phonenumbers.ValidationResult.TOO_SHORT,
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    phonenumbers.ValidationResult.INVALID_LENGTH,
)
_POSSIBLE = (
    phonenumbers.ValidationResult.IS_POSSIBLE,
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
)


# User-agent markers of emulator images, by the family each belongs to. Only markers that a
# phone or tablet sold to people does not report: Android Studio's images name themselves
# (`sdk_gphone64_x86_64`, "Android SDK built for x86", `generic_x86`), Genymotion's run on
# VirtualBox (`vbox86p`), desktop players brand themselves or ship one default model (LDPlayer,
# MEmu and BlueStacks images report the ROG Phone `ASUS_Z01QD`) or pair a Samsung model with a
# Pixel build of Android 9 (`SM-G973N Build/PQ3A`, NoxPlayer's image; Samsung ships its own
# builds). A farm that spoofs a real phone's agent is not caught here, so a missing marker
# clears nobody: the family is positive evidence only (docs/detection.md).
_EMULATOR_MARKERS: tuple[tuple[str, str], ...] = (
    ("android-sdk", r"sdk_gphone|android sdk built for|\bgoogle_sdk\b|\bgeneric_x86"),
    ("genymotion", r"genymotion|\bvbox86"),
    ("desktop-player", r"bluestacks|\bmemu\b|\bnox(?:player)?\b|ldplayer|asus_z01qd"),
    ("desktop-player", r"\bsm-[a-z0-9]+ build/pq3a\."),
)
_EMULATOR_PATTERN = re.compile(
    "|".join(f"(?P<m{i}>{pattern})" for i, (_, pattern) in enumerate(_EMULATOR_MARKERS)),
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def emulator_family(user_agent: str) -> str | None:
    """The emulator family a user agent names (`android-sdk`, `genymotion`, `desktop-player`),
    or None for any other agent, a spoofed one included."""
    found = _EMULATOR_PATTERN.search(user_agent)
    if found is None or found.lastgroup is None:
        return None
    return _EMULATOR_MARKERS[int(found.lastgroup[1:])][0]


def phone_block(e164: str) -> str:
    """The block of 100 numbers an E.164 number belongs to: '+14155550101' -> '+141555501'."""
    return e164[:-2]


PHONE_RUN_WIDTH = 200


def phone_runs(e164: str, width: int = PHONE_RUN_WIDTH) -> tuple[str, str]:
    """The two overlapping windows of `width` numbers an E.164 number falls in.

    The window index is taken over the whole number (with its length, so plans of different
    lengths never meet), so it stays inside one country code and, numbering plans allocating
    ranges of thousands per operator, almost always one carrier. Numbers under width/2 apart
    always share a window; numbers width or more apart never do.
    """
    digits = e164.lstrip("+")
    if not digits.isdigit() or width < 2:
        raise NormaliseError("not an E.164 number")
    value, half, length = int(digits), width // 2, len(digits)
    return (f"{length}:{width}:0:{value // width}", f"{length}:{width}:1:{(value + half) // width}")


_DOTTED_QUAD = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


_HEXTET = r"(?:[1-9a-f][0-9a-f]{0,3}|0)"
_CANONICAL_IPV6 = re.compile(rf"(?:{_HEXTET}:){{7}}{_HEXTET}")


@lru_cache(maxsize=CACHE_SIZE)
def normalise_ip(raw: str) -> tuple[str, str]:
    """Return (canonical address, subnet: /24 for IPv4, /48 for IPv6)."""
    text = raw.strip()
    if _DOTTED_QUAD.fullmatch(text):
        # Canonical already (no leading zeros), so the /24 is plain text: `ipaddress` costs
        # ~15 us per address and most traffic is IPv4.
        return text, text[: text.rindex(".")] + ".0/24"
    if _CANONICAL_IPV6.fullmatch(text) and ":0:0:" not in f":{text}:":
        # Eight groups, lower-case, no leading zeros, no run of zero groups to compress: this
        # is how `ipaddress` writes it (~35 us per address to find that out).
        groups = text.split(":", 3)[:3]
        while groups and groups[-1] == "0":  # zeros before the /48's own "::" join it
            groups.pop()
        return text, ":".join(groups) + "::/48"
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError as e:
        raise NormaliseError("not an IP address") from e
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    subnet = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return str(address), str(subnet)


@lru_cache(maxsize=CACHE_SIZE)
def fold_text(raw: str) -> str:
    """Lower-case, strip accents and punctuation: 'José  O'Neil' -> 'jose oneil'."""
    text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9 ]+", "", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Pseudonymiser:
    """Keyed hashing (HMAC-SHA256) and keyed MinHash sketches.

    128-bit truncated digests keep collisions negligible at billions of values while halving the
    graph's key size; without the key, a digest cannot be tested against a guessed phone number.
    """

    key: bytes

    def digest(self, kind: IdentifierKind, value: str) -> str:
        # A StrEnum member is its value as a str: concatenation skips the enum's `.value` lookup.
        return _digest(self.key, kind + "\x1f" + value)

    def sketch(self, text: str, purpose: str) -> list[int]:
        """Keyed MinHash of character 3-grams, for fuzzy matching without keeping the text.

        Two strings' sketches agree in a share of positions that estimates the Jaccard similarity
        of their 3-gram sets, so a typo ('jonathan' / 'jonathon') still matches well.
        """
        return list(_sketch(self.key, text, purpose))


@lru_cache(maxsize=CACHE_SIZE)
def _digest(key: bytes, message: str) -> str:
    # HMAC by its definition, H(key ^ opad || H(key ^ ipad || m)), from the two states of the
    # padded key hashed once per key: copying them costs half of OpenSSL's one-shot
    # `hmac.digest` (1.8 vs 3.7 us, which looks the digest up by name on every call), and most
    # values are new once a world is larger than the cache. `test_identity` checks it equals
    # `hmac.digest`.
    inner_start, outer_start = _hmac_states(key)
    inner = inner_start.copy()
    inner.update(message.encode())
    outer = outer_start.copy()
    outer.update(inner.digest())
    mac: bytes = outer.digest()
    return mac[:16].hex()


@lru_cache(maxsize=64)
def _hmac_states(key: bytes) -> tuple[Any, Any]:
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    return (
        hashlib.sha256(bytes(b ^ 0x36 for b in padded)),
        hashlib.sha256(bytes(b ^ 0x5C for b in padded)),
    )


@lru_cache(maxsize=CACHE_SIZE)
def _sketch(key: bytes, text: str, purpose: str) -> tuple[int, ...]:
    folded = fold_text(text).replace(" ", "_")
    if not folded:
        return ()
    padded = f"^{folded}$"
    table = _gram_table(key, purpose)
    index = table.index
    # A gram seen twice adds a row twice, which leaves the minimum as it is: no set needed.
    try:
        rows = [index[padded[i : i + 3]] for i in range(max(1, len(padded) - 2))]
    except KeyError:
        rows = table.add({padded[i : i + 3] for i in range(max(1, len(padded) - 2))})
    # The table holds each gram's 32 permuted hashes, so a sketch is one gather and one
    # column minimum: the per-text broadcast and modulo cost 15-30 us per new text.
    values: tuple[int, ...] = tuple(np.minimum.reduce(table.values.take(rows, axis=0)).tolist())
    return values


class _GramTable:
    """Every 3-gram's SKETCH_SIZE permuted hashes ((h * a + b) mod p), one row per gram, for
    one key and purpose. `fold_text` leaves 37 characters (a-z, 0-9, "_") and the padding two
    more, so there are at most 39^3 grams (~59k rows, 7.6 MB): the table needs no bound."""

    def __init__(self, key: bytes, purpose: str) -> None:
        self.key = key
        self.purpose = purpose
        self.index: dict[str, int] = {}
        self.values = np.zeros((1024, SKETCH_SIZE), dtype=np.uint32)
        self._lock = threading.Lock()

    def add(self, grams: set[str]) -> list[int]:
        """Rows of `grams`, adding the missing ones. A row is written before its index is
        published and a grown array copies every written row, so a reader that looked its
        rows up first and the array second always finds them (API threads share tables)."""
        with self._lock:
            a, b = _permutations(self.key, self.purpose)
            for gram in grams:
                if gram in self.index:
                    continue
                row = len(self.index)
                if row == len(self.values):
                    grown = np.zeros((2 * row, SKETCH_SIZE), dtype=np.uint32)
                    grown[:row] = self.values
                    self.values = grown
                # a, h < 2^31 keeps h*a+b inside uint64, so no product overflows.
                base = np.uint64(_gram_hash(self.key, gram, self.purpose))
                self.values[row] = (base * a + b) % _PRIME
                self.index[gram] = row
            return [self.index[g] for g in grams]


@lru_cache(maxsize=64)
def _gram_table(key: bytes, purpose: str) -> _GramTable:
    return _GramTable(key, purpose)


def _gram_hash(key: bytes, gram: str, purpose: str) -> int:
    digest = hashlib.blake2b(
        gram.encode(), key=key[:64], person=purpose.encode()[:16], digest_size=8
    ).digest()
    return int.from_bytes(digest, "little") % _PRIME


@lru_cache(maxsize=64)
def _permutations(key: bytes, purpose: str) -> tuple[np.ndarray, np.ndarray]:
    seed = hmac.new(key, f"minhash\x1f{purpose}".encode(), hashlib.sha256).digest()
    rng = np.random.default_rng(int.from_bytes(seed[:8], "little"))
    a = rng.integers(1, _PRIME, size=SKETCH_SIZE, dtype=np.int64).astype(np.uint64)
    b = rng.integers(0, _PRIME, size=SKETCH_SIZE, dtype=np.int64).astype(np.uint64)
    return a, b


def sketch_similarity(left: list[int] | np.ndarray, right: list[int] | np.ndarray) -> float:
    """Estimated Jaccard similarity of two sketches (0 when either is empty)."""
    if len(left) == 0 or len(right) == 0:
        return 0.0
    return float(np.mean(np.asarray(left) == np.asarray(right)))


def sketch_to_text(sketch: list[int] | np.ndarray) -> str | None:
    """Hex of the little-endian uint32 values: a graph engine parses one short string far faster
    than a 32-element list, and the snapshot decodes it with one `frombuffer`."""
    if len(sketch) == 0:
        return None
    if isinstance(sketch, list):
        # struct packs the same little-endian uint32 bytes as numpy's "<u4" without building
        # an array: this runs once per profile value of every ingested event.
        return _pack_u32(len(sketch)).pack(*sketch).hex()
    return np.asarray(sketch, dtype="<u4").tobytes().hex()


@lru_cache(maxsize=64)
def _pack_u32(n: int) -> struct.Struct:
    return struct.Struct(f"<{n}I")


def sketch_from_text(text: str | None) -> np.ndarray:
    if not text:
        return np.zeros(0, dtype=np.uint32)
    return np.frombuffer(bytes.fromhex(text), dtype="<u4").astype(np.uint32)

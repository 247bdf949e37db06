"""The fast paths of `identity` against what they stand in for: phonenumbers, ipaddress, the
per-text MinHash broadcast. Each must give the same answer, or every stored pseudonym, subnet
and sketch would change; each check also fails if its fast path is never taken."""

from __future__ import annotations

import gc
import ipaddress
import random
import threading

import numpy as np
import phonenumbers
import pytest

from ringwatch import identity
from ringwatch.identity import NormaliseError, Pseudonymiser
from ringwatch.services.ingest import validate_events
from ringwatch.worlds.locale import COUNTRIES
from ringwatch.worlds.plan import random_phones
from ringwatch.worlds.render import phone


def _library_e164(raw: str, region: str | None) -> str | None:
    """`normalise_phone` as it was: phonenumbers for every number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _tricky_numbers(rng: random.Random) -> list[str]:
    """For every calling code: the library's example numbers, and national parts with and
    without a national prefix (leading zeros, "8" in Russia, "15" in Argentina), of every
    length from too short to too long."""
    numbers = {"+0123456789", "+999123456", "+1", "+12", "+123", "+" + "9" * 17}
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            for kind in range(12):
                example = (
                    phonenumbers.example_number_for_type(region, kind)
                    if region != "001"
                    else phonenumbers.example_number_for_non_geo_entity(code)
                )
                if example is not None:
                    e164 = phonenumbers.PhoneNumberFormat.E164
                    numbers.add(phonenumbers.format_number(example, e164))
        for _ in range(40):
            lead = rng.choice(["", "0", "00", "8", "15", "9", "1", "7"])
            rest = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 14)))
            numbers.add(f"+{code}{lead}{rest}")
    return sorted(numbers)


def test_plus_digits_phone_path_equals_phonenumbers_on_every_calling_code() -> None:
    rng = random.Random(13)
    answered = 0
    for raw in _tricky_numbers(rng):
        for region in (None, "US", "GB", "IT", "AR", "RU", "XX", "de"):
            got = identity._plus_digits_e164(raw, region)
            if got is not None:
                answered += 1
                assert got == _library_e164(raw, region), (raw, region)
    assert answered > 10_000  # the fast path is taken, not only deferred


def test_normalise_phone_equals_phonenumbers_on_the_worlds_numbers() -> None:
    # Every country the generated worlds use, 500 numbers each, through `normalise_phone`
    # with the number's own country and with none.
    rng = np.random.default_rng(7)
    fast = 0
    for index, country in enumerate(COUNTRIES):
        for national in random_phones(rng, index, 500).tolist():
            raw = phone(index, national)
            fast += identity._plus_digits_e164(raw, None) is not None
            for region in (country.code, None):
                want = _library_e164(raw, region)
                if want is None:
                    with pytest.raises(NormaliseError):
                        identity.normalise_phone.__wrapped__(raw, region)
                else:
                    assert identity.normalise_phone.__wrapped__(raw, region) == want
    assert fast >= 500 * len(COUNTRIES) * 0.99


def test_other_phone_shapes_still_go_to_phonenumbers() -> None:
    assert identity.normalise_phone.__wrapped__("+1 (415) 555-0101", None) == "+14155550101"
    assert identity.normalise_phone.__wrapped__("030 1234567", "DE") == "+49301234567"
    assert identity.normalise_phone.__wrapped__("+٤٩٣٠١٢٣٤٥٦٧", None) == "+49301234567"
    with pytest.raises(NormaliseError, match="not a possible phone number"):
        identity.normalise_phone.__wrapped__("+1415", None)
    with pytest.raises(NormaliseError, match="not a phone number"):
        identity.normalise_phone.__wrapped__("+0123456789", None)


def _ipaddress_only(raw: str) -> tuple[str, str] | None:
    """`normalise_ip` as it was for anything but a canonical dotted quad."""
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(address), str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def test_ipv6_path_equals_ipaddress() -> None:
    rng = random.Random(5)
    fast = 0
    for _ in range(6_000):
        # Zero groups are common here, so compressible runs and zeros next to the /48 occur.
        hextets = [
            0 if rng.random() < 0.4 else rng.choice([1, 0xF, 0xFFFF, rng.randrange(65536)])
            for _ in range(8)
        ]
        address = ipaddress.IPv6Address(b"".join(h.to_bytes(2, "big") for h in hextets))
        plain = ":".join(format(h, "x") for h in hextets)  # no "::", no leading zeros
        for raw in (str(address), address.exploded, plain, plain.upper(), f" {plain} "):
            if identity._CANONICAL_IPV6.fullmatch(raw):
                fast += 1
            try:
                got: tuple[str, str] | None = identity.normalise_ip.__wrapped__(raw)
            except NormaliseError:
                got = None
            assert got == _ipaddress_only(raw), raw
    for raw in [
        "::ffff:1.2.3.4",
        "0:0:0:0:0:ffff:102:304",
        "::",
        "::1",
        "fe80::1%eth0",
        "1:0:1:0:1:0:1:0",
        "0:1:0:1:0:1:0:1",
        "0:0:1:0:0:0:0:1",
        "1:2:3:4:5:6:7:8:9",
    ]:
        try:
            got = identity.normalise_ip.__wrapped__(raw)
        except NormaliseError:
            got = None
        assert got == _ipaddress_only(raw), raw
    assert fast > 1_000


def _broadcast_sketch(key: bytes, text: str, purpose: str) -> list[int]:
    """The sketch as it was computed per text: every 3-gram's keyed hash, permuted by
    broadcasting, the column minimum."""
    folded = identity.fold_text(text).replace(" ", "_")
    if not folded:
        return []
    padded = f"^{folded}$"
    grams = {padded[i : i + 3] for i in range(max(1, len(padded) - 2))}
    base = np.array([identity._gram_hash(key, g, purpose) for g in grams], dtype=np.uint64)
    a, b = identity._permutations(key, purpose)
    return ((base[:, None] * a[None, :] + b[None, :]) % identity._PRIME).min(axis=0).tolist()


def test_sketch_from_the_gram_table_equals_the_broadcast_per_text() -> None:
    rng = random.Random(3)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 ._-+'ÉéüßØ中"
    texts = ["", "!!!", "a", "ab", "aaaa", "José  O'Neil", "jonathan.smith88", "X Æ A-12"]
    # Enough random text to grow the table past its first 1,024 rows.
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    for key in (b"k", b"another key, longer than the blake2b key limit of 64 bytes" * 2):
        for purpose in ("name", "email-local"):
            for text in texts:
                want = _broadcast_sketch(key, text, purpose)
                assert Pseudonymiser(key).sketch(text, purpose) == want, (key, purpose, text)
                assert all(type(v) is int for v in want)
    assert len(identity._gram_table(b"k", "name").index) > 1024


def test_gram_table_grown_by_threads_at_once_gives_the_same_sketches() -> None:
    key = b"threads"
    texts = [f"name{i} person{i * 7919 % 1000}" for i in range(4000)]
    got: dict[int, list[list[int]]] = {}

    def work(n: int) -> None:
        got[n] = [list(identity._sketch.__wrapped__(key, t, "name")) for t in texts[n::4]]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(4):
        assert got[n] == [_broadcast_sketch(key, t, "name") for t in texts[n::4]]


def test_validation_leaves_the_collector_as_it_found_it() -> None:
    line = b'{"event_id":"e1","ts":"2026-01-01T00:00:00Z","account_id":"a","type":"login"}'
    hasher = Pseudonymiser(b"k")
    assert gc.isenabled()
    records, problems = validate_events([(1, line), (2, b"{not json")], hasher)
    assert gc.isenabled() and len(records) == 1 and len(problems) == 1
    gc.disable()
    try:
        validate_events([(1, line)], hasher)
        assert not gc.isenabled()
    finally:
        gc.enable()

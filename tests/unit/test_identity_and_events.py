"""Normalisation, pseudonymisation, the event contract and settings: no server needed."""

from __future__ import annotations

import hmac
import json
from importlib import resources

import numpy as np
import pytest
from pydantic import ValidationError

from ringwatch.events import json_schema, parse_event, problems_of
from ringwatch.identity import (
    IdentifierKind,
    NormaliseError,
    Pseudonymiser,
    emulator_family,
    normalise_email,
    normalise_ip,
    normalise_phone,
    phone_block,
    sketch_from_text,
    sketch_similarity,
    sketch_to_text,
)
from ringwatch.records import normalise
from ringwatch.settings import DEV_HASH_KEY, Settings


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (" J.Doe+promo@GoogleMail.com ", "jdoe@gmail.com"),
        ("j.doe@gmail.com", "jdoe@gmail.com"),
        ("J.Doe+x@example.org", "j.doe+x@example.org"),  # other providers keep dots and tags
    ],
)
def test_email(raw: str, want: str) -> None:
    assert normalise_email(raw)[0] == want


def test_phone_and_ip() -> None:
    assert normalise_phone("030 1234567", "DE") == "+49301234567"
    assert normalise_phone("+1 (415) 555-0101", None) == "+14155550101"
    assert phone_block("+14155550101") == phone_block("+14155550199") == "+141555501"
    assert phone_block("+14155550201") != phone_block("+14155550199")
    with pytest.raises(NormaliseError):
        normalise_phone("555-0101", None)  # no country, no +: ambiguous
    assert normalise_ip("::ffff:198.51.100.7") == ("198.51.100.7", "198.51.100.0/24")
    assert normalise_ip("2001:DB8:0:0::1") == ("2001:db8::1", "2001:db8::/48")
    with pytest.raises(NormaliseError):
        normalise_ip("300.1.1.1")


def test_keyed_hash_depends_on_key_and_kind() -> None:
    a, b = Pseudonymiser(b"k" * 32), Pseudonymiser(b"q" * 32)
    assert a.digest(IdentifierKind.PHONE, "+1") == a.digest(IdentifierKind.PHONE, "+1")
    assert a.digest(IdentifierKind.PHONE, "+1") != b.digest(IdentifierKind.PHONE, "+1")
    assert a.digest(IdentifierKind.PHONE, "+1") != a.digest(IdentifierKind.CARD, "+1")
    assert len(a.digest(IdentifierKind.PHONE, "+1")) == 32


@pytest.mark.parametrize(
    "key", [b"", b"k", b"bench-key-0123456789", b"x" * 64, b"y" * 65, b"\xff" * 200]
)
def test_keyed_hash_is_hmac_sha256(key: bytes) -> None:
    # The digest is computed from precomputed inner and outer states (for speed); it must stay
    # the standard HMAC, or every stored pseudonym would change. Keys around the 64-byte block
    # size take the two branches of the key padding.
    for value in ["", "a", "é ü 中", "x" * 1000, "+14155550101"]:
        for kind in IdentifierKind:
            want = hmac.digest(key, f"{kind.value}\x1f{value}".encode(), "sha256")[:16].hex()
            assert Pseudonymiser(key).digest(kind, value) == want


def test_sketch_text_is_little_endian_uint32_hex() -> None:
    # A list is packed by struct, an array by numpy; the store and the snapshot decoder
    # (`sketch_from_text`) rely on both giving the same text.
    sketch = Pseudonymiser(b"k").sketch("Jonathan Smith", "name")
    assert len(sketch) == 32
    assert sketch_to_text(sketch) == sketch_to_text(np.array(sketch, dtype=np.uint32))
    assert sketch_from_text(sketch_to_text(sketch)).tolist() == sketch
    assert sketch_to_text([1, 2**31 - 2]) == "01000000feffff7f"
    assert sketch_to_text([]) is None


def test_sketches_find_typos_not_strangers() -> None:
    p = Pseudonymiser(b"k" * 32)
    jon = p.sketch("Jonathan Smith", "name")
    assert sketch_similarity(jon, p.sketch("jonathon  smith", "name")) > 0.4
    assert sketch_similarity(jon, p.sketch("José Álvarez", "name")) < 0.15
    assert sketch_similarity(jon, p.sketch("Jonathan Smith", "name")) == 1.0
    assert p.sketch("!!!", "name") == []


def test_event_problems_name_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        parse_event(
            {"event_id": "e", "type": "payment", "ts": "2026-01-01T00:00:00", "account_id": "a"}
        )
    fields = {p.field for p in problems_of(err.value, 7)}
    assert fields == {"ts", "card"}
    assert (
        parse_event(
            {"event_id": "e", "type": "login", "ts": "2026-01-01T01:00:00+01:00", "account_id": "a"}
        ).ts.hour
        == 0
    )


def test_published_schema_is_current() -> None:
    published = json.loads(
        resources.files("ringwatch.schemas").joinpath("event.schema.json").read_text()
    )
    assert published == json_schema(), (
        "run `ringwatch schema > ringwatch/schemas/event.schema.json`"
    )


def test_production_refuses_development_secrets() -> None:
    with pytest.raises(ValidationError, match="HASH_KEY"):
        Settings(_env_file=None, env="production")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="NEO4J_PASSWORD"):
        Settings(_env_file=None, env="production", hash_key="x" * 40, neo4j_uri="bolt://db:7687")  # type: ignore[call-arg]
    ok = Settings(_env_file=None, env="production", hash_key="x" * 40)  # type: ignore[call-arg]
    assert ok.hash_key.get_secret_value() != DEV_HASH_KEY
    assert "x" * 40 not in repr(ok)


def test_numbers_of_one_block_share_a_keyed_block_identifier() -> None:
    from ringwatch.records import normalise
    from tests.events import signup

    hasher = Pseudonymiser(b"k" * 32)

    def blocks(account: str, phone: str) -> list[str]:
        rec = normalise(parse_event(signup(f"e-{account}", account, phone=phone)), hasher)
        return [key for kind, key in rec["ids"] if kind == IdentifierKind.PHONE_BLOCK.value]

    first, neighbour = blocks("a", "+14155550101"), blocks("b", "+14155550188")
    assert first == neighbour and len(first) == 1
    assert blocks("c", "+14155550301") != first
    assert "+141555501" not in first[0]  # a keyed hash, never the digits


def test_phone_runs_link_close_numbers_across_block_boundaries() -> None:
    from ringwatch.identity import phone_runs

    a, b = set(phone_runs("+447700900099")), set(phone_runs("+447700900100"))
    assert a & b  # neighbours across a block boundary share a window
    assert set(phone_runs("+447700900050")) & set(phone_runs("+447700900149"))
    assert not set(phone_runs("+447700900000")) & set(phone_runs("+447700900400"))
    # Same digits in a plan of another length never meet.
    assert not set(phone_runs("+14155550101")) & set(phone_runs("+141555501010"))


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        ("Mozilla/5.0 (Linux; Android 14; sdk_gphone64_arm64) AppleWebKit/537.36", "android-sdk"),
        ("Mozilla/5.0 (Linux; Android 7.1.1; Android SDK built for x86 Build/NYC)", "android-sdk"),
        ("Dalvik/2.1.0 (Linux; U; Android 8.0.0; Genymotion 'Phone' version)", "genymotion"),
        ("Dalvik/2.1.0 (Linux; U; Android 9; vbox86p Build/PI)", "genymotion"),
        ("Mozilla/5.0 (Linux; Android 9; ASUS_Z01QD Build/PI) Chrome/91.0", "desktop-player"),
        ("Mozilla/5.0 (Linux; Android 9; SM-G973N Build/PQ3A.190605.07291528)", "desktop-player"),
        ("App/3.1 (Android 11; BlueStacks)", "desktop-player"),
        # Real phones and tablets, a Korean Galaxy on Samsung's own build among them.
        ("Mozilla/5.0 (Linux; Android 9; SM-G973N Build/PPR1.180610.011) Mobile", None),
        ("Mozilla/5.0 (Linux; Android 12; Pixel 6 Build/SQ3A.220705.004) Chrome/116.0", None),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15", None),
        ("Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 Chrome/122.0", None),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/123.0 Safari/537.36", None),
        ("Knox/2.0 (Android 14; SM-S918B)", None),
    ],
)
def test_emulator_family_names_emulator_images_only(agent: str, family: str | None) -> None:
    assert emulator_family(agent) == family


def test_an_emulator_agent_links_its_instance_and_a_phone_or_no_device_nothing() -> None:
    hasher = Pseudonymiser(b"k")
    base = {"type": "login", "account_id": "a1", "ts": "2025-01-01T00:00:00Z"}
    emulator_agent = "App/1 (Android 9; ASUS_Z01QD)"

    def emulators(**fields: str) -> list[str]:
        rec = normalise(parse_event({**base, "event_id": "e", **fields}), hasher)
        assert "ASUS" not in str(rec)  # the agent itself stays a keyed digest
        return [key for kind, key in rec["ids"] if kind == IdentifierKind.EMULATOR.value]

    device = hasher.digest(IdentifierKind.DEVICE, "d")
    assert emulators(device_id=" d ", user_agent=emulator_agent) == [f"desktop-player:{device}"]
    assert emulators(device_id="d", user_agent="App/1 (Android 14; Pixel 8)") == []
    assert emulators(user_agent=emulator_agent) == []  # no device: no instance to name

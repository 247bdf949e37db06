"""Email stems: what one person or script keeps fixed when numbering mailboxes, kept only as
a keyed hash of (provider, stem) (docs/privacy.md)."""

from __future__ import annotations

import pytest

from ringwatch.events import parse_event
from ringwatch.identity import IdentifierKind, Pseudonymiser, email_stem, normalise_email
from ringwatch.records import normalise
from tests.events import signup


def stem_of(raw: str) -> tuple[str, str] | None:
    _, local, domain = normalise_email(raw)
    return email_stem(local, domain)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("anna.kowalski301@gmail.com", ("gmail.com", "annakowalski")),
        ("Anna.Kowalski+promo302@GoogleMail.com", ("gmail.com", "annakowalski")),
        ("anna_kowalski-303@outlook.com", ("outlook.com", "annakowalski")),
        ("anna.kowalski+shop@outlook.com", ("outlook.com", "annakowalski")),
        ("annak-newsletter@yahoo.com", ("yahoo.com", "annak")),  # Yahoo's base-keyword
        ("josé.garcía1990@icloud.com", ("icloud.com", "josegarcia")),
        ("jose.garcia@me.com", ("icloud.com", "josegarcia")),  # one Apple namespace
        ("mark2jones77@gmail.com", ("gmail.com", "mark2jones")),  # only trailing digits go
    ],
)
def test_stems_ignore_separators_tags_accents_and_the_counter(
    raw: str, want: tuple[str, str]
) -> None:
    assert stem_of(raw) == want


@pytest.mark.parametrize("raw", ["12345678@qq.com", "jo12@gmail.com", "a.b.7@example.org"])
def test_short_or_numeric_local_parts_have_no_stem(raw: str) -> None:
    assert stem_of(raw) is None


def test_providers_keep_stems_apart() -> None:
    assert stem_of("anna.k1@gmail.com") != stem_of("anna.k2@outlook.com")


def test_the_record_links_a_keyed_stem_never_its_text() -> None:
    hasher = Pseudonymiser(b"k" * 32)

    def stems(account: str, email: str) -> list[str]:
        rec = normalise(parse_event(signup(f"e-{account}", account, email=email)), hasher)
        return [key for kind, key in rec["ids"] if kind == IdentifierKind.EMAIL_STEM.value]

    first = stems("a", "mark.jones17@gmail.com")
    assert len(first) == 1
    assert stems("b", "markjones18@gmail.com") == first
    assert stems("c", "mark.jones17@outlook.com") != first
    assert stems("d", "1234567@qq.com") == []
    assert "markjones" not in first[0] and "gmail" not in first[0]
    # A different key makes a different node: the hash cannot be tested without the key.
    other = normalise(
        parse_event(signup("e-z", "z", email="mark.jones17@gmail.com")),
        Pseudonymiser(b"q" * 32),
    )
    assert [k for kind, k in other["ids"] if kind == "email_stem"] != first

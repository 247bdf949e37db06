"""Invariants of generated worlds: valid events, truth consistent with events, determinism,
and the distribution shapes that make the worlds hard (heavy-tailed sharing, ring sizes)."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import itertools
import re
import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import phonenumbers
import pytest
import typer
from typer.testing import CliRunner

from ringwatch.cli.lifecycle import exit_cleanly_on_signals
from ringwatch.events import parse_event
from ringwatch.identity import fold_text
from ringwatch.worlds import PROFILES, generate
from ringwatch.worlds.fraud import ring_sizes

World = tuple[Path, dict[str, Any], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    out = tmp_path_factory.mktemp("world20k")
    generate(out, 20_000, 7, "default")
    with (out / "events.jsonl").open("rb") as fh:
        events = [orjson.loads(line) for line in fh]
    return out, orjson.loads((out / "truth.json").read_bytes()), events


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_event_validates_and_is_time_ordered(world: World) -> None:
    _, _, events = world
    assert 5 * 20_000 <= len(events) <= 9 * 20_000
    ids = set()
    for raw in events:
        parse_event(raw)
        ids.add(raw["event_id"])
    assert len(ids) == len(events), "event ids must be unique"
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)


def test_identifier_formats(world: World) -> None:
    _, _, events = world
    phones = {e["phone"] for e in events if e.get("phone")}
    assert len(phones) > 10_000
    for p in list(phones)[:3000]:
        assert phonenumbers.is_possible_number(phonenumbers.parse(p)), p
    ips = {e["ip"] for e in events if e.get("ip")}
    assert any(":" in ip for ip in ips), "some mobile traffic is IPv6"
    from ringwatch.identity import normalise_email, normalise_ip

    for ip in list(ips)[:3000]:
        normalise_ip(ip)
    for e in events[:20000]:
        if e.get("email"):
            normalise_email(e["email"])


def test_each_account_signs_up_once_before_acting(world: World) -> None:
    _, truth, events = world
    signup: dict[str, str] = {}
    for e in events:
        if e["type"] == "signup":
            assert e["account_id"] not in signup
            signup[e["account_id"]] = e["ts"]
        else:
            assert e["account_id"] in signup, "activity before signup"
    assert len(signup) == truth["accounts"] == 20_000
    for ring in truth["rings"]:
        assert all(m in signup for m in ring["members"])
    for group in truth["groups"]:
        assert all(m in signup for m in group["members"])
    assert all(a in signup for a in truth["labels"])


def test_labels_counts_and_rings_agree(world: World) -> None:
    _, truth, _ = world
    counts = truth["label_counts"]
    assert sum(counts.values()) == truth["accounts"]
    assert len(truth["labels"]) == truth["accounts"] - counts["benign"]
    for ring in truth["rings"]:
        expected = "underage" if ring["style"] == "underage" else "fraud"
        assert all(truth["labels"][m] == expected for m in ring["members"])
        assert len(ring["members"]) == ring["size"] >= 3
    styles = {r["style"] for r in truth["rings"]}
    assert {"device_farm", "sim_farm", "proxy_rotation", "engagement"} <= styles


def _by_account(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        out[e["account_id"]].append(e)
    return out


def test_repeat_offenders_return_after_ban_and_keep_something(world: World) -> None:
    _, truth, events = world
    acts = _by_account(events)
    offenders = truth["repeat_offenders"]
    assert len(offenders) >= 30
    for off in offenders:
        new = acts[off["account_id"]]
        new_signup = next(e for e in new if e["type"] == "signup")
        assert truth["labels"][off["account_id"]] == "evader"
        old_id = off["continues"][0]
        old = acts[old_id]
        bans = [e for e in old if e["type"] == "enforcement" and e["action"] == "ban"]
        assert bans, "a repeat offender continues a banned account"
        assert new_signup["ts"] > bans[0]["ts"]
        old_signup = next(e for e in old if e["type"] == "signup")

        def strong(evs: list[dict[str, Any]]) -> set[str]:
            return {f"{k}:{e[k]}" for e in evs for k in ("device_id", "card", "phone") if e.get(k)}

        shared = strong(old) & strong(new)
        # Retyped names carry typos and birthdates can be a day or a typed year off, so "similar"
        # means a name token that nearly matches plus a birthdate within a year and a day.
        born_old = dt.date.fromisoformat(old_signup["birthdate"])
        born_new = dt.date.fromisoformat(new_signup["birthdate"])
        close_birth = abs((born_old - born_new).days) <= 367
        # The old persona may show only a nickname; its name then lives in the email.
        similar_name = _similar(_name_text(old_signup), _name_text(new_signup))
        assert shared or (similar_name and close_birth), off


def _name_text(signup: dict[str, Any]) -> str:
    local = signup["email"].split("@")[0]
    return signup["display_name"] + " " + re.sub(r"[._+\d-]+", " ", local)


def _similar(a: str, b: str) -> bool:
    def grams(s: str) -> set[str]:
        t = f"^{s}$"
        return {t[i : i + 3] for i in range(len(t) - 2)}

    def candidates(s: str) -> set[str]:
        tokens = fold_text(s).split()
        # "emmaallen" in an email is "Emma Allen" written together.
        return set(tokens) | {x + y for x, y in itertools.pairwise(tokens)}

    return any(
        x in y or y in x or len(grams(x) & grams(y)) / len(grams(x) | grams(y)) >= 0.4
        for x in candidates(a)
        for y in candidates(b)
        if len(x) >= 3 and len(y) >= 3
    )


def test_kept_identifiers_are_really_kept(world: World) -> None:
    _, truth, events = world
    acts = _by_account(events)
    checked = 0
    for off in truth["repeat_offenders"]:
        old = acts[off["continues"][0]]
        new = acts[off["account_id"]]
        for kind, key in (("device", "device_id"), ("card", "card"), ("phone", "phone")):
            if kind in off["kept"]:
                olds = {e[key] for e in old if e.get(key)}
                news = {e[key] for e in new if e.get(key)}
                assert olds & news, (kind, off)
                checked += 1
    assert checked > 10


def test_benign_groups_match_shared_identifiers(world: World) -> None:
    _, truth, events = world
    ips_of: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.get("ip"):
            ips_of[e["account_id"]].add(e["ip"])
    kinds = {g["kind"] for g in truth["groups"]}
    assert {"family", "cgnat", "office", "campus", "cafe"} <= kinds
    for g in truth["groups"]:
        ips = set(g["ips"])
        assert len(g["members"]) >= 2
        for m in g["members"]:
            assert ips_of[m] & ips, (g["group_id"], m)


def test_ip_sharing_is_heavy_tailed(world: World) -> None:
    _, _, events = world
    accounts_per_ip: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.get("ip"):
            accounts_per_ip[e["ip"]].add(e["account_id"])
    sizes = np.array([len(v) for v in accounts_per_ip.values()])
    assert np.median(sizes) <= 2
    assert sizes.max() >= 500
    assert sizes.max() >= 100 * np.median(sizes)
    # Many different popular IPs, not one freak.
    assert (sizes >= 100).sum() >= 10


def test_ring_sizes_are_heavy_tailed(world: World) -> None:
    _, truth, _ = world
    sizes = [r["size"] for r in truth["rings"]]
    assert min(sizes) <= 5
    assert max(sizes) >= 100
    rng = np.random.default_rng(3)
    many = ring_sizes(rng, 40_000, 1.05, 400)
    assert many.min() == 3 and many.max() == 400
    assert np.median(many) <= 8
    assert abs(int(many.sum()) - 40_000) < 2_000


def test_fraud_is_not_keyed_on_trivia(world: World) -> None:
    _, truth, events = world
    bad = set(truth["labels"])
    prefixes = {a[:3] for a in bad} | {e["account_id"][:3] for e in events[:5000]}
    # Ids are a keyed bijection: fraud and benign ids come from the same space.
    assert len(prefixes) > 50
    device_farms = [r for r in truth["rings"] if r["style"] == "device_farm"]
    devices: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.get("device_id"):
            devices[e["account_id"]].add(e["device_id"])
    counts = set()
    for ring in device_farms:
        counts.add(len(set().union(*(devices[m] for m in ring["members"]))))
    assert len(counts) > 1, "device farms vary in how many devices they use"


def test_deterministic_per_seed(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, 2000, 11, "default", workers=1)
    generate(b, 2000, 11, "default", workers=2)
    generate(c, 2000, 12, "default")
    assert _digest(a / "events.jsonl") == _digest(b / "events.jsonl")
    assert _digest(a / "truth.json") == _digest(b / "truth.json")
    assert _digest(a / "events.jsonl") != _digest(c / "events.jsonl")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_generates(tmp_path: Path, name: str) -> None:
    summary = generate(tmp_path, 2000, 1, name)
    truth = orjson.loads(summary.truth_path.read_bytes())
    assert truth["profile"] == name
    assert summary.events >= 2000
    with summary.events_path.open("rb") as fh:
        for line in fh:
            parse_event(orjson.loads(line))


def test_heavy_fraud_has_more_fraud_than_default(tmp_path: Path) -> None:
    d = generate(tmp_path / "d", 3000, 2, "default")
    h = generate(tmp_path / "h", 3000, 2, "heavy-fraud")
    assert h.ring_members > 2 * d.ring_members


def test_cli_synth(tmp_path: Path) -> None:
    from ringwatch.cli.synth import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # two commands keep typer from collapsing to one
    runner = CliRunner()
    ok = runner.invoke(app, ["synth", str(tmp_path / "w"), "--accounts", "500", "--seed", "3"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "w" / "events.jsonl").stat().st_size > 0
    bad = runner.invoke(app, ["synth", str(tmp_path / "x"), "--accounts", "500", "-p", "nope"])
    assert bad.exit_code != 0
    assert "unknown profile" in bad.output
    small = runner.invoke(app, ["synth", str(tmp_path / "y"), "--accounts", "5"])
    assert small.exit_code != 0


def test_no_two_people_get_one_mailbox(world: World) -> None:
    """A provider never issues one mailbox twice: signup emails shared (normalised) by two
    accounts must be the same person on purpose, a returner or the Gmail dot trick of one
    operator, never two unrelated people."""
    from ringwatch.identity import normalise_email

    _, truth, events = world
    holders: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e["type"] == "signup" and e.get("email"):
            holders[normalise_email(e["email"])[0]].add(e["account_id"])
    labels = truth["labels"]
    shared = [accounts for accounts in holders.values() if len(accounts) > 1]
    benign_pairs = [a for a in shared if not any(x in labels for x in a)]
    assert benign_pairs == []


def test_later_holders_of_a_taken_mailbox_are_renumbered() -> None:
    """At 100k accounts the name pools collide hundreds of times; every collision is resolved
    by re-numbering the later signup, and the count says it happened."""
    from ringwatch.worlds.fraud import plan_fraud
    from ringwatch.worlds.mailboxes import unique_mailboxes
    from ringwatch.worlds.plan import Planner, new_world, plan_benign

    rng = np.random.default_rng(np.random.SeedSequence([1, 0]))
    w = new_world(100_000, 1, PROFILES["default"], int(rng.integers(0, 1 << 48)))
    pl = Planner(w, rng)
    pl.build_pools()
    plan_benign(pl, plan_fraud(pl))
    assert unique_mailboxes(w) > 100
    assert unique_mailboxes(w) == 0  # nothing left to resolve


def test_no_two_ordinary_people_get_one_number() -> None:
    """A carrier never issues one number to two people at once: family contracts and company
    ranges drawn beside random numbers used to hand a colleague a teenager's number in
    another family. Numbers shared on purpose (an evader keeping the banned account's SIM)
    stay shared."""
    from ringwatch.worlds.fraud import plan_fraud
    from ringwatch.worlds.model import BENIGN
    from ringwatch.worlds.phones import unique_phones
    from ringwatch.worlds.plan import Planner, new_world, plan_benign

    rng = np.random.default_rng(np.random.SeedSequence([1, 0]))
    w = new_world(100_000, 1, PROFILES["field"], int(rng.integers(0, 1 << 48)))
    pl = Planner(w, rng)
    pl.build_pools()
    plan_benign(pl, plan_fraud(pl))
    evaders_sharing = _benign_sharing_numbers(w, BENIGN)[1]
    assert _benign_sharing_numbers(w, BENIGN)[0] > 50
    assert unique_phones(w, rng) > 50
    benign_after, evaders_after = _benign_sharing_numbers(w, BENIGN)
    assert benign_after == 0
    assert evaders_after == evaders_sharing > 0
    assert unique_phones(w, rng) == 0  # nothing left to resolve


def _benign_sharing_numbers(w: Any, benign: int) -> tuple[int, int]:
    """(later signups of ordinary people holding a number someone already holds, accounts of
    other labels holding one)."""
    has = np.flatnonzero(w.phone >= 0)
    order = has[np.argsort(w.signup[has], kind="stable")]
    key = w.phone[order] * 1000 + w.phone_country[order]
    _, first = np.unique(key, return_index=True)
    later = np.ones(order.shape[0], bool)
    later[first] = False
    shared = np.isin(key, key[later])
    return int((later & (w.label[order] == benign)).sum()), int(
        (shared & (w.label[order] != benign)).sum()
    )


# The module, which the package's `generate` function shadows as an attribute.
generate_module = importlib.import_module("ringwatch.worlds.generate")
_RENDER = generate_module._render


def _render_checking_signals(chunk: int) -> Any:
    """The render step, refusing to run in a worker that would not die on SIGTERM."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        raise AssertionError("a render worker kept the parent's SIGTERM handler")
    return _RENDER(chunk)


def test_render_workers_die_on_sigterm_whatever_handler_the_cli_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ringwatch synth` installs SIGTERM -> SystemExit (cli.lifecycle) before forking its
    workers. A worker that inherited it and was entering the pool's task lock when the pool
    signalled it never stopped, and synth hung joining it; workers now run with the default
    disposition."""
    monkeypatch.setattr(generate_module, "_render", _render_checking_signals)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    exit_cleanly_on_signals()
    try:
        summary = generate(tmp_path, 20_000, 5, "default", workers=2)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    assert summary.accounts == 20_000 and (tmp_path / "events.jsonl").stat().st_size > 0

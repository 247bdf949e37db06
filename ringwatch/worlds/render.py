"""Turn the numeric world model into the strings events carry (ids, IPs, phones, emails, names).

The plan stores every identifier as an integer so that millions of accounts fit in a few numpy
arrays; strings are only made per chunk while writing. Functions here are pure: the same integer
always renders to the same string, which is what lets a returning offender's kept phone or device
come out identical to the banned account's.
"""

from __future__ import annotations

import datetime as dt

from ringwatch.worlds.locale import (
    COUNTRIES,
    DISPOSABLE_DOMAINS,
    FIRST_NAMES,
    GLOBAL_DOMAINS,
    KID_WORDS,
    LAST_NAMES,
    NICKNAMES,
)

_MASK48 = (1 << 48) - 1
_MASK64 = (1 << 64) - 1

# All email domains in one indexable list: global webmail, then every country's ISP mail, then
# throwaway domains. The plan stores indices into it.
DOMAINS: tuple[str, ...] = tuple(
    [d for d, _ in GLOBAL_DOMAINS]
    + sorted({d for c in COUNTRIES for d in c.local_domains})
    + list(DISPOSABLE_DOMAINS)
)
DOMAIN_INDEX = {d: i for i, d in enumerate(DOMAINS)}
DISPOSABLE_START = len(DOMAINS) - len(DISPOSABLE_DOMAINS)
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def mix48(value: int, salt: int) -> int:
    """A bijection on 48-bit integers: sequential indices become random-looking, unique ids.

    Ids carry no hint of how they were made (fraud accounts are not a contiguous block).
    """
    x = (value ^ salt) & _MASK48
    x = (x * 0x9E3779B97F4B) & _MASK48
    x ^= x >> 23
    x = (x * 0x2545F4914F6D) & _MASK48
    x ^= x >> 19
    return x


def mix64(value: int) -> int:
    x = value & _MASK64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & _MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & _MASK64
    x ^= x >> 33
    return x


def account_id(index: int, salt: int) -> str:
    return f"u{mix48(index, salt):012x}"


def device_id(value: int) -> str:
    return f"{mix64(value + 0x5D1CE):016x}"


def card_id(value: int) -> str:
    return f"cf_{mix64(value + 0xCA4D):016x}"


def ipv4(value: int) -> str:
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def ipv6_mobile(country: int, value: int) -> str:
    """Carriers hand each device its own /64 out of a few regional pools, so addresses are
    unique per user but thousands of users share a /48."""
    h = mix64(value)
    pool = h % 3
    return (
        f"2a0{country % 10:x}:{0x1000 + country * 16 + pool:x}:{(h >> 8) & 0xF:x}00:"
        f"{(h >> 12) & 0xFFFF:x}:{(h >> 28) & 0xFFFF:x}:{(h >> 44) & 0xFFFF:x}:"
        f"{value & 0xFFFF:x}:{(h >> 2) & 0xFFF:x}"
    )


def phone(country: int, national: int) -> str:
    return f"+{COUNTRIES[country].calling_code}{national}"


def typo(word: str, seed: int) -> str:
    """The small edits people make retyping their own name: a swap, a drop, a double, a vowel."""
    if len(word) < 3 or seed == 0:
        return word
    pos = 1 + seed % (len(word) - 2)
    op = (seed // 7) % 4
    if op == 0:
        return word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
    if op == 1:
        return word[:pos] + word[pos + 1 :]
    if op == 2:
        return word[:pos] + word[pos] + word[pos:]
    vowels = "aeiou"
    ch = word[pos].lower()
    repl = vowels[(vowels.index(ch) + 1) % 5] if ch in vowels else "y"
    return word[:pos] + repl + word[pos + 1 :]


def names(region: str, first: int, last: int, typo_seed: int) -> tuple[str, str]:
    firsts = FIRST_NAMES[region]
    lasts = LAST_NAMES[region]
    f = firsts[first % len(firsts)]
    ln = lasts[last % len(lasts)]
    if typo_seed:
        if typo_seed % 2:
            f = typo(f, typo_seed)
        else:
            ln = typo(ln, typo_seed)
    return f, ln


def display_name(first: str, last: str, style: int, nick: int, num: int) -> str:
    if style == 0:
        return f"{first} {last}"
    if style == 1:
        return f"{first} {last[0]}."
    if style == 2:
        return f"{first.lower()} {last.lower()}"
    if style == 3:
        return first
    if style == 4:
        return f"{NICKNAMES[nick % len(NICKNAMES)]}{num % 1000}"
    if style == 5:
        return f"{KID_WORDS[nick % len(KID_WORDS)]}_{first.lower()}{num % 100}"
    return f"{first} {last}"


def _handle(value: int, length: int) -> str:
    h = mix64(value + 0xE3A1)
    out = []
    for _ in range(length):
        out.append(_ALNUM[h % 36])
        h //= 36
    return "".join(out)


def email(first: str, last: str, style: int, num: int, domain: int, nick: int) -> str:
    """One mailbox. `num` < 0 means no digits; style 6 is the Gmail dot/plus trick, where
    `nick` seeds the shared base mailbox and `num` picks the variant."""
    f = first.lower().replace(" ", "")
    ln = last.lower().replace(" ", "")
    digits = "" if num < 0 else str(num)
    if style == 0:
        local = f"{f}.{ln}{digits}"
    elif style == 1:
        local = f"{f}{ln}{digits}"
    elif style == 2:
        local = f"{f}_{ln}{digits}"
    elif style == 3:
        local = f"{f[0]}{ln}{digits}"
    elif style == 4:
        local = f"{NICKNAMES[nick % len(NICKNAMES)]}.{f}{digits}"
    elif style == 5:
        local = _handle(num * 977 + nick, 6 + num % 5)
    elif style == 6:
        base = _handle(nick, 9)
        variant = max(num, 0)
        # Dots between letters and +tags reach the same Gmail inbox.
        dots = "".join(ch + ("." if variant >> i & 1 else "") for i, ch in enumerate(base[:-1]))
        local = dots + base[-1] + (f"+{variant % 97}" if variant % 3 == 0 else "")
        return f"{local}@gmail.com"
    else:
        local = f"{KID_WORDS[nick % len(KID_WORDS)]}{f}{digits}"
    return f"{local}@{DOMAINS[domain % len(DOMAINS)]}"


_EPOCH = dt.date(1970, 1, 1)


def birthdate(days: int) -> str:
    return (_EPOCH + dt.timedelta(days=days)).isoformat()


class Clock:
    """RFC 3339 strings for epoch seconds, from two lookup tables (a strftime per event is the
    single largest cost at millions of events)."""

    def __init__(self, start: int, days: int) -> None:
        self.start = start - start % 86400
        base = dt.datetime.fromtimestamp(self.start, dt.UTC).date()
        self.days = [(base + dt.timedelta(days=d)).isoformat() + "T" for d in range(days + 3)]
        self.hms = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(86400)]

    def __call__(self, ts: int) -> str:
        d, s = divmod(ts - self.start, 86400)
        return self.days[d] + self.hms[s]

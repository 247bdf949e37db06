"""Named parameter sets for generated worlds; docs/worlds.md explains each knob."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

STYLES: tuple[str, ...] = (
    "device_farm",
    "sim_farm",
    "proxy_rotation",
    "card_testing",
    "referral_chain",
    "engagement",
    "underage",
    # The "field" family's styles (docs/worlds.md): traces the tuned styles do not leave.
    "sim_range",
    "device_pairs",
    "card_ring",
)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    days: int = 180
    start: str = "2025-01-01"
    # Share of accounts that belong to planted rings (before repeat offenders are added).
    ring_share: float = 0.04
    # Lone abusers: banned on their own, no ring; some come back as repeat offenders.
    solo_abuser_share: float = 0.004
    style_weights: dict[str, float] = field(
        default_factory=lambda: {
            "device_farm": 0.22,
            "sim_farm": 0.14,
            "proxy_rotation": 0.16,
            "card_testing": 0.12,
            "referral_chain": 0.12,
            "engagement": 0.16,
            "underage": 0.08,
        }
    )
    # Ring sizes follow a Pareto tail from 3 up to this cap; lower alpha = heavier tail.
    ring_size_alpha: float = 1.05
    ring_size_max: int = 400
    ban_share: float = 0.35  # average share of ring members banned during the world
    return_share: float = 0.35  # share of banned accounts whose owner comes back
    # Probabilities that a returning account keeps each old identifier.
    keep_device: float = 0.55
    keep_card: float = 0.45
    keep_phone: float = 0.30
    keep_name: float = 0.50
    camouflage: float = 0.35  # how often ring members borrow benign habits
    # Benign look-alike structure.
    household_sizes: tuple[float, ...] = (0.52, 0.24, 0.12, 0.08, 0.04)  # P(size 1..5, 6...)
    # Households spanning generations: beyond the two first members, children (6-17) and
    # grandparents (60-85) instead of teenagers and young adults only.
    household_generations: bool = False
    # Share of multi-member households on one family contract: consecutive phone numbers.
    family_contract: float = 0.0
    # Share of offices handing out company phones from one consecutive range.
    company_phones: float = 0.0
    family_tablet: float = 0.55
    family_card: float = 0.30
    office_share: float = 0.18
    campus_share: float = 0.07
    cafe_share: float = 0.10
    vpn_share: float = 0.03
    mobile_share: float = 0.55
    ipv6_share: float = 0.25  # of mobile users, the share whose carrier hands out IPv6
    # Accounts per CGNAT gateway; with the Zipf exponent this sets how heavy the tail is.
    accounts_per_gateway: float = 150.0
    gateway_zipf: float = 1.15
    card_share: float = 0.40
    travel_share: float = 0.15
    logins_mean: float = 1.5
    engage_mean: float = 1.0


_DEFAULT = Profile(
    name="default",
    description="A mid-sized international consumer platform with about 4% of accounts in rings.",
)

# A population written against other assumptions than the tuned profiles: SIM farms on carrier
# NAT with fresh devices, device farms of a device per 2-3 accounts, card rings without shared
# devices, big carrier NAT gateways, families of up to 6 over three generations on family
# contracts, and colleagues with adjacent company numbers.
_FIELD = replace(
    _DEFAULT,
    name="field",
    description="Independent-style population: SIM ranges over carrier NAT, farms of one device "
    "per 2-3 accounts, card rings without shared devices, multi-generation families on family "
    "contracts, offices with consecutive company numbers.",
    style_weights={
        "device_farm": 0.08,
        "sim_farm": 0.04,
        "proxy_rotation": 0.08,
        "card_testing": 0.04,
        "referral_chain": 0.08,
        "engagement": 0.08,
        "underage": 0.05,
        "sim_range": 0.22,
        "device_pairs": 0.18,
        "card_ring": 0.15,
    },
    household_sizes=(0.40, 0.22, 0.14, 0.12, 0.08, 0.04),
    household_generations=True,
    family_tablet=0.7,
    family_card=0.4,
    family_contract=0.5,
    company_phones=0.4,
    office_share=0.25,
    mobile_share=0.7,
    accounts_per_gateway=1500.0,
)

PROFILES: dict[str, Profile] = {
    "default": _DEFAULT,
    "small-platform": replace(
        _DEFAULT,
        name="small-platform",
        description="A young platform: fewer offices and campuses, smaller rings, little history.",
        days=60,
        ring_share=0.02,
        ring_size_max=120,
        office_share=0.08,
        campus_share=0.03,
        accounts_per_gateway=300.0,
        ban_share=0.2,
        return_share=0.25,
    ),
    "heavy-fraud": replace(
        _DEFAULT,
        name="heavy-fraud",
        description="A platform under attack: 15% of accounts in rings, aggressive bans, many "
        "returning offenders.",
        ring_share=0.15,
        solo_abuser_share=0.01,
        ring_size_alpha=0.95,
        ring_size_max=600,
        ban_share=0.5,
        return_share=0.5,
    ),
    "stealthy": replace(
        _DEFAULT,
        name="stealthy",
        description="Careful fraud: small rings, heavy camouflage, returning offenders keep few "
        "identifiers.",
        ring_share=0.03,
        ring_size_alpha=1.4,
        ring_size_max=150,
        camouflage=0.7,
        keep_device=0.3,
        keep_card=0.25,
        keep_phone=0.15,
        keep_name=0.35,
    ),
    "field": _FIELD,
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None

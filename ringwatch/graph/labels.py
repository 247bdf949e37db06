"""Every label and relationship type the graph uses: the whitelist for names put into Cypher."""

from __future__ import annotations

from enum import StrEnum

from ringwatch.identity import IdentifierKind


class Label(StrEnum):
    ACCOUNT = "Account"
    DEVICE = "Device"
    IP = "IP"
    SUBNET = "Subnet"
    EMAIL = "Email"
    EMAIL_DOMAIN = "EmailDomain"
    PHONE = "Phone"
    CARD = "Card"
    PHONE_BLOCK = "PhoneBlock"
    PHONE_RUN = "PhoneRun"
    EMAIL_STEM = "EmailStem"
    EMULATOR = "Emulator"
    TARGET = "Target"
    ENFORCEMENT = "Enforcement"
    BATCH = "Batch"
    RING = "Ring"
    CHANGE = "Change"
    SEQUENCE = "Sequence"
    DETECTION_RUN = "DetectionRun"
    AUDIT = "Audit"
    REVIEW = "Review"


class Rel(StrEnum):
    USES_DEVICE = "USES_DEVICE"
    USES_IP = "USES_IP"
    USES_SUBNET = "USES_SUBNET"
    USES_EMAIL = "USES_EMAIL"
    USES_EMAIL_DOMAIN = "USES_EMAIL_DOMAIN"
    USES_PHONE = "USES_PHONE"
    USES_CARD = "USES_CARD"
    USES_PHONE_BLOCK = "USES_PHONE_BLOCK"
    USES_PHONE_RUN = "USES_PHONE_RUN"
    USES_EMAIL_STEM = "USES_EMAIL_STEM"
    USES_EMULATOR = "USES_EMULATOR"
    PART_OF = "PART_OF"
    FRIEND = "FRIEND"
    FOLLOWS = "FOLLOWS"
    INVITED = "INVITED"
    BLOCKED = "BLOCKED"
    ENGAGED = "ENGAGED"
    ENFORCED = "ENFORCED"
    MEMBER_OF = "MEMBER_OF"


IDENTIFIER_LABEL: dict[IdentifierKind, Label] = {
    IdentifierKind.DEVICE: Label.DEVICE,
    IdentifierKind.IP: Label.IP,
    IdentifierKind.SUBNET: Label.SUBNET,
    IdentifierKind.EMAIL: Label.EMAIL,
    IdentifierKind.EMAIL_DOMAIN: Label.EMAIL_DOMAIN,
    IdentifierKind.PHONE: Label.PHONE,
    IdentifierKind.CARD: Label.CARD,
    IdentifierKind.PHONE_BLOCK: Label.PHONE_BLOCK,
    IdentifierKind.PHONE_RUN: Label.PHONE_RUN,
    IdentifierKind.EMAIL_STEM: Label.EMAIL_STEM,
    IdentifierKind.EMULATOR: Label.EMULATOR,
}

IDENTIFIER_REL: dict[IdentifierKind, Rel] = {
    IdentifierKind.DEVICE: Rel.USES_DEVICE,
    IdentifierKind.IP: Rel.USES_IP,
    IdentifierKind.SUBNET: Rel.USES_SUBNET,
    IdentifierKind.EMAIL: Rel.USES_EMAIL,
    IdentifierKind.EMAIL_DOMAIN: Rel.USES_EMAIL_DOMAIN,
    IdentifierKind.PHONE: Rel.USES_PHONE,
    IdentifierKind.CARD: Rel.USES_CARD,
    IdentifierKind.PHONE_BLOCK: Rel.USES_PHONE_BLOCK,
    IdentifierKind.PHONE_RUN: Rel.USES_PHONE_RUN,
    IdentifierKind.EMAIL_STEM: Rel.USES_EMAIL_STEM,
    IdentifierKind.EMULATOR: Rel.USES_EMULATOR,
}

# A relationship type's name (as Cypher's type(r) returns it) -> the identifier kind it links.
KIND_OF_REL: dict[str, IdentifierKind] = {rel.value: kind for kind, rel in IDENTIFIER_REL.items()}

RELATION_REL: dict[str, Rel] = {
    "friend": Rel.FRIEND,
    "follow": Rel.FOLLOWS,
    "invite": Rel.INVITED,
    "block": Rel.BLOCKED,
}

# Every relationship type out of an account that a detection snapshot holds.
SNAPSHOT_RELS: tuple[Rel, ...] = (*IDENTIFIER_REL.values(), *RELATION_REL.values(), Rel.ENGAGED)

# The property each label is unique on.
KEY_PROPERTY: dict[Label, str] = {
    Label.ACCOUNT: "id",
    **{label: "key" for label in IDENTIFIER_LABEL.values()},
    Label.TARGET: "id",
    Label.ENFORCEMENT: "event_id",
    Label.BATCH: "id",
    Label.RING: "id",
    Label.CHANGE: "seq",
    Label.SEQUENCE: "name",
    Label.DETECTION_RUN: "id",
    Label.AUDIT: "id",
    Label.REVIEW: "id",
}

# Unique constraints: each label's key, and properties that MERGE looks up by. A review's
# `open_key` exists only while it is unresolved (nodes without it are not held to uniqueness);
# without the constraint every review upsert scans all reviews, and two concurrent upserts of
# one subject could both create an item.
UNIQUE_PROPERTIES: tuple[tuple[Label, str], ...] = (
    *KEY_PROPERTY.items(),
    (Label.REVIEW, "open_key"),
)

# Indexes on properties that are not unique: the audit log, which grows with every review and
# ring action, is read by subject (an account's or ring's history) and paged in time order;
# the review queue's pages read the items of a status, few beside the resolved ones.
INDEXED_PROPERTIES: tuple[tuple[Label, str], ...] = (
    (Label.AUDIT, "at"),
    (Label.AUDIT, "subject_id"),
    (Label.REVIEW, "status"),
)

"""Synthetic worlds: account populations with planted fraud and known truth (docs/worlds.md)."""

from ringwatch.worlds.generate import SynthSummary, generate
from ringwatch.worlds.profiles import PROFILES, Profile, get_profile

__all__ = ["PROFILES", "Profile", "SynthSummary", "generate", "get_profile"]

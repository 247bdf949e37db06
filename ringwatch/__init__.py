"""Ringwatch: find fraud rings, ban evaders and coordinated abuse in an identity graph."""

__version__ = "0.1.0"

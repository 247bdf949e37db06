"""Thin FastAPI routers over `ringwatch.services`."""

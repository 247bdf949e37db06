"""Thin Celery tasks: they take ids and call `ringwatch.services`."""

"""Bulwark's project package: settings, URLs, the Celery app, and the cross-cutting
parts of the product (roles, FX rates, the cash view, FBAR)."""

from .celery import app as celery_app

__all__ = ("celery_app",)

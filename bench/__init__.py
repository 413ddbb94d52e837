"""Benchmarks, one module each, run by `python manage.py bench NAME`.

Each module has `add_arguments(parser)` and `run(*, stdout, **options) -> dict`; the dict
is printed as the final JSON line. Figures are measured, never asserted in tests.
"""

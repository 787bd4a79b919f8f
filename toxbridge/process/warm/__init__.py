"""Warm tox: a worker that has imported tox forks one child per run.

This package's `__init__` stays empty: `python -m toxbridge.process.warm.worker` must
import nothing but the standard library.
"""

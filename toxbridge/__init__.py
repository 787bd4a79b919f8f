"""toxbridge: run tox inside a container from your terminal or editor."""

from __future__ import annotations

__version__ = "0.1.0"

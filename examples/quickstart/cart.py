"""A shopping cart with one deliberate bug, for toxbridge's quick start."""

from __future__ import annotations


def total(prices: list[float], discount: float = 0.0) -> float:
    """The sum of `prices`, less `discount` (a fraction: 0.1 is 10 % off)."""
    subtotal = sum(prices)
    return round(subtotal - discount, 2)  # the bug: a discount is a fraction of subtotal


def count(prices: list[float]) -> int:
    return len(prices)

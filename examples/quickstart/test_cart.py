"""Two tests pass; one finds the bug in cart.total."""

from __future__ import annotations

from cart import count, total


def test_total_adds_prices() -> None:
    assert total([1.5, 2.5]) == 4.0


def test_count() -> None:
    assert count([1.0, 2.0, 3.0]) == 3


def test_discount_is_a_fraction() -> None:
    assert total([10.0, 10.0], discount=0.1) == 18.0

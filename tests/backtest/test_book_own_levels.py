"""The replay venue's book publication adds our resting lots to the levels it shows: a level of
ours the book has gets our size added, one it does not show is inserted in price order, and the
side keeps `depth` levels (the best ones)."""

from __future__ import annotations

import random

from connectors.replay.exchange import _add_own


def expected(levels: dict[int, int], own: dict[int, int], sign: int, depth: int) -> list[tuple[int, int]]:
    merged = dict(levels)
    for price, lots in own.items():
        merged[price] = merged.get(price, 0) + lots
    return sorted(merged.items(), reverse=sign > 0)[:depth]


def test_own_lots_merge_into_the_shown_levels_best_first_and_cut_at_depth() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        sign, depth = rng.choice((1, -1)), rng.randint(1, 6)
        book = rng.sample(range(90, 111), rng.randint(0, depth))
        levels = {price: rng.randint(1, 9) for price in book}
        own = {price: rng.randint(1, 3) for price in rng.sample(range(85, 116), rng.randint(1, 3))}
        shown = sorted(levels.items(), reverse=sign > 0)
        prices, lots = [p for p, _ in shown], [n for _, n in shown]
        for price, own_lots in own.items():
            _add_own(prices, lots, price, own_lots, sign, depth)
        assert list(zip(prices, lots, strict=True)) == expected(levels, own, sign, depth)


def test_a_level_of_ours_behind_a_full_book_is_not_shown() -> None:
    prices, lots = [100, 99], [5, 5]
    _add_own(prices, lots, 98, 1, 1, 2)
    assert (prices, lots) == ([100, 99], [5, 5])
    _add_own(prices, lots, 101, 2, 1, 2)
    assert (prices, lots) == ([101, 100], [2, 5])

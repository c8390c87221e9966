"""TickBitmap: which ticks are initialized, packed 256 per word as in the pool contract.

The swap loop must stop at the same step boundaries as the contract (the next initialized tick,
or the edge of the current 256-tick word when none is initialized there): each step rounds its
amounts and fee growth separately, so different boundaries would give different integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amm.math.full_math import least_significant_bit, most_significant_bit


def compress_tick(tick: int, tick_spacing: int) -> int:
    """tick / spacing rounded toward −∞ (Python floor division does exactly that)."""
    return tick // tick_spacing


@dataclass(slots=True)
class TickBitmap:
    tick_spacing: int
    words: dict[int, int] = field(default_factory=dict)

    def flip_tick(self, tick: int) -> None:
        if tick % self.tick_spacing:
            raise ValueError(f"tick {tick} is not a multiple of the tick spacing {self.tick_spacing}")
        compressed = tick // self.tick_spacing
        word_pos, bit_pos = compressed >> 8, compressed & 0xFF
        word = self.words.get(word_pos, 0) ^ (1 << bit_pos)
        if word:
            self.words[word_pos] = word
        else:
            self.words.pop(word_pos, None)

    def is_initialized(self, tick: int) -> bool:
        if tick % self.tick_spacing:
            return False
        compressed = tick // self.tick_spacing
        return bool(self.words.get(compressed >> 8, 0) >> (compressed & 0xFF) & 1)

    def next_initialized_tick_within_one_word(self, tick: int, lte: bool) -> tuple[int, bool]:
        """(next tick, initialized) at or left of `tick` (lte) or strictly right of it, in one word."""
        spacing = self.tick_spacing
        compressed = compress_tick(tick, spacing)
        if lte:
            word_pos, bit_pos = compressed >> 8, compressed & 0xFF
            masked = self.words.get(word_pos, 0) & ((1 << (bit_pos + 1)) - 1)
            if masked:
                return (compressed - (bit_pos - most_significant_bit(masked))) * spacing, True
            return (compressed - bit_pos) * spacing, False
        compressed += 1
        word_pos, bit_pos = compressed >> 8, compressed & 0xFF
        masked = self.words.get(word_pos, 0) & ~((1 << bit_pos) - 1)
        if masked:
            return (compressed + (least_significant_bit(masked) - bit_pos)) * spacing, True
        return (compressed + (255 - bit_pos)) * spacing, False

"""A compact set of row numbers: resume must know which of millions of rows are done, cheaply."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet


class RowSet(MutableSet[int]):
    """A set of non-negative row numbers stored as a bitmap: one bit per row (1M rows ≈ 125 KB)."""

    __slots__ = ("_bits", "_count")

    def __init__(self, rows: Iterable[int] = ()) -> None:
        self._bits = bytearray()
        self._count = 0
        for row in rows:
            self.add(row)

    def add(self, value: int) -> None:
        if value < 0:
            raise ValueError(f"row numbers are >= 0, got {value}")
        index = value >> 3
        if index >= len(self._bits):
            self._bits.extend(bytes(index + 1 - len(self._bits) + len(self._bits) // 2))
        mask = 1 << (value & 7)
        if not self._bits[index] & mask:
            self._bits[index] |= mask
            self._count += 1

    def discard(self, value: int) -> None:
        if value in self:
            self._bits[value >> 3] &= ~(1 << (value & 7)) & 0xFF
            self._count -= 1

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int) or value < 0:
            return False
        index = value >> 3
        return index < len(self._bits) and bool(self._bits[index] & (1 << (value & 7)))

    def __iter__(self) -> Iterator[int]:
        for index, byte in enumerate(self._bits):
            if byte:
                base = index << 3
                for bit in range(8):
                    if byte >> bit & 1:
                        yield base + bit

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"RowSet(<{self._count} rows>)"

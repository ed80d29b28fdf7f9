"""What a page's JSON bytes hold, counted without parsing them: the other side of the fast path's check
that Polars read every value as what it was (`batchgs.io.pages`).

Five `bytes.count` scans of a 1,000-user page (~880 KB) cost ~2.8 ms, a third of the page's parse and
more than Polars' own read. Here numpy reads the page as 2-byte (and 4-byte) words at each alignment,
so a key (`":`) or a word (`true`) is one comparison of whole words, each written into a scratch
array: ~0.5 ms (~0.6 ms counting booleans anywhere), and numpy leaves the GIL while it scans, so the
other pages' threads go on.

The page is valid JSON (Polars has just read it), so outside a text the byte after a key's `:` tells
its value: `n` null, `t` true, `f` false. Text that looks like a key or a word is counted too: the
counts can only exceed what the frame holds, never fall short of it, and a page whose counts differ
goes the slow way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_KEY = np.uint16(ord('"') | ord(":") << 8)  # `":` as a little-endian 2-byte word
_TRUE, _FALS = (np.frombuffer(word, dtype="<u4")[0] for word in (b"true", b"fals"))
_NULL, _T, _F = (ord(c) for c in "ntf")
_BRACKET = np.uint8(ord("["))
_SCRATCH = threading.local()
_SCRATCH_KEPT = 8 << 20  # bytes of page whose scratch a thread keeps (a 1,000-user page: ~0.9 MB)


@dataclass(frozen=True)
class ByteCounts:
    """A page's keys with a value (`":` not followed by null), booleans (`true`, `false`: wherever
    they are, in a text too; or only the values of keys) and `[`."""

    keys: int
    booleans: int
    lists: int


def count(data: bytes, *, booleans_anywhere: bool = True) -> ByteCounts:
    """The counts of `data`. A server that writes `"key": value` (Python's json.dumps) is counted as
    well: the first key tells whether a space follows the colon. `booleans_anywhere=False` counts the
    booleans that are a key's value only: enough when no list can hold one that matters
    (`batchgs.io.pages`)."""
    even_keys, odd_keys, scratch = _scratch(len(data))
    even, odd = _words(data, 0, "<u2"), _words(data, 1, "<u2")  # the 2-byte words at 2k, at 2k + 1
    at_even = np.equal(even, _KEY, out=even_keys[: even.size])  # a key's `":` at 2k
    at_odd = np.equal(odd, _KEY, out=odd_keys[: odd.size])  # at 2k + 1
    keys = int(np.count_nonzero(at_even) + np.count_nonzero(at_odd))
    first = min(_first(at_even) * 2, _first(at_odd) * 2 + 1)
    lead = b" " if data[first + 2 : first + 3] == b" " else b":"
    # The word whose second byte is a value's first: for a key at 2k, at 2k + 1 (`:x`), or spaced at
    # 2k + 2 (` x`); for a key at 2k + 1, at 2k + 2, or spaced at 2k + 3.
    after_even, after_odd = (even[1:], odd[1:]) if lead == b" " else (odd, even[1:])

    def values(byte: int) -> int:
        word = np.uint16(lead[0] | byte << 8)
        return sum(
            _both(at, after, word, scratch) for at, after in ((at_even, after_even), (at_odd, after_odd))
        )

    if booleans_anywhere:
        booleans = sum(
            _word_count(data, offset, word, scratch) for word in (_TRUE, _FALS) for offset in range(4)
        )
    else:
        booleans = values(_T) + values(_F)
    nulls = values(_NULL)
    lists = int(
        np.count_nonzero(np.equal(np.frombuffer(data, dtype=np.uint8), _BRACKET, out=scratch[: len(data)]))
    )
    return ByteCounts(keys - nulls, booleans, lists)


def _scratch(size: int) -> tuple[npt.NDArray[np.bool_], ...]:
    """Three boolean arrays of at least `size`, this thread's own: each comparison writes into one.
    (Fresh arrays cost more than the comparisons: a new ~1 MB array is new memory the OS maps in.)
    Kept for pages up to `_SCRATCH_KEPT` bytes; a larger page gets arrays of its own."""
    arrays: tuple[npt.NDArray[np.bool_], ...] | None = getattr(_SCRATCH, "arrays", None)
    if arrays is None or arrays[0].size < size:
        arrays = tuple(np.empty(max(size, 1 << 20), dtype=np.bool_) for _ in range(3))
        if size <= _SCRATCH_KEPT:
            _SCRATCH.arrays = arrays
    return arrays


def _words(data: bytes, offset: int, dtype: str) -> npt.NDArray[np.unsignedinteger]:
    """`data` from `offset` as whole words of `dtype` (the bytes after the last whole word are left)."""
    size = np.dtype(dtype).itemsize
    if offset >= len(data):
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=(len(data) - offset) // size, offset=offset)


def _first(hits: npt.NDArray[np.bool_]) -> int:
    """The index of the first hit (a large number when there is none)."""
    index = int(np.argmax(hits)) if hits.size else 0
    return index if hits.size and hits[index] else 2**62


def _both(
    at: npt.NDArray[np.bool_],
    after: npt.NDArray[np.unsignedinteger],
    word: np.unsignedinteger,
    scratch: npt.NDArray[np.bool_],
) -> int:
    """At how many indexes `at` is true and `after` is `word`."""
    size = min(at.size, after.size)
    hits = np.equal(after[:size], word, out=scratch[:size])
    return int(np.count_nonzero(np.logical_and(hits, at[:size], out=hits)))


def _word_count(data: bytes, offset: int, word: np.unsignedinteger, scratch: npt.NDArray[np.bool_]) -> int:
    """How often the 4-byte `word` starts at `offset`, `offset + 4`, ... in `data`."""
    words = _words(data, offset, "<u4")
    return int(np.count_nonzero(np.equal(words, word, out=scratch[: words.size])))

"""Did-you-mean for a header that names no field: by meaning first, then by spelling.

Shared letters alone mislead (`Event Date UTC-MS` is closer in letters to `eventName` than to `date`).
Each field is described by the words of its name, of its synonyms (io/header_synonyms.py) and, for a
date field, the words that say "a point in time". A header word counts for a field in inverse
proportion to how many fields share it (`event` says little in an events file, `utc` a lot); the
spelling similarity (difflib ratio) catches typos such as `Emial`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from batchgs.entities.spec import ColumnType, EntitySpec
from batchgs.io.header_synonyms import DATE_WORDS, synonyms_for
from batchgs.io.names import normalise, words

MIN_SPELLING = 0.6  # difflib ratio from which a spelling alone is a suggestion
MIN_MEANING = 0.5  # summed word weight from which shared words alone are a suggestion
_NOISE = frozenset({"of", "the", "a", "an", "in", "to", "at"})


@dataclass
class _Candidate:
    name: str
    spellings: set[str] = field(default_factory=set)  # normalised forms compared letter by letter
    words: set[str] = field(default_factory=set)  # words that carry its meaning


class FieldSuggester:
    """Suggests the field of `spec` (or one of `extra`, e.g. `custom.plan`) a header most likely means."""

    def __init__(self, spec: EntitySpec, extra: Iterable[str] = ()) -> None:
        synonyms = synonyms_for(spec.name)
        self.candidates: dict[str, _Candidate] = {}
        for col in spec.writable_columns:
            found = self._add(col.name, (col.name, *col.aliases, *synonyms.get(col.name, ())))
            if col.type in (ColumnType.DATETIME, ColumnType.DATE):
                found.words.update(DATE_WORDS)
        for name in extra:  # "custom.plan" is also found from a bare "plan"
            self._add(name, (name, name.split(".", 1)[-1]))
        counts: dict[str, int] = {}
        for candidate in self.candidates.values():
            for word in candidate.words:
                counts[word] = counts.get(word, 0) + 1
        self.weights = {word: 1.0 / count for word, count in counts.items()}

    def _add(self, name: str, spellings: Iterable[str]) -> _Candidate:
        candidate = self.candidates.setdefault(name, _Candidate(name))
        for spelling in spellings:
            candidate.spellings.add(normalise(spelling))
            candidate.words.update(w for w in words(spelling) if w not in _NOISE)
        return candidate

    def suggest(self, header: str) -> str | None:
        """The best field for `header`, or None when nothing is close in meaning or spelling."""
        key = normalise(header)
        header_words = set(words(header))
        best: tuple[float, str] | None = None
        for candidate in self.candidates.values():
            meaning = sum(self.weights[w] for w in header_words if w in candidate.words)
            spelling = max(
                (difflib.SequenceMatcher(None, key, s).ratio() for s in candidate.spellings), default=0.0
            )
            if meaning < MIN_MEANING and spelling < MIN_SPELLING:
                continue
            score = meaning + spelling
            if best is None or score > best[0]:
                best = (score, candidate.name)
        return best[1] if best else None

"""Neutralise spreadsheet formula injection in every CSV/XLSX batchgs writes.

A cell starting with `=`, `+`, `-`, `@`, tab or CR may be run as a formula by Excel or LibreOffice
(CSV injection, OWASP). We prefix such text with a single quote, which spreadsheets show as text.
Plain numbers such as `-12.5` are not formulas and are left alone so that numeric data stays numeric.
"""

from __future__ import annotations

import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)


def is_formula_like(text: str) -> bool:
    return bool(text) and text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.match(text)


def neutralise(text: str) -> str:
    """Return `text` safe to put in a CSV/XLSX cell: formula-like values get a leading `'`."""
    return "'" + text if is_formula_like(text) else text

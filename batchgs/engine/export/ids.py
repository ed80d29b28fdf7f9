"""The user ids of `export preferences|denylist --ids FILE`, and the ids spool their chunks read.

FILE is any table batchgs reads (.csv, .tsv, .txt, .xlsx): the column `identifyId` (spelled with any
case, spaces, `_` or `-`), else its only column. Blank cells are skipped and a repeated id is
fetched once; each id keeps the spreadsheet row it came from (header = row 1) for errors.csv.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from batchgs.engine.export.spool import Spool
from batchgs.errors import InputFileError
from batchgs.io.read.tables import open_table
from batchgs.io.write.base import id_text

CHUNK_SIZE = 500
IDS_SPOOL = "ids"
_NAMES = ("identifyid", "userid", "id")


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header).lower()


def read_ids(path: Path) -> Iterator[tuple[int, str]]:
    """(row, identifyId) of every distinct id of the file, in file order."""
    with open_table(path) as table:
        by_name = {_norm(h): h for h in table.headers}
        column = next((by_name[n] for n in _NAMES if n in by_name), None)
        if column is None:
            if len(table.headers) != 1:
                raise InputFileError(
                    "no identifyId column",
                    path=str(path),
                    hint="give the ids in a column named identifyId (or a file with one column)",
                )
            column = table.headers[0]
        seen: set[str] = set()
        row = 1
        for batch in table.batches():
            for value in batch.get_column(column).to_list():
                row += 1
                if value is None:
                    continue
                uid = id_text(value).strip() if not isinstance(value, str) else value.strip()
                if not uid or uid in seen:
                    continue
                seen.add(uid)
                yield row, uid


def write_chunks(run_dir: Path, pairs: Iterable[tuple[int, str]]) -> list[int]:
    """Spool (row, id) pairs in chunks of CHUNK_SIZE; returns each chunk's byte offset."""
    spool = Spool.of(run_dir, IDS_SPOOL)
    offsets: list[int] = []
    chunk: list[tuple[int, str]] = []
    try:
        spool.open_at(0)
        for pair in pairs:
            chunk.append(pair)
            if len(chunk) == CHUNK_SIZE:
                offsets.append(spool.size)
                spool.append(chunk)
                chunk = []
        if chunk:
            offsets.append(spool.size)
            spool.append(chunk)
    finally:
        spool.close()
    return offsets


def read_chunk(run_dir: Path, offset: int) -> list[tuple[int, str]]:
    """The chunk that starts at `offset` of the ids spool."""
    frame = Spool.of(run_dir, IDS_SPOOL).read_at(offset)
    return [(int(row), str(uid)) for row, uid in frame]

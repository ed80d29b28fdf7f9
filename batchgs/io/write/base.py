"""What every export writer shares: the temporary file, the commit by rename, late columns, cell kinds.

A writer writes to a hidden temporary file in the target's folder and renames it over the target only
on `close()`, so a crashed or aborted export never leaves a half file that looks whole. Without
`force` the target is never overwritten: checked when opening and again, atomically (a hard link
that fails if the name exists), when committing.

Late columns: a record may carry a key that is not in `columns` (a custom attribute created during
the export). With `extra_columns="append"` (the default) the writer appends it as a new last column,
lists it in `late_columns`, and the committed file has it with every value: rows written before it
simply have an empty cell there (each format fixes its header on `close()`; see the format modules).
With `extra_columns="ignore"` (the user chose `--columns`) such keys are dropped on purpose.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from batchgs.errors import OutputFileError
from batchgs.io.flatten import flatten

if TYPE_CHECKING:  # polars is imported by the writers that need it: the date and id helpers stay light
    import polars as pl

ExtraColumns = Literal["append", "ignore"]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Plausible epoch-ms range for a date cell: years 1900..9999. Outside it the value is kept as a number.
MIN_MS = -2_208_988_800_000
MAX_MS = 253_402_300_799_999


def to_epoch_ms(value: Any) -> int | None:
    """Epoch milliseconds from what an API date may look like (ms number, digits, ISO text,
    datetime); None when it is not a date we can place, so the caller keeps the raw value."""
    if value is None or value is True or value is False:
        return None
    ms: int | None = None
    if isinstance(value, int):
        ms = value
    elif isinstance(value, float):
        ms = round(value) if math.isfinite(value) else None
    elif isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            ms = int(text)
        else:
            try:
                parsed = dt.datetime.fromisoformat(text)
            except ValueError:
                return None
            return to_epoch_ms(parsed)
    elif isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        delta = moment - _EPOCH
        ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    elif isinstance(value, dt.date):
        ms = (value - _EPOCH.date()).days * 86_400_000
    if ms is None or not MIN_MS <= ms <= MAX_MS:
        return None
    return ms


def iso_utc(ms: int) -> str:
    """`2024-03-05T14:07:00.123Z`: ISO-8601 UTC with milliseconds, always the same width.
    Arithmetic plus a cached day is ~4x faster than formatting a datetime (an export has millions)."""
    day, rest = divmod(ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{_iso_day(day)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_day(day: int) -> str:
    return (_EPOCH.date() + dt.timedelta(days=day)).isoformat()


def id_text(value: Any) -> str:
    """An id as text, never as a number: 12345678901234567890 stays whole, 000123 keeps its zeros."""
    if isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def plain_text(value: Any) -> str:
    """A non-text scalar as the text a CSV or JSON reader parses back to the same value."""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


class RecordWriter(ABC):
    """One export file being written. Use as a context manager, or call `close()` / `abort()`."""

    suffix: ClassVar[str]
    # whether each cell's bytes depend on its value alone, never on the frame it came in (CSV): such a
    # writer may be handed smaller frames while it would wait (`batching.batched`), the file is the same
    cells_per_value: ClassVar[bool] = False

    def __init__(
        self,
        path: Path,
        columns: Iterable[str],
        *,
        date_columns: Iterable[str] = (),
        id_columns: Iterable[str] = (),
        raw: bool = False,
        bom: bool = False,
        force: bool = False,
        extra_columns: ExtraColumns = "append",
        column_types: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.columns: list[str] = list(dict.fromkeys(columns))
        self.date_columns = set(date_columns)
        self.id_columns = set(id_columns)
        self.raw = raw
        self.bom = bom
        self.force = force
        self.extra_columns = extra_columns
        self.column_types = dict(column_types or {})  # name → string|integer|number|boolean|datetime
        self.date_columns |= {n for n, t in self.column_types.items() if t.lower() == "datetime"}
        self.late_columns: list[str] = []
        self.rows_written = 0
        self._known = set(self.columns)
        self._state: Literal["open", "closed", "aborted"] = "open"
        check_target(self.path, force)
        self.tmp_path = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        try:
            self._open()
        except OSError as exc:
            self._cleanup_quietly()
            raise OutputFileError(f"{self.path}: cannot write ({exc.strerror or exc})") from exc

    # -- the public interface -------------------------------------------------------------------

    def write_batch(self, records: Iterable[Mapping[str, Any]], *, flat_rows: bool = False) -> None:
        """Write records (nested API objects or already flat rows) in the current column order: made a
        frame and written column-wise, as `write_frame` (one way of writing cells per format).
        `flat_rows=True` promises rows that `flatten` already made (it skips a second pass)."""
        from batchgs.io.pages import frame_from_rows

        if self._state != "open":
            raise RuntimeError(f"writer for {self.path} is {self._state}")
        rows = [r if flat_rows else flatten(r) for r in records]
        self.write_frame(frame_from_rows(rows, self.id_columns))

    def write_frame(self, frame: pl.DataFrame) -> None:
        """Write a frame of flat rows (columns named like `self.columns`), column-wise where the
        format can. Columns outside `self.columns` are late columns (`extra_columns`)."""
        if self._state != "open":
            raise RuntimeError(f"writer for {self.path} is {self._state}")
        late = [
            c
            for c in frame.columns
            if c not in self._known and frame.get_column(c).null_count() < frame.height
        ]
        if late and self.extra_columns == "append":
            self._add_late(late)
        if frame.height:
            self._write_frame(aligned(frame, self.columns))
            self.rows_written += frame.height

    def close(self) -> None:
        """Finish the file and put it in place (the commit). Safe to call twice."""
        if self._state != "open":
            return
        try:
            self._finish()
            self._commit()
        except OutputFileError:
            self._state = "aborted"  # the target appeared meanwhile: the finished temp file is kept
            raise
        except BaseException:
            self.abort()
            raise
        self._state = "closed"

    def abort(self) -> None:
        """Throw the partial file away: neither the target nor any temporary file is left."""
        if self._state != "open":
            return
        self._state = "aborted"
        with contextlib.suppress(Exception):
            self._discard()
        self._cleanup_quietly()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- for the format modules -----------------------------------------------------------------

    @abstractmethod
    def _open(self) -> None:
        """Create `self.tmp_path` (exclusively) and write what comes before the rows."""

    @abstractmethod
    def _write_frame(self, frame: pl.DataFrame) -> None:
        """Write a frame whose columns are exactly `self.columns` (which may have grown: see late
        columns), column-wise: each format's cells are Polars expressions (batchgs.io.write.cells)."""

    @abstractmethod
    def _finish(self) -> None:
        """Complete `self.tmp_path` (footer, late-column header fix) and close every handle."""

    @abstractmethod
    def _discard(self) -> None:
        """Close every handle without completing the file (abort)."""

    def _temp_paths(self) -> list[Path]:
        """Every temporary file this writer may have created (removed on abort)."""
        return [self.tmp_path]

    def _on_late_columns(self, names: list[str]) -> None:  # noqa: B027 - optional hook
        """Called after `names` were appended to `self.columns`."""

    def kinds(self) -> list[str]:
        """Per column: `date`, `id` or `value`."""
        return [
            "date" if c in self.date_columns else "id" if c in self.id_columns else "value"
            for c in self.columns
        ]

    def converters(self, factory: Callable[[str], Callable[[Any], Any]]) -> list[Callable[[Any], Any]]:
        return [factory(kind) for kind in self.kinds()]

    # -- internals ------------------------------------------------------------------------------

    def _add_late(self, names: list[str]) -> None:
        for name in names:
            self.columns.append(name)
            self._known.add(name)
            self.late_columns.append(name)
        self._on_late_columns(names)

    def _commit(self) -> None:
        if self.force:
            os.replace(self.tmp_path, self.path)
            return
        try:
            os.link(self.tmp_path, self.path)
        except FileExistsError:
            raise OutputFileError(
                f"{self.path} appeared while exporting; the export is kept in {self.tmp_path}",
                hint="move it into place yourself, or export again with --force to overwrite",
            ) from None
        except OSError:  # a file system without hard links: check, then rename
            if self.path.exists():
                raise OutputFileError(
                    f"{self.path} appeared while exporting; the export is kept in {self.tmp_path}",
                    hint="move it into place yourself, or export again with --force to overwrite",
                ) from None
            os.replace(self.tmp_path, self.path)
            return
        self.tmp_path.unlink()

    def _cleanup_quietly(self) -> None:
        for tmp in self._temp_paths():
            with contextlib.suppress(FileNotFoundError, OSError):
                tmp.unlink()


def aligned(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """`frame` with exactly `columns`, in that order (a column it lacks is all null)."""
    import polars as pl

    if frame.columns == columns:
        return frame
    have = set(frame.columns)
    return frame.select([pl.col(c) if c in have else pl.lit(None).alias(c) for c in columns])


def check_target(path: Path, force: bool) -> None:
    """Refuse a folder, a missing folder or an existing file (unless `force`)."""
    if path.is_dir():
        raise OutputFileError(f"{path} is a folder, not a file")
    if not path.parent.is_dir():
        raise OutputFileError(f"{path}: the folder {path.parent} does not exist")
    if path.exists() and not force:
        raise OutputFileError(f"{path} already exists", hint="use --force to overwrite it")

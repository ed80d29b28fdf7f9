"""before_images.sqlite3: the first image of a key is kept, rows and diff lines come back in order, and
the file is private."""

from __future__ import annotations

import stat
from pathlib import Path

from batchgs.run.before_images import BEFORE_IMAGES_FILE, BeforeImages


def test_first_image_wins_and_everything_reads_back_in_row_order(tmp_path: Path) -> None:
    with BeforeImages.create(tmp_path, entity="users", key_field="identifyId") as store:
        store.add_images([("a", {"firstName": "Ada"}), ("b", None)])
        # a resumed run reads "a" after writing it: that read must not replace the true before
        store.add_images([("a", {"firstName": "Written by the run"}), ("c", {"x": 1})])
        store.add_batch(
            written=[(3, "b", {"identifyId": "b"}), (2, "a", {"identifyId": "a", "firstName": "New"})],
            changes=[
                (3, "b", "create", "email", None, "b@x.y"),
                (2, "a", "update", "firstName", "Ada", "New"),
            ],
        )
        store.add_batch(changes=[(2, "a", "update", "firstName", "Ada", "Newer")])  # a row's lines replaced
        assert store.images(["a", "b", "c", "zz"]) == {"a": {"firstName": "Ada"}, "b": None, "c": {"x": 1}}
        assert [row for row, _, _ in store.iter_written(chunk=1)] == [2, 3]
        assert list(store.iter_changes(chunk=1)) == [
            (2, "a", "update", "firstName", "Ada", "Newer"),
            (3, "b", "create", "email", None, "b@x.y"),
        ]
        assert store.key_field == "identifyId" and not store.complete
        store.set_meta("complete", "1")
    reopened = BeforeImages.open(tmp_path)
    assert reopened is not None and reopened.complete
    reopened.close()
    assert stat.S_IMODE((tmp_path / BEFORE_IMAGES_FILE).stat().st_mode) == 0o600
    assert BeforeImages.open(tmp_path / "elsewhere") is None

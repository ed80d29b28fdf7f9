"""Files: readers (csv/tsv/xlsx), mapping, validation (Polars), writers, templates."""

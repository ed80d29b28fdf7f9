"""Readers: CSV/TSV/XLSX into headers and Polars batches, with encoding and xlsx safety checks."""

"""Validation: cells → typed payload values with per-row issue codes, all as Polars expressions."""

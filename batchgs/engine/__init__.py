"""Orchestration: pool, importer, exporter, optout. No file formats, no click."""

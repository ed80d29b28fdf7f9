"""Exports: pagers, slices, page spools, assembly into one output file. Starts at exporter.Exporter."""

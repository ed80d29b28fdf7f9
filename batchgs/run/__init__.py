"""The run folder: journal (checkpoint + resume), file-system safety, cleanup, row sets."""

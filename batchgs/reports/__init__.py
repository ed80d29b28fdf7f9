"""The run folder's human-facing files: errors/success reports, summary.json, redaction."""

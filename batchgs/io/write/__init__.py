"""Writers: export formats (csv, xlsx, parquet, jsonl), errors.xlsx, formula neutralisation."""

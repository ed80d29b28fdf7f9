"""What only Gainsight CS needs on the write side: picklists, CTA batches of 50, CS events."""

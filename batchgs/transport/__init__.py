"""HTTP: one aiohttp session, classification of answers, retry, rate limiter, quota ledger, paging."""

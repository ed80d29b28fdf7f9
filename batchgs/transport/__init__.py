"""HTTP: one aiohttp session, classification of answers, retry, rate limiter, quota ledger, paging.

Nobody else in batchgs speaks HTTP. Entry points:
- `client.px_client(settings, ...)` / `client.cs_client(settings, events=False, ...)` → `ApiClient`
  (`async with`); `await client.request(method, path, params=, json=, idempotent=, headers=)` →
  `result.ApiResult`; raises only `QuotaExhausted`. `raise_for_fatal(result)` for the engine,
  `raise_for_result(result, what=)` for reads. `build_path`, `needs_id_in_body`, `encode_query`.
- `classify.classify(...)`: the one place an answer or an exception gets its meaning.
- `limiter.SlidingWindowLimiter` (`px_limiter`, `cs_limiter`), `retry.RetryPolicy`.
- `ledger.QuotaLedger`, `ledger.list_ledger_entries(state_dir)` for `batchgs quota`.
- `paging.scroll`, `paging.page_numbers`, `paging.cs_pages`, `paging.date_windows`, `paging.window_params`.
- `metadata.fetch_attributes(client, "user" | "account")`.
"""

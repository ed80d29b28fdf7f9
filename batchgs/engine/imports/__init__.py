"""PX and CS imports: one run loop (importer) fed by senders (PX rows, CS CTAs in 50s, CS events)."""

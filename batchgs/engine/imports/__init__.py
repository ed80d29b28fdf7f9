"""PX and CS imports: one run loop (run_loop.ImportLoop) fed by a sender per kind.

Starts at importer.Importer (PX: users, accounts, custom events, preferences) and cs_import.CsImporter
(CS: CTAs in calls of 50, CS events); both plan their run and hand rows to the shared loop.
"""

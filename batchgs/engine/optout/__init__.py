"""Compliance opt-out: read the list, resolve emails, plan, act, write the receipt.

Starts at run.OptOutEngine.
"""

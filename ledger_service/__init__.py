"""Symbiosis Ledger service: relays parties' signed statements to the chain and serves the read model."""

"""The SQL read model (rebuilt from chain events) and the outbox of signed payloads."""

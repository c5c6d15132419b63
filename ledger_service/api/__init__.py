"""HTTP API: routers per domain over the runtime (gateway, relayer, indexer, read model)."""

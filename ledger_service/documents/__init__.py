"""Documents parties cite by SHA-256 (transfer documents, generation records, certificates): kept
off-chain, encrypted at rest, readable only by the parties the chain records tie to them and by
regulators, every access written to an audit log.

The module works on explicit identities (`uploader`, `reader`): who the caller is, is established by
the API layer (the sign-in's bearer token).
"""

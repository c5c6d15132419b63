"""All web3 code of the service lives in `chain.gateway`."""

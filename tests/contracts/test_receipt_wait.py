"""The brownie workaround of receipt_wait.py: a receipt that lags behind its sender's nonce (as anvil's do on
a busy machine) no longer fails the transaction as dropped."""

from brownie.network.web3 import web3
from web3.exceptions import TransactionNotFound


def test_a_receipt_lagging_behind_the_nonce_is_waited_for(relayer, monkeypatch):
    readable = web3.eth.get_transaction_receipt
    polls = []

    def lagging(txid):
        polls.append(txid)
        if len(polls) <= 3:  # mined (the nonce has moved) but not yet readable
            raise TransactionNotFound(f"Transaction with hash {txid!r} not found")
        return readable(txid)

    monkeypatch.setattr(web3.eth, "get_transaction_receipt", lagging)
    tx = relayer.transfer(relayer, 0)
    assert tx.status == 1
    assert len(polls) > 3

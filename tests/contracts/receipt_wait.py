"""brownie 1.22 takes a transaction for dropped when the sender's nonce has moved past it while its receipt
is not there yet. On anvil that moment exists: a block's state is committed a little before its receipts
can be read, and on a busy machine (CI runs the PostgreSQL pass beside these tests) brownie's poll lands in
it now and then, failing a test with "Tx dropped without known replacement" for a transaction that was in
fact mined. brownie's wait therefore starts only once the receipt can be read (anvil mines every
transaction at once), so it finds the receipt on its first poll; a receipt that took longer than
_SLOW_SECONDS to appear is noted in reports/brownie-receipt-waits.log.
"""

import time
from datetime import UTC, datetime
from pathlib import Path

from brownie.network.transaction import TransactionReceipt
from brownie.network.web3 import web3
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

# anvil mines on arrival: a receipt still missing after this long means a real problem, left to brownie.
_PATIENCE_SECONDS = 60
_SLOW_SECONDS = 1
_LOG = Path("reports") / "brownie-receipt-waits.log"


def install() -> None:
    brownie_wait = TransactionReceipt._await_confirmation

    def await_confirmation(self, block_number=None, required_confs=1):
        started = time.monotonic()
        while not _has_receipt(self.txid) and time.monotonic() - started < _PATIENCE_SECONDS:
            time.sleep(0.05)
        waited = time.monotonic() - started
        if waited > _SLOW_SECONDS:
            _note(f"{self.txid} (nonce {self.nonce}): waited {waited:.2f} s for its receipt")
        brownie_wait(self, block_number, required_confs)

    TransactionReceipt._await_confirmation = await_confirmation


def _has_receipt(txid: str) -> bool:
    try:
        return web3.eth.get_transaction_receipt(HexBytes(txid)) is not None
    except TransactionNotFound:
        return False


def _note(line: str) -> None:
    _LOG.parent.mkdir(exist_ok=True)
    with _LOG.open("a") as log:
        log.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {line}\n")

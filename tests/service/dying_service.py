"""The service in a process of its own that kills itself with SIGKILL at a chosen point of its first
submission (test_faults.py): `python dying_service.py POINT`, its settings as JSON in FAULTS_SETTINGS.

POINT is where it dies:
- `sent`: the node has mined the relayer's transaction; nothing is indexed, the outbox says `sent`;
- `indexed`: the indexer has applied that block; the outbox still says `sent`.

Nothing else of the service is changed: SIGKILL gives it no chance to finish or clean up anything.
"""

import os
import signal
import sys
import threading

import uvicorn

from ledger_service.chain.gateway import ChainGateway
from ledger_service.indexer import Indexer
from ledger_service.main import create_app
from ledger_service.settings import Settings


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(point: str) -> None:
    settings = Settings.model_validate_json(os.environ["FAULTS_SETTINGS"])
    sent = threading.Event()
    send, sync = ChainGateway.send_data, Indexer.sync

    def send_then_maybe_die(self, to, data, gas, on_signed=None):  # type: ignore[no-untyped-def]
        tx_hash = send(self, to, data, gas, on_signed)
        if point == "sent" and self.wait_for_receipt(tx_hash, timeout=10, poll=0.02) is not None:
            die()
        sent.set()
        return tx_hash

    def sync_then_maybe_die(self, to_block=None):  # type: ignore[no-untyped-def]
        block = sync(self, to_block)
        if point == "indexed" and sent.is_set():
            die()
        return block

    ChainGateway.send_data = send_then_maybe_die  # type: ignore[method-assign]
    Indexer.sync = sync_then_maybe_die  # type: ignore[method-assign]
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1])

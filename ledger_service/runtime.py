"""The running service: database, chain gateway, indexer and relayer, and their background loop."""

import gc
import logging
import threading
import time

from ledger_service.chain.gateway import ChainGateway, NodeUnavailable
from ledger_service.db.lock import IndexerLock
from ledger_service.db.session import make_engine, make_sessionmaker, upgrade_schema
from ledger_service.deployment import Deployment
from ledger_service.indexer import Indexer
from ledger_service.keystore import load_account, read_password_file
from ledger_service.lineage_cache import RenderedGraphs
from ledger_service.notifications import Notifier
from ledger_service.relayer import Relayer
from ledger_service.settings import Settings

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        deployment_file = settings.resolved_deployment_file
        if not deployment_file.exists():
            raise RuntimeError(
                f"no deployment record at {deployment_file}: deploy the contracts first "
                "(`symledger deploy`, or `make run` for the local profile)"
            )
        self.deployment = Deployment.load(deployment_file)
        self.engine = make_engine(settings.resolved_database_url)
        # One indexer per read model: start() refuses while another service or a reindex writes it.
        self._indexer_lock = IndexerLock(self.engine)
        upgrade_schema(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        self.lineage_graphs = RenderedGraphs()
        relayer = load_account(
            settings.resolved_relayer_keystore, read_password_file(settings.resolved_relayer_password_file)
        )
        self.gateway = ChainGateway(
            settings.rpc_url,
            settings.artifacts_dir,
            relayer=relayer,
            gas_price_wei=settings.gas_price_wei,
            poa_chain=settings.poa_chain,
            timeout=settings.rpc_timeout_seconds,
        )
        if settings.chain_id is not None and settings.chain_id != self.deployment.chain_id:
            raise RuntimeError(
                f"settings expect chain {settings.chain_id}; the deployment record is for chain "
                f"{self.deployment.chain_id}"
            )
        self.gateway.bind(self.deployment)
        self.indexer = Indexer(
            self.gateway, self.sessions, self.deployment.start_block, confirmations=settings.confirmations
        )
        self.relayer = Relayer(
            self.gateway,
            self.sessions,
            self.indexer,
            receipt_timeout=settings.receipt_timeout_seconds,
            receipt_poll=settings.receipt_poll_seconds,
            max_batch_gas=settings.max_batch_gas,
        )
        # --- webhook notifications ---
        self.notifier = Notifier(self.sessions, settings)
        # ---
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    def start(self) -> None:
        """Catches up with the chain, resends what the outbox holds, then keeps doing so in the background."""
        tune_garbage_collector()
        self._indexer_lock.acquire()
        self._tick(resume=True)
        self._thread = threading.Thread(target=self._loop, name="indexer-relayer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.notifier.close()  # webhook notifications
        self._indexer_lock.release()
        self.engine.dispose()

    def _loop(self) -> None:
        last_resume = time.monotonic()
        while not self._stop.wait(self.settings.indexer_poll_seconds):
            resume = time.monotonic() - last_resume >= self.settings.relayer_retry_seconds
            if resume:
                last_resume = time.monotonic()
            self._tick(resume)

    def _tick(self, resume: bool) -> None:
        try:
            if resume:
                self.relayer.resume()
            self.indexer.sync()
        except NodeUnavailable as exc:
            log.warning("chain node unavailable: %s", exc)
        except Exception:  # the loop must survive a bad block or a database hiccup; it retries next tick
            log.exception("indexer/relayer tick failed")
        # --- webhook notifications: after indexing, so that this tick's events go out in this tick. Only in
        # the background loop: a slow subscriber must not hold up the service's start.
        if self._thread is not None:
            try:
                self.notifier.run()
            except Exception:  # a database hiccup: the next tick retries
                log.exception("webhook notifier round failed")
        # ---


def tune_garbage_collector() -> None:
    """Fewer runs of CPython's cycle collector.

    Verifying a large lineage keeps its case file alive (about 150,000 objects for 10,000 transfers) while
    it allocates as many again. With the default thresholds (a collection every 700 allocations) the
    collector walks those objects again and again: half the time of such a verification
    (bench/verify-results.md). Almost everything is freed by reference counting anyway; the collector is
    there for cycles, which may as well wait for 100,000 allocations."""
    gc.set_threshold(100_000, 50, 100)

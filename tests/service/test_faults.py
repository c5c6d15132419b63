"""Fault injection (issue 7): the node killed in the middle of a batch, the service killed between sending
and indexing, the database deleted, the node unreachable, a document corrupted, two clients racing.

The tests that kill something run their own anvil (and database) so that the session's are never harmed;
waits are bounded by deadlines, never asserted on. test_resilience.py, test_idempotency.py and
test_documents.py hold the earlier tests of the same faults."""

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import httpx
import pytest
from conftest import deploy_stack, free_port
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi.testclient import TestClient
from parties import Party, dispatch_terms, register_lot, sign_in, trading_pair
from sqlalchemy import select, text
from test_batch import body_of, signed_dispatch
from test_indexer import fresh_database, varied_history
from workflows import in_outbox, reindex, served

from ledger_service import devstack
from ledger_service.chain.gateway import ChainGateway
from ledger_service.db.models import KEPT_TABLES, Base
from ledger_service.db.session import make_engine
from ledger_service.deployment import Deployment
from ledger_service.documents.crypto import KEY_BYTES, MAGIC, NONCE_BYTES, MasterKey
from ledger_service.main import create_app
from ledger_service.settings import Settings

# anvil writes its state file on a clean stop only (the product's interval is 1 s): a SIGKILL then loses
# every block since the node last started, the worst case of what a kill between two writes loses.
STATE_WRITTEN_ON_STOP_ONLY = 86_400


class Node:
    """An anvil of the test's own, on one port and one state file: stopped cleanly (its state written) or
    killed with SIGKILL (its state since the last start lost), and started again from that file."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        command = devstack.anvil_command(self.data_dir, self.port)
        command[command.index("--state-interval") + 1] = str(STATE_WRITTEN_ON_STOP_ONLY)
        (self.data_dir / "chain").mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "anvil.log", "ab") as log:
            # Its own process group: npm's `anvil` is a launcher with the real node as its child.
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while self.head() is None:
            assert self._process.poll() is None, f"anvil exited; see {self.data_dir / 'anvil.log'}"
            assert time.monotonic() < deadline, "anvil did not answer within 30 s"
            time.sleep(0.05)
        return self.url

    def head(self) -> int | None:
        try:
            answer = httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"})
        except httpx.TransportError:
            return None
        return int(answer.json()["result"], 16)

    def stop(self) -> None:
        self._signal(signal.SIGINT)  # anvil writes its state file on the way out

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signum)
        self._process.wait(timeout=30)


@pytest.fixture
def stack(tmp_path: Path, regulator: Party, database_url: str, request: pytest.FixtureRequest):
    """A node, a deployment and an empty database (of the session's kind) of this test's own."""
    node = Node(tmp_path)
    url = node.start()
    schema = "faults_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[-50:]
    settings = deploy_stack(tmp_path, url, fresh_database(database_url, tmp_path, schema), regulator)
    yield node, settings
    node.kill()


def chain_dispatches(settings: Settings) -> Counter[str]:
    """How many times the chain holds a dispatch of each transfer id, read from the node itself."""
    deployment = Deployment.load(settings.resolved_deployment_file)
    gateway = ChainGateway(settings.rpc_url, settings.artifacts_dir, relayer=None)
    gateway.bind(deployment)
    events = gateway.events(deployment.start_block, gateway.block_number())
    return Counter(e.args["transferId"] for e in events if e.event == "TransferDispatched")


def outbox_statuses(settings: Settings) -> dict[str, str]:
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT digest, status FROM signed_payloads")).all()
    engine.dispose()
    return dict(rows)


def eventually(check: Callable[[], bool], seconds: float = 60, poll: float = 0.2) -> bool:
    """Whether `check` comes true within `seconds` (a bound on the wait, not a measured time)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def every_table(database_url: str) -> dict[str, list[tuple]]:
    """Every table's rows, all columns but surrogate autoincrement ids, in a stable order."""
    engine = make_engine(database_url)
    tables: dict[str, list[tuple]] = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if c is not table.autoincrement_column]
            rows = connection.execute(select(*columns)).all()
            tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
    engine.dispose()
    return tables


def written_by_requests(settings: Settings) -> dict[str, list[tuple]]:
    """Every table but the webhook notifier's checkpoint, which the service's background loop moves on its
    own (during an outage too: it follows the events indexed before it)."""
    tables = every_table(settings.resolved_database_url)
    del tables["notifier_checkpoints"]
    return tables


def detail(response: httpx.Response) -> dict:
    return response.json()["detail"][0]


# --- the node killed with SIGKILL in the middle of a batch -----------------------------------------------


def test_anvil_killed_mid_batch_and_restarted_from_its_state_file_records_every_accepted_statement_once(
    stack, regulator, monkeypatch
):
    node, settings = stack
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        shipper, receiver = trading_pair(client, regulator)
        batches = [
            [signed_dispatch(client, shipper, receiver, quantity=1_000) for _ in range(4)] for _ in range(3)
        ]
        digests = [[item["digest"] for item in batch] for batch in batches]
        node.stop()  # a clean stop: the state file holds the contracts, the parties and their lot
        node.start()
        runtime = client.app.state.runtime

        first = client.post("/transfers/batches", json=body_of(batches[0]))
        assert first.status_code == 200, first.text
        assert first.json()["recorded"] == 4

        send, killed_at = runtime.gateway.send_data, []

        def send_then_kill_the_node(to, data, gas, on_signed=None):
            tx_hash = send(to, data, gas, on_signed)
            receipt = runtime.gateway.wait_for_receipt(tx_hash, timeout=10, poll=0.02)
            killed_at.append(int(receipt["blockNumber"]))  # mined, in the node's memory only
            node.kill()
            return tx_hash

        monkeypatch.setattr(runtime.gateway, "send_data", send_then_kill_the_node)
        second = client.post("/transfers/batches", json=body_of(batches[1]))
        monkeypatch.setattr(runtime.gateway, "send_data", send)
        # Accepted, not refused: every item was in the outbox before its transaction left.
        assert second.status_code == 200, second.text
        assert [(i["outcome"], i["submission"]["status"]) for i in second.json()["items"]] == [
            ("accepted", "sent")
        ] * 4

        # While the node is down a new batch is refused whole and leaves nothing behind.
        before = written_by_requests(settings)
        third = client.post("/transfers/batches", json=body_of(batches[2]))
        assert third.status_code == 503, third.text
        assert third.headers["Retry-After"] == "5"
        assert not any(in_outbox(client, d) for d in digests[2])
        assert written_by_requests(settings) == before
        assert client.get("/health").json()["status"] == "node_unavailable"

        node.start()  # from the state file written at the clean stop: both batches are gone from the chain
        assert node.head() < killed_at[0]
        accepted = digests[0] + digests[1]
        # Nobody resends anything: the service's own loop finds the chain lost them and sends them again.
        assert eventually(lambda: all(outbox_statuses(settings).get(d) == "recorded" for d in accepted)), {
            d: status for d, status in outbox_statuses(settings).items() if status != "recorded"
        }
        third = client.post("/transfers/batches", json=body_of(batches[2]))
        assert third.status_code == 200 and third.json()["recorded"] == 4, third.text

        assert chain_dispatches(settings) == Counter(accepted + digests[2])
        assert client.get(f"/lots/{shipper.lot_id}").json()["balance"] == 100_000 - 12 * 1_000
        for digest in accepted + digests[2]:
            assert client.get(f"/transfers/{digest}").json()["status"] == "dispatched"
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["indexed_block"] == health["chain_block"]


# --- the node unreachable --------------------------------------------------------------------------------


def test_node_unreachable_gives_503_writes_nothing_and_the_running_service_recovers_by_itself(
    stack, regulator, monkeypatch
):
    node, settings = stack
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        shipper, receiver = trading_pair(client, regulator)
        accepted, refused = (
            client.post(
                "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, quantity=q)
            ).json()
            for q in (1_000, 2_000)
        )
        runtime = client.app.state.runtime
        simulate = runtime.gateway.simulate

        def simulate_then_lose_the_node(call):
            gas = simulate(call)
            node.stop()  # unreachable from here on; the node keeps its state, as behind a network fault
            return gas

        monkeypatch.setattr(runtime.gateway, "simulate", simulate_then_lose_the_node)
        response = client.post("/transfers", json=shipper.signed_body(accepted))
        monkeypatch.setattr(runtime.gateway, "simulate", simulate)
        assert response.status_code == 202, response.text

        before = written_by_requests(settings)
        key = {"Idempotency-Key": f"after-the-outage-{refused['digest']}"}
        response = client.post("/transfers", json=shipper.signed_body(refused), headers=key)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5"
        assert detail(response)["type"] == "node_unavailable"
        assert written_by_requests(settings) == before  # not even the idempotency key
        assert client.get("/health").json()["status"] == "node_unavailable"

        node.start()
        # No restart, no command: the service's own loop sends what it accepted and catches up.
        assert eventually(lambda: client.get(f"/transfers/{accepted['digest']}").status_code == 200)
        response = client.post("/transfers", json=shipper.signed_body(refused), headers=key)
        assert response.status_code == 201, response.text
        assert eventually(lambda: (h := client.get("/health").json())["indexed_block"] == h["chain_block"])
        assert client.get("/health").json()["status"] == "ok"
    assert chain_dispatches(settings) == Counter([accepted["digest"], refused["digest"]])


# --- the service killed between sending and indexing -----------------------------------------------------


@pytest.mark.parametrize(
    "point",
    [
        pytest.param("sent", id="after-the-node-mined-it"),
        pytest.param("indexed", id="after-the-indexer-applied-it"),
    ],
)
def test_service_killed_between_sending_and_indexing_loses_nothing_and_records_nothing_twice(
    stack, regulator, point, tmp_path
):
    node, settings = stack
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        shipper, receiver = trading_pair(client, regulator)
        prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    body, digest = shipper.signed_body(prepared), prepared["digest"]

    # The service as a process of its own, which SIGKILLs itself at `point` of the submission; its
    # background loop idle, so nothing but the submission itself moves the statement along.
    port = free_port()
    doomed = settings.model_copy(
        update={"port": port, "indexer_poll_seconds": 3600, "relayer_retry_seconds": 3600}
    )
    with open(tmp_path / "service.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("dying_service.py")), point],
            env={**os.environ, "FAULTS_SETTINGS": doomed.model_dump_json()},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            assert eventually(lambda: serving(http, process), seconds=60), (
                tmp_path / "service.log"
            ).read_text()
            http.headers.update(sign_in(http, regulator))
            with pytest.raises(httpx.TransportError):  # the client never hears back
                http.post("/transfers", json=body)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # Where it died: the transaction mined, the outbox saying sent; the read model with or without it.
    assert outbox_statuses(settings)[digest] == "sent"
    assert chain_dispatches(settings)[digest] == 1
    assert indexed_dispatches(settings, digest) == (1 if point == "indexed" else 0)

    # The service starts again: it settles what its outbox holds, with no transaction sent twice.
    head = node.head()
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        assert client.get(f"/transfers/{digest}").json()["status"] == "dispatched"
        # The client retries the statement whose answer it lost: the same transfer, not a second one.
        again = client.post("/transfers", json=body)
        assert again.status_code == 201, again.text
        assert again.json()["id"] == digest
        assert client.get(f"/lots/{shipper.lot_id}").json()["balance"] == 100_000 - 12_300
    assert outbox_statuses(settings)[digest] == "recorded"
    assert node.head() == head  # nothing was sent again
    assert chain_dispatches(settings)[digest] == 1
    assert indexed_dispatches(settings, digest) == 1


def serving(http: httpx.Client, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "the service exited before it served"
    try:
        return http.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def indexed_dispatches(settings: Settings, transfer_id: str) -> int:
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        count = connection.scalar(
            text("SELECT count(*) FROM chain_events WHERE event = 'TransferDispatched' AND subject = :id"),
            {"id": transfer_id},
        )
    engine.dispose()
    return int(count or 0)


# --- the database deleted ------------------------------------------------------------------------------

# What a deleted database takes with it for good: the tables the chain does not hold (models.KEPT_TABLES),
# which `symledger reindex` leaves empty. Everything else is the read model, rebuilt row for row.
LOST_WITH_THE_DATABASE = {
    "signed_payloads": "the relayer's outbox: the chain has every statement it recorded; one accepted but not "
    "yet on chain is lost (back the database up for that)",
    "sign_in_challenges": "sign-in sessions of this service: parties sign in again",
    "access_tokens": "sign-in sessions of this service: parties sign in again",
    "idempotent_requests": "answers kept a day for clients' retries, a transport matter",
    "documents": "off-chain documents: the chain holds their hashes, the store their encrypted blobs, "
    "the database who uploaded what",
    "document_uploaders": "off-chain documents (as above)",
    "document_audit": "the log of document reads, kept nowhere else",
    "webhook_subscriptions": "parties' own notification settings",
    "webhook_deliveries": "the history of notifications sent",
    "webhook_attempts": "the history of notifications sent",
    "notifier_checkpoints": "how far notifications went out",
}


def delete_database(database_url: str) -> None:
    """The SQLite file gone, or the PostgreSQL schema dropped and made again empty."""
    if database_url.startswith("sqlite"):
        path = Path(make_engine(database_url).url.database or "")
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        return
    engine = make_engine(database_url)
    with engine.begin() as connection:
        schema = connection.scalar(text("SELECT current_schema()"))
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


def what_a_regulator_reads(client: TestClient) -> dict[str, object]:
    reads = ["/transfers?limit=500", "/participants?limit=500", "/lots?limit=500", "/permits", "/waste-codes"]
    responses = {path: client.get(path) for path in reads}
    assert all(r.status_code == 200 for r in responses.values()), [r.text for r in responses.values()]
    answers = {path: r.json() for path, r in responses.items()}
    for transfer in answers["/transfers?limit=500"]["items"]:
        answers[transfer["id"]] = client.get(f"/transfers/{transfer['id']}").json()
    return answers


def test_database_deleted_then_reindexed_gives_the_identical_read_model(
    stack, regulator, tmp_path, monkeypatch
):
    node, settings = stack
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        varied_history(client, regulator)
        client.app.state.runtime.indexer.sync()
        read = what_a_regulator_reads(client)
    before = every_table(settings.resolved_database_url)
    assert set(LOST_WITH_THE_DATABASE) == KEPT_TABLES  # a new table must be placed on one side or the other
    assert before["signed_payloads"] and before["access_tokens"]

    delete_database(settings.resolved_database_url)
    reindex(monkeypatch, settings, settings.resolved_database_url, tmp_path / "operator")

    after = every_table(settings.resolved_database_url)
    assert {t: rows for t, rows in after.items() if t not in KEPT_TABLES} == {
        t: rows for t, rows in before.items() if t not in KEPT_TABLES
    }
    assert all(after[t] == [] for t in KEPT_TABLES)
    # The service on the rebuilt database answers every read as before.
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        assert what_a_regulator_reads(client) == read


# --- a document store file corrupted ---------------------------------------------------------------------


def test_a_stored_document_that_decrypts_to_other_content_fails_on_its_hash_and_is_audited(
    client, settings, regulator, shipper
):
    # test_documents.py alters blobs (content, wrapped key, tag), swaps and deletes them: AES-GCM catches
    # those. Here the blob authenticates (sealed under the service's own master key, its data key wrapped for
    # this very hash) but holds other content: only the last check, the plaintext's SHA-256, catches it.
    content = b"%PDF-1.7\n% weighbridge ticket " + os.urandom(8).hex().encode() + b"\n%%EOF\n"
    uploader = sign_in(client, shipper)
    upload = client.post(
        "/documents", files={"file": ("ticket.pdf", content, "application/pdf")}, headers=uploader
    )
    assert upload.status_code == 201, upload.text
    document = upload.json()["sha256"]
    master = MasterKey(settings.resolved_master_key_file.read_bytes())
    data_key, nonce = os.urandom(KEY_BYTES), os.urandom(NONCE_BYTES)
    other = content.replace(b"weighbridge", b"WEIGHBRIDGE")
    sealed = AESGCM(data_key).encrypt(nonce, other, MAGIC)
    path = client.app.state.document_store.path(document)
    path.write_bytes(master.wrap(data_key, bytes.fromhex(document[2:])) + nonce + sealed)

    response = client.get(f"/documents/{document}", headers=uploader)
    assert response.status_code == 500
    failure = response.json()["detail"][0]
    assert failure["type"] == "integrity_failure"
    mismatch = f"the decrypted content's SHA-256 is 0x{hashlib.sha256(other).hexdigest()}, not {document}"
    assert mismatch in failure["msg"]
    assert other not in response.content
    audit = client.get("/documents/audit", params={"sha256": document, "action": "integrity_failure"})
    assert audit.status_code == 200, audit.text
    assert [(e["party"], e["request_id"], e["detail"]) for e in audit.json()["items"]] == [
        (shipper.address, response.headers["X-Request-ID"], mismatch)
    ]


# --- two clients racing ---------------------------------------------------------------------------------


def race(url: str, headers: dict[str, str], requests: list[tuple[str, dict, dict[str, str]]]):
    """Each (path, body, extra headers) POSTed by a client of its own, over real HTTP, all at once; returns
    the thread pool and the futures of their responses, in order."""

    def post(path: str, body: dict, extra: dict[str, str]) -> httpx.Response:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            start.wait(timeout=30)
            return http.post(path, json=body, headers=extra)

    start = threading.Barrier(len(requests))
    pool = ThreadPoolExecutor(max_workers=len(requests))
    return pool, [pool.submit(post, *request) for request in requests]


def test_two_clients_racing_one_idempotency_key_one_runs_the_other_gets_409(client, regulator, monkeypatch):
    shipper, receiver = trading_pair(client, regulator)
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    body, key = shipper.signed_body(prepared), {"Idempotency-Key": f"race-{prepared['digest']}"}
    runtime = client.app.state.runtime
    simulate, answered = runtime.gateway.simulate, threading.Event()

    def simulate_once_the_other_client_has_its_answer(call):
        # The request that won the key holds here: the other one meets it still running.
        answered.wait(timeout=30)
        return simulate(call)

    monkeypatch.setattr(runtime.gateway, "simulate", simulate_once_the_other_client_has_its_answer)
    with served(client.app) as url:
        # The same party on two connections (the key belongs to its caller): a client and its own retry.
        pool, futures = race(url, dict(client.headers), [("/transfers", body, key)] * 2)
        with pool:
            wait(futures, return_when=FIRST_COMPLETED)
            answered.set()
        responses = sorted((f.result() for f in futures), key=lambda r: r.status_code)
        assert [r.status_code for r in responses] == [201, 409], [r.text for r in responses]
        won, lost = responses
        assert detail(lost) == {
            "loc": ["header", "Idempotency-Key"],
            "msg": "a request with this key is still running",
            "type": "idempotency_key_in_progress",
        }
        assert lost.headers["Retry-After"] == "1"
        # Retrying as told, the loser gets the winner's answer; one transfer was dispatched, once.
        with httpx.Client(base_url=url, headers=dict(client.headers)) as http:
            retried = http.post("/transfers", json=body, headers=key)
        assert (retried.status_code, retried.json()) == (201, won.json())
        assert retried.headers["Idempotent-Replayed"] == "true"
    assert client.get(f"/lots/{shipper.lot_id}").json()["balance"] == 100_000 - 12_300
    assert indexed_dispatches(client.app.state.runtime.settings, prepared["digest"]) == 1


@pytest.mark.parametrize(
    "interleaving",
    [
        pytest.param("both-checked-before-either-is-mined", id="both-checked-first"),
        pytest.param("one-mined-before-the-other-is-checked", id="one-after-the-other"),
    ],
)
def test_two_clients_racing_for_one_lot_balance_one_dispatches_the_other_gets_409(
    client, regulator, monkeypatch, interleaving
):
    shipper, receiver = trading_pair(client, regulator)
    lot = register_lot(client, shipper, quantity=10_000)["id"]
    bodies = []
    for _ in range(2):  # each fits the lot alone; not both
        prepared = client.post(
            "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, quantity=6_000)
        ).json()
        bodies.append((prepared["digest"], shipper.signed_body(prepared)))
    runtime = client.app.state.runtime
    simulate, checked, first_answered = (
        runtime.gateway.simulate,
        threading.Barrier(2, timeout=30),
        threading.Event(),
    )
    turns = iter(range(2))

    def simulate_in_the_interleaving(call):
        if threading.current_thread().name == "indexer-relayer":
            return simulate(call)  # the service's own background loop runs as usual
        if interleaving == "both-checked-before-either-is-mined":
            gas = simulate(call)
            checked.wait()  # both pass the check; the chain refuses the second transaction
            return gas
        if next(turns) == 1:
            first_answered.wait(timeout=30)  # checked against a lot the first already drew from
        return simulate(call)

    monkeypatch.setattr(runtime.gateway, "simulate", simulate_in_the_interleaving)
    with served(client.app) as url:
        pool, futures = race(url, dict(client.headers), [("/transfers", b, {}) for _, b in bodies])
        with pool:
            wait(futures, return_when=FIRST_COMPLETED)
            first_answered.set()
        responses = [f.result() for f in futures]
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    (won,) = [d for (d, _), r in zip(bodies, responses, strict=True) if r.status_code == 201]
    (lost,) = [r for r in responses if r.status_code == 409]
    assert detail(lost)["type"] == "insufficient_lot_balance"
    assert f"lot {lot} holds 4000, less than the 6000 dispatched" in detail(lost)["msg"]
    assert client.get(f"/lots/{lot}").json()["balance"] == 4_000
    assert [client.get(f"/transfers/{d}").status_code for d, _ in bodies] == [
        200 if d == won else 404 for d, _ in bodies
    ]

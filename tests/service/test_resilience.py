"""The node or the service dying: a refused request leaves nothing; an accepted statement is never lost;
the indexer resumes from its checkpoint. Each test runs its own anvil, so it can stop and restart it."""

import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from conftest import deploy_stack, free_port
from fastapi.testclient import TestClient
from parties import dispatch, dispatch_terms, sign_in, trading_pair
from sqlalchemy import create_engine, func, select

from ledger_service import devstack
from ledger_service.chain.gateway import ChainGateway, NodeUnavailable
from ledger_service.db.models import ChainEvent, SignedPayload
from ledger_service.main import create_app
from ledger_service.statements import DISPATCH, typed_data


class Node:
    """An anvil that the test can stop and start again on the same port and state file."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self._stack = ExitStack()

    def start(self) -> str:
        return self._stack.enter_context(
            devstack.running_anvil(self.data_dir, self.port, say=lambda _l: None)
        )

    def stop(self) -> None:
        self._stack.close()


@pytest.fixture
def stack(tmp_path, regulator):
    node = Node(tmp_path)
    url = node.start()
    settings = deploy_stack(tmp_path, url, f"sqlite:///{tmp_path / 'ledger.db'}", regulator)
    yield node, settings
    node.stop()


def outbox(settings) -> list[SignedPayload]:
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as c:
        rows = c.execute(select(SignedPayload.digest, SignedPayload.status)).all()
    engine.dispose()
    return rows


def test_node_down_gives_503_to_writes_and_writes_nothing_while_reads_go_on(stack, regulator):
    node, settings = stack
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        shipper, receiver = trading_pair(client, regulator)
        prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
        before = outbox(settings)
        node.stop()

        response = client.post("/transfers", json=shipper.signed_body(prepared))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json()["detail"][0]["type"] == "node_unavailable"
        assert outbox(settings) == before
        # What is recorded stays readable: a read asks the read model, not the node.
        read = client.get(f"/participants/{shipper.address}")
        assert read.status_code == 200 and read.json()["status"] == "active"

        node.start()  # from its state file: the registrations are still there
        response = client.post("/transfers", json=shipper.signed_body(prepared))
        assert response.status_code == 201, response.text


def test_statement_accepted_before_the_node_dies_is_recorded_after_restarts(stack, regulator, monkeypatch):
    node, settings = stack
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        shipper, receiver = trading_pair(client, regulator)
        prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
        gateway = client.app.state.runtime.gateway
        simulate = gateway.simulate

        def simulate_then_lose_the_node(call):
            gas = simulate(call)
            node.stop()  # the worst moment: checked and accepted, not yet sent
            return gas

        monkeypatch.setattr(gateway, "simulate", simulate_then_lose_the_node)
        response = client.post("/transfers", json=shipper.signed_body(prepared))
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert (accepted["digest"], accepted["statement"]) == (prepared["digest"], "Dispatch")
        # The transaction was signed and its hash kept before the node could have taken it.
        assert accepted["status"] == "sent" and accepted["tx_hash"].startswith("0x")
    # The service is down too now. Both come back; nobody resubmits anything.
    node.start()
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        record = client.get(f"/transfers/{prepared['digest']}")
        assert record.status_code == 200, record.text
        assert record.json()["evidence"][0]["signer"] == shipper.address
    assert (prepared["digest"], "recorded") in outbox(settings)


def test_indexer_resumes_from_its_checkpoint(stack, regulator):
    node, settings = stack
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        shipper, receiver = trading_pair(client, regulator)
        first = dispatch(client, shipper, receiver)
        runtime = client.app.state.runtime
        deployment, relayer = runtime.deployment, runtime.gateway.relayer
        prepared = client.post(
            "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, quantity=9)
        ).json()

    # While the service is down, another relayer records a signed dispatch straight on the chain.
    other = ChainGateway(settings.rpc_url, settings.artifacts_dir, relayer=relayer)
    other.bind(deployment)
    message = prepared["typed_data"]["message"]
    assert typed_data(DISPATCH, 31337, deployment.ledger.address, message) == prepared["typed_data"]
    call = other.statement_call(
        DISPATCH, message, bytes.fromhex(shipper.signed_body(prepared)["signature"][2:])
    )
    tx_hash = other.send(call, other.simulate(call) * 2)
    assert other.wait_for_receipt(tx_hash, timeout=10, poll=0.05)["status"] == 1

    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        assert client.get(f"/transfers/{prepared['digest']}").json()["quantity"] == 9
        assert client.get(f"/transfers/{first['id']}").json()["id"] == first["id"]
        head = other.block_number()
        assert client.get("/health").json()["indexed_block"] == head
    # Every chain event is in the read model exactly once.
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as c:
        indexed = c.scalar(select(func.count()).select_from(ChainEvent))
    engine.dispose()
    assert indexed == len(other.events(deployment.start_block, head))


def test_a_statement_another_relayer_recorded_is_settled_not_failed(stack, regulator, monkeypatch):
    node, settings = stack
    # The background loop must not resend the statement before the other relayer does (on a loaded
    # machine it did, and the other relayer's simulation then found it recorded): the test resumes itself.
    settings = settings.model_copy(update={"relayer_retry_seconds": 3600})
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        shipper, receiver = trading_pair(client, regulator)
        prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
        runtime = client.app.state.runtime
        send = runtime.gateway.send_data

        def signed_but_never_arrives(to, data, gas, on_signed=None):
            on_signed("0x" + "ee" * 32)  # the hash is kept; the node never sees the transaction
            raise NodeUnavailable("connection reset")

        monkeypatch.setattr(runtime.gateway, "send_data", signed_but_never_arrives)
        body = shipper.signed_body(prepared)
        assert client.post("/transfers", json=body).status_code == 202

        # Meanwhile the shipper handed the same signed statement to another relayer, which recorded it.
        # (Our relayer's sends keep failing until then: its background retries must not get there first.)
        other = ChainGateway(settings.rpc_url, settings.artifacts_dir, relayer=runtime.gateway.relayer)
        other.bind(runtime.deployment)
        call = other.statement_call(DISPATCH, body["message"], bytes.fromhex(body["signature"][2:]))
        tx_hash = other.send(call, other.simulate(call) * 2)
        assert other.wait_for_receipt(tx_hash, timeout=10, poll=0.05)["status"] == 1
        monkeypatch.setattr(runtime.gateway, "send_data", send)

        # The background loop may be settling it at this very moment (resume() skips what it holds).
        deadline = time.monotonic() + 10
        while (prepared["digest"], "recorded") not in outbox(settings) and time.monotonic() < deadline:
            runtime.relayer.resume()
            time.sleep(0.1)
        assert runtime.relayer.resume() == 0
        assert (prepared["digest"], "recorded") in outbox(settings)
        assert client.get(f"/transfers/{prepared['digest']}").json()["status"] == "dispatched"

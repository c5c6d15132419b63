"""Idempotency keys and the relayer's nonce manager: retries and concurrent submissions are safe."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from conftest import free_port
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from parties import Party, dispatch_terms, register, sign_in, trading_pair
from sqlalchemy import create_engine, select

from ledger_service.api.idempotency import IdempotencyMiddleware
from ledger_service.chain.gateway import NodeUnavailable
from ledger_service.db.models import SignedPayload


def test_a_retried_post_gets_the_first_answer(client: TestClient, regulator: Party) -> None:
    firm = Party("Vina Kraft")
    register(client, regulator, firm, "SHIPPER")
    headers = {"Idempotency-Key": "challenge-vina-kraft-1"}
    first = client.post("/auth/challenge", json={"address": firm.address}, headers=headers)
    again = client.post("/auth/challenge", json={"address": firm.address}, headers=headers)
    assert first.status_code == again.status_code == 200
    # The same challenge, not a second one: the retry did not run the request again.
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert client.post("/auth/challenge", json={"address": firm.address}).json() != first.json()


def test_a_key_reused_for_another_request_is_refused(client: TestClient, regulator: Party) -> None:
    one, other = Party("one"), Party("other")
    headers = {"Idempotency-Key": "reused-key"}
    assert client.post("/auth/challenge", json={"address": one.address}, headers=headers).status_code == 200
    reused = client.post("/auth/challenge", json={"address": other.address}, headers=headers)
    assert reused.status_code == 409
    assert reused.json()["detail"][0] == {
        "loc": ["header", "Idempotency-Key"],
        "msg": "this key was used for another request; use a new key",
        "type": "idempotency_key_reused",
    }


def test_keys_belong_to_their_caller(client: TestClient, regulator: Party) -> None:
    firm = Party("Ajinomoto")
    register(client, regulator, firm, "SHIPPER")
    body = {"address": firm.address}
    anonymous = client.post("/auth/challenge", json=body, headers={"Idempotency-Key": "k-1"})
    signed_in = client.post(
        "/auth/challenge", json=body, headers={"Idempotency-Key": "k-1", **sign_in(client, firm)}
    )
    assert anonymous.status_code == signed_in.status_code == 200
    assert anonymous.json()["nonce"] != signed_in.json()["nonce"]


def test_malformed_key(client: TestClient) -> None:
    response = client.post(
        "/auth/challenge", json={"address": Party("x").address}, headers={"Idempotency-Key": "a b"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_a_submission_retried_after_a_lost_answer(client: TestClient, regulator: Party) -> None:
    shipper, receiver = trading_pair(client, regulator)
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    body, headers = shipper.signed_body(prepared), {"Idempotency-Key": f"dispatch-{prepared['digest']}"}
    first = client.post("/transfers", json=body, headers=headers)
    again = client.post("/transfers", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_server_error_is_not_kept(client: TestClient, regulator: Party, monkeypatch) -> None:
    shipper, receiver = trading_pair(client, regulator)
    runtime = client.app.state.runtime
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    body, headers = shipper.signed_body(prepared), {"Idempotency-Key": "through-an-outage"}

    def node_down(*_args, **_kwargs):
        raise NodeUnavailable("connection refused")

    monkeypatch.setattr(runtime.gateway, "simulate", node_down)
    assert client.post("/transfers", json=body, headers=headers).status_code == 503
    monkeypatch.undo()
    # The node is back: the retry with the same key runs for real.
    retried = client.post("/transfers", json=body, headers=headers)
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers


def test_concurrent_submissions_share_one_nonce_sequence(
    client: TestClient, regulator: Party, settings
) -> None:
    pairs = [trading_pair(client, regulator) for _ in range(8)]
    bodies = []
    for shipper, receiver in pairs:
        prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
        bodies.append((prepared["digest"], shipper.signed_body(prepared)))

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda b: client.post("/transfers", json=b[1]), bodies))

    assert [r.status_code for r in responses] == [201] * 8, [
        r.text for r in responses if r.status_code != 201
    ]
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(SignedPayload.digest, SignedPayload.tx_hash).where(
                SignedPayload.digest.in_([d for d, _ in bodies])
            )
        ).all()
    engine.dispose()
    # Each statement once in the outbox, each in a transaction of its own, all mined (no nonce clash).
    assert sorted(d for d, _ in rows) == sorted(d for d, _ in bodies)
    tx_hashes = [t for _, t in rows]
    assert len(set(tx_hashes)) == 8
    gateway = client.app.state.runtime.gateway
    nonces = sorted(gateway.w3.eth.get_transaction(t)["nonce"] for t in tx_hashes)
    assert nonces == list(range(nonces[0], nonces[0] + 8))


def test_a_stream_that_fails_half_way_fails_for_its_client() -> None:
    # An export streams page by page; if the node or the database fails on page 2, a client reading it over
    # HTTP must not be handed a file that looks whole. Only keyed POSTs pass through the idempotency layer.
    app = FastAPI()
    app.add_middleware(IdempotencyMiddleware)

    def pages():
        yield b"transfer,quantity\n"
        raise RuntimeError("the node stopped answering on page 2")

    app.get("/export")(lambda: StreamingResponse(pages(), media_type="text/csv"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.02)
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"http://127.0.0.1:{port}/export")
    finally:
        server.should_exit = True
        thread.join(timeout=10)

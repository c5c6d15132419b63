"""Calls the rejection, correction and batch tests share, and the API served over real HTTP for the CLI."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from conftest import free_port
from eth_account import Account
from fastapi import FastAPI
from fastapi.testclient import TestClient
from parties import Party, sign_in
from sqlalchemy import select

from ledger_service.chain.gateway import ChainGateway
from ledger_service.db.models import SignedPayload


def rejection(client: TestClient, receiver: Party, transfer_id: str, **terms: Any):  # type: ignore[no-untyped-def]
    """The receiver prepares, signs and submits a rejection; returns the submit response."""
    terms = {"rejected_quantity": 12_300, "reason": "moisture above the 8 % limit", **terms}
    prepared = client.post(f"/transfers/{transfer_id}/rejection/prepare", json=terms)
    assert prepared.status_code == 200, prepared.text
    return client.post(f"/transfers/{transfer_id}/rejection", json=receiver.signed_body(prepared.json()))


def receive(client: TestClient, party: Party, transfer_id: str, quantity: int) -> dict:
    prepared = client.post(f"/transfers/{transfer_id}/receipt/prepare", json={"received_quantity": quantity})
    assert prepared.status_code == 200, prepared.text
    response = client.post(f"/transfers/{transfer_id}/receipt", json=party.signed_body(prepared.json()))
    assert response.status_code == 200, response.text
    return response.json()


def handover(client: TestClient, transporter: Party, transfer_id: str, kind: str, leg: int = 0) -> None:
    """The transporter of `leg` signs its pick-up or delivery (`kind`: "pick-up" or "delivery")."""
    url = f"/transfers/{transfer_id}/legs/{leg}/{kind}"
    prepared = client.post(url + "/prepare", json={})
    assert prepared.status_code == 200, prepared.text
    response = client.post(url, json=transporter.signed_body(prepared.json()))
    assert response.status_code == 200, response.text


def upload(client: TestClient, party: Party, body: bytes, media_type: str) -> str:
    """`party` uploads a document; returns its SHA-256 (0x-hex), as a statement cites it."""
    response = client.post(
        "/documents", files={"file": ("results", body, media_type)}, headers=sign_in(client, party)
    )
    assert response.status_code == 201, response.text
    return response.json()["sha256"]


def in_outbox(client: TestClient, digest: str) -> bool:
    with client.app.state.runtime.sessions() as session:
        return session.scalar(select(SignedPayload.id).where(SignedPayload.digest == digest)) is not None


def another_relayer(client: TestClient) -> ChainGateway:
    """A relayer of someone else's (its own key; gas is free on this chain) bound to the same ledger."""
    runtime = client.app.state.runtime
    other = ChainGateway(runtime.settings.rpc_url, runtime.settings.artifacts_dir, relayer=Account.create())
    other.bind(runtime.deployment)
    return other


def keystore_of(party: Party, directory: Path) -> tuple[Path, Path]:
    keystore, password = directory / f"{party.name.replace(' ', '-')}.json", directory / "pw"
    password.write_text("pw\n")
    keystore.write_text(json.dumps(Account.encrypt(party.account.key, "pw")))
    return keystore, password


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The running app (its runtime already started by the test client) served over HTTP on a free port,
    for the CLI, which speaks HTTP to the service."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    # Parties sign in to the URL they reach the service at (the CLI checks the sign-in message names it).
    settings = app.state.runtime.settings
    public_url, settings.public_url = settings.public_url, f"http://127.0.0.1:{port}"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        settings.public_url = public_url
        server.should_exit = True
        thread.join(timeout=10)

"""Calls the rejection, correction and batch tests share, and the API served over real HTTP for the CLI."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from conftest import free_port
from eth_account import Account
from fastapi import FastAPI
from fastapi.testclient import TestClient
from parties import Party, sign_in
from sqlalchemy import func, select
from typer.testing import CliRunner

from ledger_service.chain.gateway import ChainGateway
from ledger_service.cli import app as cli_app
from ledger_service.db.models import ChainEvent, Document, Lot, SignedPayload, Transfer


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


def upload(client: TestClient, party: Party, body: bytes, media_type: str = "application/pdf") -> str:
    """`party` uploads a document; returns its SHA-256 (0x-hex), to cite in a signed statement."""
    response = client.post(
        "/documents", files={"file": ("document", body, media_type)}, headers=sign_in(client, party)
    )
    assert response.status_code == 201, response.text
    return response.json()["sha256"]


def correct(client: TestClient, proposer: Party, counterparty: Party, transfer_id: str, **terms: Any) -> dict:
    """A correction of a transfer one party proposes and the other countersigns; returns it applied."""
    terms = {"proposer": proposer.address, "reason": "weighbridge ticket re-read", **terms}
    prepared = client.post(f"/transfers/{transfer_id}/corrections/prepare", json=terms)
    assert prepared.status_code == 200, prepared.text
    proposed = client.post(
        f"/transfers/{transfer_id}/corrections", json=proposer.signed_body(prepared.json())
    )
    assert proposed.status_code == 201, proposed.text
    url = f"/transfers/{transfer_id}/corrections/{proposed.json()['id']}/countersignature"
    prepared = client.post(url + "/prepare", json={})
    assert prepared.status_code == 200, prepared.text
    applied = client.post(url, json=counterparty.signed_body(prepared.json()))
    assert applied.status_code == 200, applied.text
    return applied.json()


def verdict_on(report: dict, rule: str, subject: str) -> dict:
    """The finding of `rule` on `subject` in a verification report; for a rule with nothing in its scope
    (no finding on `subject`), the rule's own verdict and its one finding saying why."""
    (judged,) = [r for r in report["rules"] if r["id"] == rule]
    found = [f for f in judged["findings"] if f["subject"] == subject]
    if found:
        return found[0]
    (why,) = judged["findings"]
    return {**why, "verdict": judged["verdict"]}


@dataclass(frozen=True)
class Seen:
    """A verdict a regulator reads: a rule's finding on a record (`kind` "lot" or "transfer", `key` its name
    in a test's world), in the record's own verification report (a lot's is its lineage), evaluated
    `days_later` days from now if given (deadlines run without moving the chain's clock)."""

    kind: str
    key: str
    verdict: str
    words: str
    days_later: int | None = None

    def check(self, client: TestClient, world: dict, pack: str, rule: str) -> None:
        record = world[self.kind][self.key]
        params = {"pack": pack}
        if self.days_later is not None:
            at = datetime.now(UTC) + timedelta(days=self.days_later)
            params["at"] = at.replace(tzinfo=None).isoformat(timespec="seconds")
        response = client.get(f"/verification/{self.kind}s/{record}", params=params)
        assert response.status_code == 200, response.text
        finding = verdict_on(response.json(), rule, f"{self.kind} {record}")
        assert finding["verdict"] == self.verdict, finding
        assert self.words in finding["reason"], finding["reason"]


def revoke_permit(client: TestClient, regulator: Party, permit_id: str, reason: str) -> None:
    prepared = client.post(
        f"/permits/{permit_id}/revocation/prepare", json={"regulator": regulator.address, "reason": reason}
    )
    assert prepared.status_code == 200, prepared.text
    revoked = client.post(f"/permits/{permit_id}/revocation", json=regulator.signed_body(prepared.json()))
    assert revoked.status_code == 200, revoked.text


def signed_flow(client: TestClient, supplier: Party, offtaker: Party, terms: dict) -> dict:
    """A metered flow registered with `terms`, signed by its supplier and its offtaker."""
    prepared = client.post("/flows/prepare", json=terms)
    assert prepared.status_code == 200, prepared.text
    typed = prepared.json()["typed_data"]
    body = {
        "message": typed["message"],
        "supplier_signature": supplier.sign(typed),
        "offtaker_signature": offtaker.sign(typed),
    }
    response = client.post("/flows", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def only_error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    """The one error of a refusal answered with `status`, in the service's format, with its reason."""
    assert response.status_code == status, response.text
    (error,) = response.json()["detail"]
    assert error["msg"]
    return error  # type: ignore[no-any-return]


@contextmanager
def leaves_no_trace(client: TestClient) -> Iterator[None]:
    """Asserts that what runs inside records nothing: no signed payload kept in the outbox, no transfer, lot,
    chain event or document in the read model, no file in the document store, no new block on the chain
    (anvil mines a block for every transaction it takes)."""
    runtime = client.app.state.runtime
    # The store's blobs, one directory per first byte of their hash (its master key is made on first use).
    documents = runtime.settings.resolved_documents_dir

    def state() -> tuple:
        with runtime.sessions() as session:
            rows = tuple(
                session.scalar(select(func.count()).select_from(table))
                for table in (SignedPayload, Transfer, Lot, ChainEvent, Document)
            )
        return rows, set(documents.glob("[0-9a-f][0-9a-f]/*")), runtime.gateway.block_number()

    before = state()
    yield
    assert state() == before


def suspend(client: TestClient, regulator: Party, party: Party, suspended: bool = True) -> None:
    """The regulator suspends `party` (or reinstates it)."""
    url = f"/participants/{party.address}/status"
    terms = {"regulator": regulator.address, "suspended": suspended, "reason": "permit under review"}
    prepared = client.post(url + "/prepare", json=terms)
    assert prepared.status_code == 200, prepared.text
    response = client.post(url, json=regulator.signed_body(prepared.json()))
    assert response.status_code == 200, response.text


def in_outbox(client: TestClient, digest: str) -> bool:
    with client.app.state.runtime.sessions() as session:
        return session.scalar(select(SignedPayload.id).where(SignedPayload.digest == digest)) is not None


def another_relayer(client: TestClient) -> ChainGateway:
    """A relayer of someone else's (its own key; gas is free on this chain) bound to the same ledger."""
    runtime = client.app.state.runtime
    other = ChainGateway(runtime.settings.rpc_url, runtime.settings.artifacts_dir, relayer=Account.create())
    other.bind(runtime.deployment)
    return other


def metered_flow(
    client: TestClient,
    supplier: Party,
    offtaker: Party,
    quantities: list[int],
    medium: str = "steam",
    unit: str = "TNE",
    meter_id: str = "0x" + "4e" * 32,
) -> str:
    """A flow both parties register, with an hourly period anchored for each quantity (ending before now)."""
    hour = 3600
    start = (int(time.time()) // hour - 10) * hour
    terms = {
        "supplier": supplier.address,
        "offtaker": offtaker.address,
        "medium": medium,
        "unit": unit,
        "meter_id": meter_id,
        "period_seconds": hour,
        "first_period_start": datetime.fromtimestamp(start, UTC).isoformat(),
    }
    flow_id = signed_flow(client, supplier, offtaker, terms)["id"]
    batch = {
        "periods": [{"quantity": q, "reading_hash": f"0x{i + 1:064x}"} for i, q in enumerate(quantities)]
    }
    prepared = client.post(f"/flows/{flow_id}/periods/prepare", json=batch).json()
    periods = [
        {
            "quantity": q,
            "reading_hash": item["typed_data"]["message"]["readingHash"],
            "supplier_signature": supplier.sign(item["typed_data"]),
            "offtaker_signature": offtaker.sign(item["typed_data"]),
        }
        for item, q in zip(prepared["periods"], quantities, strict=True)
    ]
    anchored = client.post(
        f"/flows/{flow_id}/periods", json={"first_period": prepared["first_period"], "periods": periods}
    )
    assert anchored.status_code in (200, 201), anchored.text
    return flow_id


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


def reindex(monkeypatch, settings, database_url: str, data_dir: Path):  # type: ignore[no-untyped-def]
    """`symledger reindex` as an operator runs it, into `database_url`, from the deployment of `settings`."""
    for name, value in {
        "SYMLEDGER_DATA_DIR": str(data_dir),  # no relayer key there: reindex needs none
        "SYMLEDGER_DATABASE_URL": database_url,
        "SYMLEDGER_RPC_URL": settings.rpc_url,
        "SYMLEDGER_DEPLOYMENT_FILE": str(settings.resolved_deployment_file),
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli_app, ["reindex"])
    assert result.exit_code == 0, result.output
    return result

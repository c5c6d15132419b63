"""Webhooks: status changes posted to the parties' own URLs, signed, retried, logged.

Everything here is real: the service runs under uvicorn on its own anvil and database (so that it can be
stopped and started again), the webhooks reach a real HTTP server in a thread, and the CLI talks HTTP.
"""

import hashlib
import hmac
import json
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import deploy_stack, free_port
from eth_account import Account
from parties import Party, dispatch, register, sign_in, trading_pair
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner
from workflows import suspend

from ledger_service import devstack
from ledger_service.cli import app as cli_app
from ledger_service.db.models import NotifierCheckpoint, WebhookDelivery
from ledger_service.main import create_app
from ledger_service.notifications import backoff_seconds
from ledger_service.settings import Settings

# What a receiver is told to tolerate between the signed timestamp and its own clock (docs/webhooks.md).
TOLERANCE_SECONDS = 300
BACKOFF_BASE, BACKOFF_JITTER, MAX_ATTEMPTS = 0.5, 0.2, 3


# --- a real receiver ----------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    signature_ok: bool | None

    @property
    def message(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


def verify(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """What docs/webhooks.md tells a receiver to do, written here independently of the service's code."""
    timestamp = headers.get("X-Symledger-Timestamp", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, headers.get("X-Symledger-Signature", ""))


class Receiver:
    """An HTTP server that records every POST, checks its signature when it knows the path's secret (401
    if wrong), and answers the statuses scripted for the path in turn, then 200."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[Received] = []
        self.script: dict[str, list[int]] = {}
        self.secrets: dict[str, str] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                secret = receiver.secrets.get(self.path)
                ok = None if secret is None else verify(secret, headers, body, time.time())
                with receiver._lock:
                    receiver.received.append(Received(self.path, headers, body, time.monotonic(), ok))
                    scripted = receiver.script.get(self.path) or []
                    status = 401 if ok is False else scripted.pop(0) if scripted else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- the service, over HTTP -----------------------------------------------------------------------------


class Service:
    """The API under uvicorn in a thread; `restart` replaces it with a new instance on the same database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.app = create_app(self.settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.settings.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        eventually(lambda: self._server.started, what="the service to start")  # type: ignore[union-attr]

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=60)
        assert not self._thread.is_alive()

    def restart(self) -> None:
        self.stop()
        self.start()


def eventually(check: Callable[[], Any], timeout: float = 30, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def _database(tmp: Path) -> Iterator[str]:
    """SQLite in `tmp`, or a fresh PostgreSQL database next to TEST_DATABASE_URL's (a chain of its own
    needs a read model of its own), dropped when the module is done with it."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp / 'ledger.db'}"
        return
    base = make_url(url)
    name = f"{base.database}_webhooks"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, regulator: Party) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("webhooks")
    with (
        devstack.running_anvil(tmp, free_port(), say=lambda _line: None) as rpc_url,
        _database(tmp) as database,
    ):
        deployed = deploy_stack(tmp, rpc_url, database, regulator)
        settings = Settings(
            **{
                **deployed.model_dump(),
                "host": "127.0.0.1",
                "port": free_port(),
                "indexer_poll_seconds": 0.05,
                "webhook_backoff_base_seconds": BACKOFF_BASE,
                "webhook_backoff_jitter": BACKOFF_JITTER,
                "webhook_max_attempts": MAX_ATTEMPTS,
                "webhook_timeout_seconds": 2.0,
            }
        )
        running = Service(settings)
        running.start()
        yield running
        running.stop()


@pytest.fixture(scope="module")
def api(service: Service, regulator: Party) -> Iterator[httpx.Client]:
    """The service over HTTP, signed in as the founding regulator (parties act through their signatures;
    their own sign-ins are passed per request where the caller matters)."""
    with httpx.Client(base_url=service.url, timeout=60) as client:
        client.headers.update(sign_in(client, regulator))
        yield client


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def subscribe(api: httpx.Client, receiver: Receiver, auth: dict[str, str], label: str) -> dict[str, Any]:
    path = f"/{label}-{uuid.uuid4().hex[:8]}"
    response = api.post("/webhooks", json={"url": receiver.url(path), "description": label}, headers=auth)
    assert response.status_code == 201, response.text
    created = response.json()
    receiver.secrets[path] = created["secret"]
    return {**created, "path": path}


def receive(api: httpx.Client, transfer_id: str, receiver: Party, quantity: int = 12_300) -> dict:
    url = f"/transfers/{transfer_id}/receipt"
    prepared = api.post(url + "/prepare", json={"received_quantity": quantity})
    assert prepared.status_code == 200, prepared.text
    response = api.post(url, json=receiver.signed_body(prepared.json()))
    assert response.status_code == 200, response.text
    return response.json()


def deliveries(api: httpx.Client, auth: dict[str, str], webhook_id: str, **params: Any) -> dict:
    response = api.get(f"/webhooks/{webhook_id}/deliveries", headers=auth, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def settled(api: httpx.Client, auth: dict[str, str], webhook_id: str, count: int) -> list[dict] | None:
    """The webhook's deliveries once there are `count` and none is queued any more."""
    items = deliveries(api, auth, webhook_id)["items"]
    return items if len(items) == count and all(d["status"] != "queued" for d in items) else None


# --- tests ------------------------------------------------------------------------------------------


def test_dispatch_and_receipt_reach_shipper_and_receiver_signed(api, regulator, receiver_server):
    shipper, receiver = trading_pair(api, regulator)
    shipper_auth, receiver_auth = sign_in(api, shipper), sign_in(api, receiver)
    shipper_hook = subscribe(api, receiver_server, shipper_auth, "shipper")
    receiver_hook = subscribe(api, receiver_server, receiver_auth, "receiver")

    transfer = dispatch(api, shipper, receiver)
    receive(api, transfer["id"], receiver, 12_250)

    evidence = api.get(f"/transfers/{transfer['id']}").json()["evidence"]
    for party, hook, auth in (
        (shipper, shipper_hook, shipper_auth),
        (receiver, receiver_hook, receiver_auth),
    ):
        got = eventually(
            lambda hook=hook: len(receiver_server.at(hook["path"])) >= 2 and receiver_server.at(hook["path"])
        )
        assert len(got) == 2
        assert all(r.signature_ok for r in got)  # checked by the receiver with the secret it was given
        messages = sorted((r.message for r in got), key=lambda m: (m["block"], m["logIndex"]))
        assert [(m["event"], m["status"]) for m in messages] == [
            ("TransferDispatched", "dispatched"),
            ("TransferReceived", "received"),
        ]
        for message, record, arrived in zip(
            messages, evidence, sorted(got, key=lambda r: r.message["block"]), strict=True
        ):
            assert set(message) == {
                "id",
                "event",
                "transferId",
                "status",
                "block",
                "txHash",
                "logIndex",
                "occurredAt",
                "subscriber",
            }
            assert message["transferId"] == transfer["id"]
            assert message["subscriber"] == party.address
            assert (message["block"], message["txHash"]) == (record["block_number"], record["tx_hash"])
            assert message["occurredAt"].endswith("Z")
            assert arrived.headers["X-Symledger-Delivery"] == message["id"]
            assert arrived.headers["Content-Type"] == "application/json"
        log = eventually(lambda hook=hook, auth=auth: settled(api, auth, hook["id"], 2))
        assert [d["status"] for d in log] == ["delivered", "delivered"]
        assert [d["event"] for d in log] == ["TransferReceived", "TransferDispatched"]  # newest first
        assert all(
            [(a["number"], a["http_status"], a["error"]) for a in d["attempt_log"]] == [(1, 200, None)]
            for d in log
        )
        assert {d["id"] for d in log} == {m["id"] for m in messages}


def test_a_receiver_failing_twice_gets_three_attempts_with_growing_waits(api, regulator, receiver_server):
    shipper, receiver = trading_pair(api, regulator)
    auth = sign_in(api, shipper)
    hook = subscribe(api, receiver_server, auth, "flaky")
    receiver_server.script[hook["path"]] = [500, 500]

    dispatch(api, shipper, receiver)

    (delivery,) = eventually(lambda: settled(api, auth, hook["id"], 1), what="the delivery to settle")
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert [(a["number"], a["http_status"]) for a in delivery["attempt_log"]] == [
        (1, 500),
        (2, 500),
        (3, 200),
    ]
    arrivals = receiver_server.at(hook["path"])
    assert len(arrivals) == 3
    # The same message each time (same id and body), each time freshly signed.
    assert {r.body for r in arrivals} == {arrivals[0].body}
    assert {r.headers["X-Symledger-Delivery"] for r in arrivals} == {delivery["id"]}
    assert all(r.signature_ok for r in arrivals)
    first_wait, second_wait = (b.at - a.at for a, b in zip(arrivals, arrivals[1:], strict=False))
    # Waits of base x 2^(n-1), shortened by up to the jitter: at least 0.4 s, then at least 0.8 s. Only the
    # lower bounds are the service's: a loaded machine may stretch any wait.
    assert first_wait >= BACKOFF_BASE * (1 - BACKOFF_JITTER)
    assert second_wait >= 2 * BACKOFF_BASE * (1 - BACKOFF_JITTER)


def test_a_receiver_that_is_down_ends_failed_then_is_redelivered_on_request(api, regulator):
    down = Receiver()
    port = down.port
    down.stop()  # nothing listens on its port now
    shipper, receiver = trading_pair(api, regulator)
    auth = sign_in(api, shipper)
    created = api.post("/webhooks", json={"url": f"http://127.0.0.1:{port}/hook"}, headers=auth)
    assert created.status_code == 201, created.text
    hook = created.json()

    dispatch(api, shipper, receiver)

    (failed,) = eventually(lambda: settled(api, auth, hook["id"], 1), what="the delivery to fail")
    assert failed["status"] == "failed" and failed["attempts"] == MAX_ATTEMPTS
    assert failed["next_attempt_at"] is None
    assert [a["number"] for a in failed["attempt_log"]] == [1, 2, 3]
    assert all(a["http_status"] is None and "ConnectError" in a["error"] for a in failed["attempt_log"])
    time.sleep(4 * BACKOFF_BASE)  # failed means no more attempts
    assert deliveries(api, auth, hook["id"])["items"][0]["attempts"] == MAX_ATTEMPTS

    back = Receiver(port)
    back.secrets["/hook"] = hook["secret"]
    try:
        other = sign_in(api, receiver)
        assert (
            api.post(f"/webhooks/{hook['id']}/deliveries/{failed['id']}/redeliver", headers=other).status_code
            == 404
        )
        missing = api.post(f"/webhooks/{hook['id']}/deliveries/{uuid.uuid4()}/redeliver", headers=auth)
        assert missing.status_code == 404
        assert missing.json()["detail"][0]["loc"] == ["path", "delivery_id"]
        requeued = api.post(f"/webhooks/{hook['id']}/deliveries/{failed['id']}/redeliver", headers=auth)
        assert requeued.status_code == 200, requeued.text
        assert requeued.json()["status"] in ("queued", "delivered")

        (delivered,) = eventually(lambda: settled(api, auth, hook["id"], 1), what="the redelivery")
        assert delivered["status"] == "delivered" and delivered["attempts"] == MAX_ATTEMPTS + 1
        assert delivered["attempt_log"][-1]["http_status"] == 200
        (arrival,) = back.at("/hook")
        assert arrival.signature_ok and arrival.message["id"] == failed["id"] == failed["message"]["id"]
    finally:
        back.stop()


def test_a_party_sees_and_deletes_only_its_own_webhooks(api, regulator, receiver_server):
    mine, theirs = Party("Deep C Glass"), Party("Nam Cau Kien Slag")
    register(api, regulator, mine, "SHIPPER")
    register(api, regulator, theirs, "RECEIVER")
    my_auth, their_auth = sign_in(api, mine), sign_in(api, theirs)
    hook = subscribe(api, receiver_server, my_auth, "mine")

    assert [h["id"] for h in api.get("/webhooks", headers=my_auth).json()] == [hook["id"]]
    assert "secret" not in api.get("/webhooks", headers=my_auth).json()[0]
    assert api.get("/webhooks", headers=their_auth).json() == []
    for method, path in (
        ("DELETE", f"/webhooks/{hook['id']}"),
        ("GET", f"/webhooks/{hook['id']}/deliveries"),
    ):
        response = api.request(method, path, headers=their_auth)
        assert response.status_code == 404
        assert response.json()["detail"][0] == {
            "loc": ["path", "webhook_id"],
            "msg": f"you have no webhook {hook['id']}",
            "type": "unknown_webhook",
        }
    assert api.get("/webhooks", headers={"Authorization": ""}).status_code == 401
    assert (
        api.post(
            "/webhooks", json={"url": receiver_server.url("/x")}, headers={"Authorization": ""}
        ).status_code
        == 401
    )

    assert api.delete(f"/webhooks/{hook['id']}", headers=my_auth).status_code == 204
    assert api.get("/webhooks", headers=my_auth).json() == []
    assert api.delete(f"/webhooks/{hook['id']}", headers=my_auth).status_code == 404


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://erp.example.com/hook", "only http:// and https:// URLs can receive webhooks"),
        ("file:///etc/passwd", "only http:// and https:// URLs can receive webhooks"),
        ("erp.example.com/hook", "only http:// and https:// URLs can receive webhooks"),
        ("https://admin:hunter2@erp.example.com/hook", "credentials in the URL are refused"),
        ("https:///hook", "the URL names no host"),
        ("https://erp.example.com:99999/hook", "not a URL"),
        ("https://erp.example.com/hook#top", "a fragment (#...) is never sent to a server"),
        ("https://erp.example.com/my hook", "the URL contains spaces or control characters"),
        ("", "at least 1 character"),
    ],
)
def test_bad_urls_are_refused_naming_the_field(api, regulator, url, reason):
    firm = Party("Khanh Phu CO2")
    register(api, regulator, firm, "SHIPPER")
    auth = sign_in(api, firm)
    response = api.post("/webhooks", json={"url": url}, headers=auth)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "url"]
    assert reason in error["msg"]
    assert api.get("/webhooks", headers=auth).json() == []


def test_the_same_url_twice_is_refused(api, regulator, receiver_server):
    firm = Party("Amata Water")
    register(api, regulator, firm, "SHIPPER")
    auth = sign_in(api, firm)
    hook = subscribe(api, receiver_server, auth, "twice")
    again = api.post("/webhooks", json={"url": hook["url"]}, headers=auth)
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"] == ["body", "url"]
    assert len(api.get("/webhooks", headers=auth).json()) == 1


def test_a_transporter_hears_of_every_leg(api, regulator, receiver_server):
    shipper, receiver = trading_pair(api, regulator)
    truck = Party("truck")
    register(api, regulator, truck, "TRANSPORTER")
    hook = subscribe(api, receiver_server, sign_in(api, truck), "truck")

    transfer = dispatch(api, shipper, receiver, transporters=[truck.address])
    for kind in ("pick-up", "delivery"):
        url = f"/transfers/{transfer['id']}/legs/0/{kind}"
        prepared = api.post(url + "/prepare", json={})
        assert api.post(url, json=truck.signed_body(prepared.json())).status_code == 200
    receive(api, transfer["id"], receiver)

    got = eventually(lambda: len(receiver_server.at(hook["path"])) >= 5 and receiver_server.at(hook["path"]))
    messages = sorted((r.message for r in got), key=lambda m: (m["block"], m["logIndex"]))
    assert [(m["event"], m["status"]) for m in messages] == [
        ("TransferDispatched", "dispatched"),
        ("TransferCarried", "awaiting_pick_up"),
        ("LegPickedUp", "in_transit"),
        ("LegDelivered", "delivered"),
        ("TransferReceived", "received"),
    ]
    assert all(r.signature_ok for r in got)


def test_an_unsubscribed_party_or_a_bystander_gets_nothing(api, regulator, receiver_server, service):
    shipper, receiver = trading_pair(api, regulator)
    bystander = Party("bystander")
    register(api, regulator, bystander, "SHIPPER")
    shipper_auth = sign_in(api, shipper)
    gone = subscribe(api, receiver_server, shipper_auth, "unsubscribed")
    assert api.delete(f"/webhooks/{gone['id']}", headers=shipper_auth).status_code == 204
    watching = subscribe(api, receiver_server, sign_in(api, bystander), "bystander")
    told = subscribe(api, receiver_server, sign_in(api, receiver), "told")

    dispatch(api, shipper, receiver)

    # The notifier queues an event's deliveries for all subscriptions at once: once the receiver's has
    # arrived, the others would have been queued too.
    eventually(lambda: receiver_server.at(told["path"]))
    engine = create_engine(service.settings.resolved_database_url)
    with engine.connect() as connection:
        for hook in (gone, watching):
            queued = connection.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.subscription_id == hook["id"])
            )
            assert queued == 0
    engine.dispose()
    assert receiver_server.at(gone["path"]) == [] and receiver_server.at(watching["path"]) == []


def test_a_suspended_party_is_told_nothing_more(api, regulator, receiver_server):
    shipper, receiver = trading_pair(api, regulator)
    suspended = subscribe(api, receiver_server, sign_in(api, shipper), "suspended")
    told = subscribe(api, receiver_server, sign_in(api, receiver), "still-told")
    transfer = dispatch(api, shipper, receiver)
    eventually(lambda: receiver_server.at(suspended["path"]), what="the dispatch told to the shipper")

    suspend(api, regulator, shipper)
    receive(api, transfer["id"], receiver)

    eventually(lambda: len(receiver_server.at(told["path"])) == 2, what="the receipt told to the receiver")
    assert [json.loads(r.body)["event"] for r in receiver_server.at(suspended["path"])] == [
        "TransferDispatched"
    ]


def test_no_delivery_twice_after_a_restart_and_a_rescan(api, regulator, receiver_server, service):
    shipper, receiver = trading_pair(api, regulator)
    auth = sign_in(api, shipper)
    hook = subscribe(api, receiver_server, auth, "restart")
    transfer = dispatch(api, shipper, receiver)
    eventually(lambda: settled(api, auth, hook["id"], 1))

    service.stop()
    # Forget how far the notifier got, as if its checkpoint were lost: it scans every event again.
    engine = create_engine(service.settings.resolved_database_url)
    with engine.begin() as connection:
        connection.execute(delete(NotifierCheckpoint))
    service.start()  # a new app instance on the same database

    receive(api, transfer["id"], receiver)
    log = eventually(lambda: settled(api, auth, hook["id"], 2))
    with engine.connect() as connection:
        assert connection.scalar(select(NotifierCheckpoint.block_number)) >= max(
            d["message"]["block"] for d in log
        )
    engine.dispose()
    time.sleep(0.5)  # a few more notifier rounds: nothing more may come
    assert [d["event"] for d in deliveries(api, auth, hook["id"])["items"]] == [
        "TransferReceived",
        "TransferDispatched",
    ]
    arrivals = receiver_server.at(hook["path"])
    assert sorted(r.message["event"] for r in arrivals) == ["TransferDispatched", "TransferReceived"]


def test_back_off_doubles_up_to_the_cap_and_jitter_only_shortens():
    settings = Settings(
        webhook_backoff_base_seconds=10, webhook_backoff_cap_seconds=300, webhook_backoff_jitter=0.25
    )
    assert [backoff_seconds(n, settings, 0.0) for n in (1, 2, 3, 4, 5, 6, 7, 100)] == [
        10,
        20,
        40,
        80,
        160,
        300,
        300,
        300,
    ]
    assert backoff_seconds(3, settings, 0.999) == pytest.approx(40 * 0.75, rel=1e-3)


# --- the CLI ------------------------------------------------------------------------------------------


runner = CliRunner()


def test_cli_signs_in_with_the_keystore_and_manages_webhooks(
    api, regulator, receiver_server, service, tmp_path
):
    shipper, receiver = trading_pair(api, regulator)
    keystore, password = tmp_path / "shipper.json", tmp_path / "pw"
    password.write_text("pw\n")
    keystore.write_text(json.dumps(Account.encrypt(shipper.account.key, "pw")))
    env = {"SYMLEDGER_CONFIG_DIR": str(tmp_path / "config"), "SYMLEDGER_API": service.url}

    def cli(*args: str):
        return runner.invoke(cli_app, list(args), env=env)

    not_yet = cli("webhook", "list")
    assert not_yet.exit_code == 1 and "symledger login" in not_yet.output

    logged_in = cli("login", "-k", str(keystore), "--password-file", str(password))
    assert logged_in.exit_code == 0, logged_in.output
    assert f"as {shipper.address}" in logged_in.output
    token_file = tmp_path / "config" / "tokens.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    path = f"/cli-{uuid.uuid4().hex[:8]}"
    added = runner.invoke(
        cli_app, ["webhook", "add", receiver_server.url(path), "--description", "ERP"], env=env
    )
    assert added.exit_code == 0, added.output
    created = json.loads(added.stdout)
    receiver_server.secrets[path] = created["secret"]
    assert "shows it only this once" in added.stderr
    listed = json.loads(cli("webhook", "list").stdout)
    assert [(h["id"], h["url"], h["description"]) for h in listed] == [
        (created["id"], receiver_server.url(path), "ERP")
    ]

    bad = cli("webhook", "add", "ftp://erp.example.com/hook")
    assert bad.exit_code == 1
    assert bad.output.startswith(
        "error: url: Value error, only http:// and https:// URLs can receive webhooks"
    )

    dispatch(api, shipper, receiver)
    eventually(lambda: receiver_server.at(path))
    log = eventually(
        lambda: (
            (page := json.loads(cli("webhook", "deliveries", created["id"]).stdout))["items"]
            and page["items"][0]["status"] == "delivered"
            and page
        )
    )
    assert log["total"] == 1 and log["items"][0]["message"]["event"] == "TransferDispatched"

    # Without a cached sign-in, -k signs in on the spot.
    token_file.unlink()
    again = cli("webhook", "list", "-k", str(keystore), "--password-file", str(password))
    assert again.exit_code == 0, again.output
    assert [h["id"] for h in json.loads(again.stdout)] == [created["id"]]

    assert cli("webhook", "remove", created["id"]).exit_code == 0
    gone = cli("webhook", "deliveries", created["id"])
    assert gone.exit_code == 1 and f"you have no webhook {created['id']}" in gone.output
    assert cli("logout").exit_code == 0
    assert cli("webhook", "list").exit_code == 1

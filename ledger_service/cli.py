"""`symledger`: the party's tool (keys, offline signing, the custody workflow over the API) and the
operator's (deploy, serve, the local profile).

A party's key never leaves this process: the CLI asks the service to prepare a statement, checks that
the typed data says what the party asked for, signs it locally, and submits only the signature.
"""

import hashlib
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from eth_account import Account

from compliance.operations import operations_mask
from ledger_service import statements
from ledger_service.keystore import KeystoreError, create_keystore, keystore_address, load_account
from ledger_service.roles import PermitKind, Role

app = typer.Typer(
    help="Symbiosis Ledger: signed waste-to-resource transfers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
key_app = typer.Typer(help="Party keys in encrypted keystore files.", no_args_is_help=True)
app.add_typer(key_app, name="key")
code_app = typer.Typer(help="The regulator's catalogue of waste codes.", no_args_is_help=True)
app.add_typer(code_app, name="waste-code")
permit_app = typer.Typer(
    help="Permits and licences, registered and revoked by a regulator.", no_args_is_help=True
)
app.add_typer(permit_app, name="permit")
lot_app = typer.Typer(help="Lots declared by their generator.", no_args_is_help=True)
app.add_typer(lot_app, name="lot")
certificate_app = typer.Typer(
    help="Certificates of analysis issued by accredited labs.", no_args_is_help=True
)
app.add_typer(certificate_app, name="certificate")

ApiUrl = Annotated[str, typer.Option("--api", envvar="SYMLEDGER_API", help="Service URL")]
Keystore = Annotated[Path, typer.Option("--keystore", "-k", help="The signing party's keystore file")]
PasswordFile = Annotated[
    Path | None,
    typer.Option("--password-file", help="File holding the keystore password (else asked for)"),
]
# Where each statement is submitted; {x} are message fields.
SUBMIT_PATHS = {
    "RegisterParticipant": "/participants",
    "SetParticipantStatus": "/participants/{participant}/status",
    "RegisterWasteCode": "/waste-codes",
    "RegisterPermit": "/permits",
    "RevokePermit": "/permits/{permitId}/revocation",
    "RegisterLot": "/lots",
    "IssueCertificate": "/certificates",
    "RevokeCertificate": "/certificates/{certificateId}/revocation",
    "Dispatch": "/transfers",
    "PickUp": "/transfers/{transferId}/legs/{leg}/pick-up",
    "Delivery": "/transfers/{transferId}/legs/{leg}/delivery",
    "Receipt": "/transfers/{transferId}/receipt",
}


def _log_to_console() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _password(password_file: Path | None, confirm: bool = False) -> str:
    if password_file is not None:
        try:
            return password_file.read_text().rstrip("\n")
        except OSError as exc:
            fail(f"--password-file: {exc.strerror}: {password_file}")
    if env := os.environ.get("SYMLEDGER_KEY_PASSWORD"):
        return env
    return typer.prompt("keystore password", hide_input=True, confirmation_prompt=confirm)


def _account(keystore: Path, password_file: Path | None):  # type: ignore[no-untyped-def]
    try:
        return load_account(keystore, _password(password_file))
    except KeystoreError as exc:
        fail(f"--keystore: {exc}")


# --- keys ---------------------------------------------------------------------------------------


@key_app.command("new")
def key_new(keystore: Keystore, password_file: PasswordFile = None) -> None:
    """Create a new key, encrypted with a password, in KEYSTORE; print its address."""
    try:
        address = create_keystore(keystore, _password(password_file, confirm=True))
    except KeystoreError as exc:
        fail(f"--keystore: {exc}")
    typer.echo(address)


@key_app.command("address")
def key_address(keystore: Keystore) -> None:
    """Print the address of the key in KEYSTORE (no password needed)."""
    try:
        typer.echo(keystore_address(keystore))
    except (OSError, KeyError, ValueError) as exc:
        fail(f"--keystore: cannot read {keystore}: {exc}")


# --- offline signing ----------------------------------------------------------------------------


@app.command("sign")
def sign(
    prepared: Annotated[Path, typer.Argument(help="Prepared statement or bare typed-data JSON ('-': stdin)")],
    keystore: Keystore,
    password_file: PasswordFile = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout")
    ] = None,
) -> None:
    """Sign a prepared statement offline; print the body to submit ({message, signature})."""
    raw = sys.stdin.read() if str(prepared) == "-" else _read(prepared)
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        fail(f"{prepared}: not JSON ({exc.msg} at line {exc.lineno})")
    payload = document.get("typed_data", document)
    account = _account(keystore, password_file)
    signed = _sign(account, payload)
    text = json.dumps(signed, indent=2)
    if output:
        output.write_text(text + "\n")
    else:
        typer.echo(text)


@app.command("submit")
def submit(
    signed: Annotated[Path, typer.Argument(help="Signed body written by `symledger sign`")], api: ApiUrl
) -> None:
    """Submit a signed statement to the service; print the recorded result."""
    try:
        body = json.loads(_read(signed))
        primary = body.pop("statement")
    except (json.JSONDecodeError, KeyError):
        fail(f"{signed}: not a body written by `symledger sign`")
    typer.echo(json.dumps(_submit(api, primary, body), indent=2))


# --- the custody workflow -----------------------------------------------------------------------


@app.command("register")
def register(
    api: ApiUrl,
    keystore: Keystore,
    participant: Annotated[str, typer.Option(help="Address of the participant to register")],
    role: Annotated[list[Role], typer.Option(help="A role (repeat for several)")],
    legal_name: Annotated[str, typer.Option()],
    enterprise_id: Annotated[str, typer.Option(help="Enterprise or tax id")],
    park: Annotated[str, typer.Option()] = "",
    password_file: PasswordFile = None,
) -> None:
    """As a regulator: register a participant with its roles."""
    account = _account(keystore, password_file)
    terms = {
        "regulator": account.address,
        "participant": participant,
        "roles": [r.value for r in role],
        "legal_name": legal_name,
        "enterprise_id": enterprise_id,
        "park": park,
    }
    expected = {
        "regulator": account.address,
        "participant": participant,
        "legalName": legal_name,
        "enterpriseId": enterprise_id,
        "park": park,
    }
    _workflow(api, account, "/participants/registrations/prepare", terms, expected)


@app.command("set-status")
def set_status(
    api: ApiUrl,
    keystore: Keystore,
    participant: Annotated[str, typer.Argument(help="Address of the participant")],
    suspend: Annotated[bool, typer.Option("--suspend/--reinstate")],
    reason: Annotated[str, typer.Option()],
    password_file: PasswordFile = None,
) -> None:
    """As a regulator: suspend or reinstate a participant."""
    account = _account(keystore, password_file)
    terms = {"regulator": account.address, "suspended": suspend, "reason": reason}
    _workflow(
        api,
        account,
        f"/participants/{participant}/status/prepare",
        terms,
        {"regulator": account.address, "suspended": suspend, "reason": reason},
    )


@code_app.command("register")
def register_waste_code(
    api: ApiUrl,
    keystore: Keystore,
    scheme: Annotated[str, typer.Option(help="Classification scheme: VN-TT02-2022, EU-LOW, US-RCRA, ...")],
    code: Annotated[str, typer.Option(help="The code as written in the scheme, e.g. '10 02 02'")],
    unit: Annotated[str, typer.Option(help="Unit its quantities are declared in: KGM, LTR or KWH")],
    hazardous: Annotated[bool, typer.Option("--hazardous/--not-hazardous")],
    description: Annotated[str, typer.Option()] = "",
    password_file: PasswordFile = None,
) -> None:
    """As a regulator: add a waste code to the catalogue."""
    account = _account(keystore, password_file)
    terms = {
        "regulator": account.address,
        "scheme": scheme,
        "code": code,
        "unit": unit,
        "hazardous": hazardous,
        "description": description,
    }
    expected = {
        "regulator": account.address,
        "scheme": scheme,
        "code": code,
        "unit": unit,
        "hazardous": hazardous,
    }
    _workflow(api, account, "/waste-codes/prepare", terms, expected)


@permit_app.command("register")
def register_permit(
    api: ApiUrl,
    keystore: Keystore,
    number: Annotated[str, typer.Option(help="The permit's number as issued")],
    holder: Annotated[str, typer.Option(help="Holder's address")],
    kind: Annotated[PermitKind, typer.Option()],
    valid_from: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"])],
    valid_until: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"])],
    cover: Annotated[
        list[str] | None,
        typer.Option(
            help="SCHEME|CODE|OPS, e.g. 'EU-LOW|10 02 02|R5,R12' (repeat; none for an accreditation)"
        ),
    ] = None,
    capacity: Annotated[int, typer.Option(help="Yearly capacity, in the codes' unit")] = 0,
    password_file: PasswordFile = None,
) -> None:
    """As a regulator: register a permit or licence with the codes and operations it covers."""
    coverage = []
    for item in cover or []:
        parts = item.split("|")
        if len(parts) != 3:
            fail(f"--cover: expected SCHEME|CODE|OPS, got {item!r}")
        coverage.append({"scheme": parts[0], "code": parts[1], "operations": parts[2].split(",")})
    try:
        expected_coverage = [
            {
                "codeKey": statements.code_key(c["scheme"], c["code"]),
                "operations": str(operations_mask(c["operations"])),
            }
            for c in coverage
        ]
    except ValueError as exc:
        fail(f"--cover: {exc}")
    account = _account(keystore, password_file)
    utc = {"valid_from": valid_from.replace(tzinfo=UTC), "valid_until": valid_until.replace(tzinfo=UTC)}
    terms = {
        "regulator": account.address,
        "permit_number": number,
        "holder": holder,
        "kind": kind.value,
        "coverage": coverage,
        "yearly_capacity": capacity,
        **{k: v.isoformat() for k, v in utc.items()},
    }
    expected = {
        "regulator": account.address,
        "permitNumber": number,
        "holder": holder,
        "kind": str(kind.code),
        "coverage": expected_coverage,
        "yearlyCapacity": str(capacity),
    }
    _workflow(api, account, "/permits/prepare", terms, expected)


@permit_app.command("revoke")
def revoke_permit(
    api: ApiUrl,
    keystore: Keystore,
    number: Annotated[str, typer.Argument(help="The permit's number as issued")],
    reason: Annotated[str, typer.Option()],
    password_file: PasswordFile = None,
) -> None:
    """As a regulator: revoke a permit."""
    account = _account(keystore, password_file)
    permit = statements.permit_id(number)
    _workflow(
        api,
        account,
        f"/permits/{permit}/revocation/prepare",
        {"regulator": account.address, "reason": reason},
        {"regulator": account.address, "permitId": permit, "reason": reason},
    )


@lot_app.command("register")
def register_lot(
    api: ApiUrl,
    keystore: Keystore,
    scheme: Annotated[str, typer.Option(help="Classification scheme of the waste code")],
    code: Annotated[str, typer.Option(help="Waste code, e.g. '10 02 02'")],
    quantity: Annotated[int, typer.Option(help="Positive integer in --unit")],
    unit: Annotated[str, typer.Option(help="The code's unit: KGM, LTR or KWH")],
    document: Annotated[Path, typer.Option(help="The generation record; its SHA-256 is signed")],
    password_file: PasswordFile = None,
) -> None:
    """As a generator: declare a generated lot; prints it with its id."""
    account = _account(keystore, password_file)
    document_hash = "0x" + hashlib.sha256(_read_bytes(document)).hexdigest()
    terms = {
        "generator": account.address,
        "waste_scheme": scheme,
        "waste_code": code,
        "quantity": quantity,
        "unit": unit,
        "document_hash": document_hash,
    }
    expected = {
        "generator": account.address,
        "wasteScheme": scheme,
        "wasteCode": code,
        "quantity": str(quantity),
        "unit": unit,
        "documentHash": document_hash,
    }
    _workflow(api, account, "/lots/prepare", terms, expected)


@certificate_app.command("issue")
def issue_certificate(
    api: ApiUrl,
    keystore: Keystore,
    lot: Annotated[str, typer.Option(help="Id of the lot certified")],
    accreditation: Annotated[str, typer.Option(help="Number of the lab's accreditation")],
    document: Annotated[Path, typer.Option(help="The certificate of analysis; its SHA-256 is signed")],
    results: Annotated[Path, typer.Option(help="The results data; its SHA-256 is signed")],
    valid_until: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"])],
    password_file: PasswordFile = None,
) -> None:
    """As an accredited lab: certify a lot."""
    account = _account(keystore, password_file)
    accreditation_id = statements.permit_id(accreditation)
    document_hash = "0x" + hashlib.sha256(_read_bytes(document)).hexdigest()
    results_hash = "0x" + hashlib.sha256(_read_bytes(results)).hexdigest()
    until = valid_until.replace(tzinfo=UTC)
    terms = {
        "lab": account.address,
        "lot_id": lot,
        "accreditation_id": accreditation_id,
        "document_hash": document_hash,
        "results_hash": results_hash,
        "valid_until": until.isoformat(),
    }
    expected = {
        "lab": account.address,
        "lotId": lot.lower(),
        "accreditationId": accreditation_id,
        "documentHash": document_hash,
        "resultsHash": results_hash,
        "validUntil": str(int(until.timestamp())),
    }
    _workflow(api, account, "/certificates/prepare", terms, expected)


@certificate_app.command("revoke")
def revoke_certificate(
    api: ApiUrl,
    keystore: Keystore,
    certificate: Annotated[str, typer.Argument(help="The certificate's id")],
    reason: Annotated[str, typer.Option()],
    password_file: PasswordFile = None,
) -> None:
    """As the issuing lab: revoke a certificate."""
    account = _account(keystore, password_file)
    _workflow(
        api,
        account,
        f"/certificates/{certificate}/revocation/prepare",
        {"lab": account.address, "reason": reason},
        {"lab": account.address, "certificateId": certificate.lower(), "reason": reason},
    )


@app.command("dispatch")
def dispatch(
    api: ApiUrl,
    keystore: Keystore,
    receiver: Annotated[str, typer.Option(help="Receiver's address")],
    lot: Annotated[str, typer.Option(help="Id of a lot you hold (0x + 64 hex digits)")],
    quantity: Annotated[int, typer.Option(help="Positive integer in the lot's unit")],
    operation: Annotated[str, typer.Option(help="Recovery or disposal operation at the receiver, e.g. R5")],
    permit: Annotated[str, typer.Option(help="Number of the receiver's permit that covers it")],
    document: Annotated[Path, typer.Option(help="The transfer document; its SHA-256 is signed")],
    certificate: Annotated[
        list[str] | None, typer.Option(help="Id of a certificate of the lot (repeat)")
    ] = None,
    transporter: Annotated[
        list[str] | None,
        typer.Option(
            help="A transporter's address, in leg order (repeat); ADDRESS=LICENCE-NUMBER for hazardous waste"
        ),
    ] = None,
    password_file: PasswordFile = None,
) -> None:
    """As a shipper: dispatch part of a lot to a receiver whose permit covers it."""
    account = _account(keystore, password_file)
    document_hash = "0x" + hashlib.sha256(_read_bytes(document)).hexdigest()
    permit_id = statements.permit_id(permit)
    certificates = [c.lower() for c in certificate or []]
    carriers = [t.partition("=") for t in transporter or []]
    transporters = [address for address, _, _ in carriers]
    licences = [statements.permit_id(number) if number else "0x" + "00" * 32 for _, _, number in carriers]
    terms = {
        "shipper": account.address,
        "receiver": receiver,
        "lot_id": lot,
        "quantity": quantity,
        "operation": operation,
        "permit_id": permit_id,
        "certificates": certificates,
        "transporters": transporters,
        "licences": licences,
        "document_hash": document_hash,
    }
    expected = {
        "shipper": account.address,
        "receiver": receiver,
        "lotId": lot.lower(),
        "quantity": str(quantity),
        "operation": operation,
        "permitId": permit_id,
        "certificates": certificates,
        "transporters": transporters,
        "licences": licences,
        "documentHash": document_hash,
    }
    _workflow(api, account, "/transfers/dispatches/prepare", terms, expected)


@app.command("pick-up")
def pick_up(
    api: ApiUrl,
    keystore: Keystore,
    transfer_id: Annotated[str, typer.Argument(help="The transfer's id")],
    leg: Annotated[int, typer.Option(help="Your leg, from 0")] = 0,
    password_file: PasswordFile = None,
) -> None:
    """As the transporter of a leg: take custody of a transfer."""
    _handover(api, keystore, password_file, transfer_id, leg, "pick-up")


@app.command("deliver")
def deliver(
    api: ApiUrl,
    keystore: Keystore,
    transfer_id: Annotated[str, typer.Argument(help="The transfer's id")],
    leg: Annotated[int, typer.Option(help="Your leg, from 0")] = 0,
    password_file: PasswordFile = None,
) -> None:
    """As the transporter of a leg: hand the transfer on (to the next transporter or the receiver)."""
    _handover(api, keystore, password_file, transfer_id, leg, "delivery")


def _handover(
    api: str, keystore: Path, password_file: Path | None, transfer_id: str, leg: int, kind: str
) -> None:
    account = _account(keystore, password_file)
    expected = {"transferId": transfer_id.lower(), "transporter": account.address, "leg": str(leg)}
    _workflow(api, account, f"/transfers/{transfer_id}/legs/{leg}/{kind}/prepare", {}, expected)


@app.command("receive")
def receive(
    api: ApiUrl,
    keystore: Keystore,
    transfer_id: Annotated[str, typer.Argument(help="The transfer's id")],
    quantity: Annotated[int, typer.Option(help="The quantity measured on arrival, in the transfer's unit")],
    password_file: PasswordFile = None,
) -> None:
    """As the named receiver: confirm receipt of a transfer with the measured quantity."""
    account = _account(keystore, password_file)
    _workflow(
        api,
        account,
        f"/transfers/{transfer_id}/receipt/prepare",
        {"received_quantity": quantity},
        {"transferId": transfer_id.lower(), "receiver": account.address, "receivedQuantity": str(quantity)},
    )


@app.command("show")
def show(
    api: ApiUrl,
    what: Annotated[str, typer.Argument(help="transfer, lot, participant or permit")],
    ident: Annotated[str, typer.Argument(help="Its id, address or (for a permit) number")],
) -> None:
    """Print a transfer, lot, participant or permit with its on-chain evidence."""
    paths = {
        "transfer": "/transfers/",
        "participant": "/participants/",
        "lot": "/lots/",
        "permit": "/permits/",
        "certificate": "/certificates/",
    }
    if what not in paths:
        fail(f"what: expected one of {', '.join(paths)}, got {what!r}")
    if what == "permit" and not ident.startswith("0x"):
        ident = statements.permit_id(ident)
    typer.echo(json.dumps(_request(api, "GET", paths[what] + ident), indent=2))


# --- operator commands --------------------------------------------------------------------------


@app.command("deploy")
def deploy(
    regulator: Annotated[str, typer.Option(help="Founding regulator's address")],
    regulator_name: Annotated[str, typer.Option(help="Founding regulator's legal name")],
) -> None:
    """Deploy the contracts with the relayer key and write the deployment record (settings: SYMLEDGER_*)."""
    from ledger_service.chain.gateway import ChainGateway
    from ledger_service.settings import Settings

    settings = Settings()
    if settings.resolved_deployment_file.exists():
        fail(f"{settings.resolved_deployment_file} exists: the contracts are deployed already")
    relayer = load_account(
        settings.resolved_relayer_keystore, settings.resolved_relayer_password_file.read_text().rstrip("\n")
    )
    gateway = ChainGateway(
        settings.rpc_url,
        settings.artifacts_dir,
        relayer=relayer,
        gas_price_wei=settings.gas_price_wei,
        poa_chain=settings.poa_chain,
    )
    deployment = gateway.deploy(regulator, regulator_name)
    deployment.save(settings.resolved_deployment_file)
    typer.echo(f"ledger {deployment.ledger.address} on chain {deployment.chain_id}")


@app.command("serve")
def serve() -> None:
    """Serve the API against an existing node and deployment (settings: SYMLEDGER_*)."""
    import uvicorn

    from ledger_service.main import create_app
    from ledger_service.settings import Settings

    settings = Settings()
    _log_to_console()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


@app.command("up")
def up(
    data_dir: Annotated[Path, typer.Option(help="Chain state, database, keys, deployment record")] = Path(
        "data"
    ),
    port: Annotated[int, typer.Option(help="API port")] = 8000,
    rpc_port: Annotated[int, typer.Option(help="anvil's port")] = 8545,
) -> None:
    """Run the local profile: anvil with state on disk, contracts deployed once, the API on 127.0.0.1."""
    from ledger_service import devstack
    from ledger_service.chain.gateway import ContractRejection, NodeUnavailable
    from ledger_service.settings import Settings

    settings = Settings(data_dir=data_dir, port=port, host="127.0.0.1")
    _log_to_console()
    try:
        devstack.run(settings, rpc_port, lambda line: typer.echo(f"==> {line}"))
    except (RuntimeError, OSError, NodeUnavailable, ContractRejection) as exc:
        fail(str(exc))


# --- helpers ------------------------------------------------------------------------------------


def _read(path: Path) -> str:
    return _read_bytes(path).decode()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")


def _sign(account: Any, payload: dict[str, Any]) -> dict[str, Any]:
    primary = payload.get("primaryType")
    statement = statements.STATEMENTS.get(primary or "")
    if statement is None:
        fail(f"primaryType {primary!r} is not a Symbiosis Ledger statement")
    signer = payload["message"].get(statement.signer_field, "")
    if signer.lower() != account.address.lower():
        fail(f"this statement must be signed by {statement.signer_field} {signer}, not by {account.address}")
    signature = Account.sign_typed_data(account.key, full_message=payload).signature
    return {"statement": primary, "message": payload["message"], "signature": "0x" + bytes(signature).hex()}


def _workflow(
    api: str, account: Any, prepare_path: str, terms: dict[str, Any], expected: dict[str, Any]
) -> None:
    prepared = _request(api, "POST", prepare_path, terms)
    payload = prepared["typed_data"]
    # Sign only what the party asked for: a service that altered the statement is caught here.
    message = payload["message"]
    for field, value in expected.items():
        if str(message.get(field)).lower() != str(value).lower():  # lists compare by their text too
            fail(f"the service prepared {field}={message.get(field)!r}, not {value!r}; not signing")
    if "0x" + statements.digest(payload).hex() != prepared["digest"]:
        fail("the service's digest does not match the typed data; not signing")
    body = _sign(account, payload)
    typer.echo(json.dumps(_submit(api, body.pop("statement"), body), indent=2))


def _submit(api: str, primary: str, body: dict[str, Any]) -> Any:
    if primary not in SUBMIT_PATHS:
        fail(f"statement {primary!r} is not a Symbiosis Ledger statement")
    return _request(api, "POST", SUBMIT_PATHS[primary].format(**body["message"]), body)


def _request(api: str, method: str, path: str, body: Any = None) -> Any:
    try:
        response = httpx.request(method, api.rstrip("/") + path, json=body, timeout=60)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the service at {api}: {exc}")
    if response.status_code >= 400:
        try:
            detail = response.json()["detail"]
            first = detail[0] if isinstance(detail, list) else {"msg": str(detail), "loc": []}
            where = ".".join(str(p) for p in first.get("loc", []) if p not in ("body", "message"))
            fail(f"{where + ': ' if where else ''}{first['msg']} (HTTP {response.status_code})")
        except (ValueError, KeyError, IndexError):
            fail(f"HTTP {response.status_code}: {response.text[:200]}")
    if response.status_code == 202:
        typer.echo(
            "accepted; the chain has not recorded it yet (the service will keep relaying it)", err=True
        )
    return response.json()


# --- the read model, rebuilt from the chain alone ------------------------------------------------------


@app.command("reindex")
def reindex() -> None:
    """Rebuild the read model from the chain alone, then follow the chain to its head (settings: SYMLEDGER_*).

    Every derived table is emptied and indexed again; the outbox of signed statements, sign-in tokens and
    the other kept tables are left as they are. Run it with the service stopped: it refuses to start while
    a service (or another reindex) indexes the same database, and the service refuses to start meanwhile.
    """
    from ledger_service.chain.gateway import ChainGateway, NodeUnavailable
    from ledger_service.db.lock import IndexerBusy, IndexerLock
    from ledger_service.db.session import make_engine, make_sessionmaker, upgrade_schema
    from ledger_service.deployment import Deployment
    from ledger_service.indexer import Indexer
    from ledger_service.settings import Settings

    settings = Settings()
    _log_to_console()
    deployment_file = settings.resolved_deployment_file
    if not deployment_file.exists():
        fail(f"no deployment record at {deployment_file}: it names the contracts to index")
    deployment = Deployment.load(deployment_file)
    engine = make_engine(settings.resolved_database_url)
    lock = IndexerLock(engine)
    try:
        lock.acquire()
        upgrade_schema(engine)
        # Reads only: no relayer key is needed to read the chain.
        gateway = ChainGateway(
            settings.rpc_url,
            settings.artifacts_dir,
            relayer=None,
            poa_chain=settings.poa_chain,
            timeout=settings.rpc_timeout_seconds,
        )
        gateway.bind(deployment)
        indexer = Indexer(
            gateway, make_sessionmaker(engine), deployment.start_block, confirmations=settings.confirmations
        )
        block = indexer.rebuild()
    except (IndexerBusy, NodeUnavailable, RuntimeError) as exc:
        fail(str(exc))
    finally:
        lock.release()
        engine.dispose()
    typer.echo(f"read model rebuilt from chain {deployment.chain_id} up to block {block}")


if __name__ == "__main__":
    app()

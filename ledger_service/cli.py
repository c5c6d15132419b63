"""`symledger`: the party's tool (keys, offline signing, the custody workflow over the API) and the
operator's (deploy, serve, the local profile).

A party's key never leaves this process: the CLI asks the service to prepare a statement, checks that
the typed data says what the party asked for, signs it locally, and submits only the signature.
"""

import hashlib
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote, urlsplit

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
    signed: Annotated[Path, typer.Argument(help="Signed body written by `symledger sign`")],
    api: ApiUrl,
    keystore: Keystore,
    password_file: PasswordFile = None,
) -> None:
    """Submit a signed statement to the service (signing in with KEYSTORE, which may be another party's
    than the statement's signer: the signature is what the ledger checks); print the recorded result."""
    try:
        body = json.loads(_read(signed))
        primary = body.pop("statement")
    except (json.JSONDecodeError, KeyError):
        fail(f"{signed}: not a body written by `symledger sign`")
    typer.echo(json.dumps(_submit(api, primary, body, _account(keystore, password_file)), indent=2))


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
    """As the issuing lab, or as a regulator: revoke a certificate."""
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
    terms, expected = _dispatch_terms(
        account, receiver, lot, quantity, operation, permit, document, certificate or [], transporter or []
    )
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
    keystore: Keystore,
    password_file: PasswordFile = None,
) -> None:
    """Print a transfer, lot, participant or permit with its on-chain evidence (as far as the party signed
    in with KEYSTORE may see it)."""
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
    typer.echo(
        json.dumps(
            _request(api, "GET", paths[what] + ident, account=_account(keystore, password_file)), indent=2
        )
    )


@app.command("list")
def list_records(
    api: ApiUrl,
    what: Annotated[str, typer.Argument(help="transfers or lots")],
    keystore: Keystore,
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", "-f", help="NAME=VALUE, repeatable; a repeated status matches any of them"),
    ] = None,
    offset: Annotated[int, typer.Option(help="Items to skip")] = 0,
    limit: Annotated[int, typer.Option(help="Items per page (at most 500)")] = 50,
    password_file: PasswordFile = None,
) -> None:
    """Print a page of the transfers or lots the party signed in with KEYSTORE may see that match every
    filter. Transfers: participant, shipper, receiver, park, waste_scheme and waste_code, hazardous, status,
    dispatched_from, dispatched_until. Lots: holder, generator, participant, park, waste_scheme and
    waste_code, hazardous, origin, kind, open, created_from, created_until."""
    if what not in ("transfers", "lots"):
        fail(f"what: expected transfers or lots, got {what!r}")
    params: list[tuple[str, str | int]] = [("offset", offset), ("limit", limit)]
    for item in filters or []:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            fail(f"--filter: expected NAME=VALUE, got {item!r}")
        params.append((name.strip(), value))
    account = _account(keystore, password_file)
    typer.echo(json.dumps(_request(api, "GET", "/" + what, account=account, params=params), indent=2))


# --- operator commands --------------------------------------------------------------------------


@app.command("deploy")
def deploy(
    regulator: Annotated[str, typer.Option(help="Founding regulator's address")],
    regulator_name: Annotated[str, typer.Option(help="Founding regulator's legal name")],
) -> None:
    """Deploy the contracts with the relayer key and write the deployment record (settings: SYMLEDGER_*)."""
    from ledger_service.settings import Settings

    settings = Settings()
    if settings.resolved_deployment_file.exists():
        fail(f"{settings.resolved_deployment_file} exists: the contracts are deployed already")
    gateway = _relayer_gateway(settings)
    deployment = gateway.deploy(regulator, regulator_name)
    deployment.save(settings.resolved_deployment_file)
    typer.echo(f"ledger {deployment.ledger.address} on chain {deployment.chain_id}")


def _relayer_gateway(settings: Any) -> Any:
    """The chain gateway signing with the relayer key the settings name (for deployments)."""
    from ledger_service.chain.gateway import ChainGateway

    relayer = load_account(
        settings.resolved_relayer_keystore, settings.resolved_relayer_password_file.read_text().rstrip("\n")
    )
    return ChainGateway(
        settings.rpc_url,
        settings.artifacts_dir,
        relayer=relayer,
        gas_price_wei=settings.gas_price_wei,
        poa_chain=settings.poa_chain,
    )


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
    prepared = _request(api, "POST", prepare_path, terms, account=account)
    payload = prepared["typed_data"]
    # Sign only what the party asked for: a service that altered the statement is caught here.
    message = payload["message"]
    for field, value in expected.items():
        if str(message.get(field)).lower() != str(value).lower():  # lists compare by their text too
            fail(f"the service prepared {field}={message.get(field)!r}, not {value!r}; not signing")
    if "0x" + statements.digest(payload).hex() != prepared["digest"]:
        fail("the service's digest does not match the typed data; not signing")
    body = _sign(account, payload)
    typer.echo(json.dumps(_submit(api, body.pop("statement"), body, account), indent=2))


def _submit(api: str, primary: str, body: dict[str, Any], account: Any) -> Any:
    if primary not in SUBMIT_PATHS:
        fail(f"statement {primary!r} is not a Symbiosis Ledger statement")
    return _request(api, "POST", SUBMIT_PATHS[primary].format(**body["message"]), body, account=account)


_access_tokens: dict[tuple[str, str], str] = {}


def _signed_in(api: str, account: Any) -> dict[str, str]:
    """The Authorization header of `account`, signed in at `api` with its own key (once per command)."""
    key = (api, account.address)
    if key not in _access_tokens:
        message, signature = _signed_challenge(api, account)
        token = _request(api, "POST", "/auth/token", {"message": message, "signature": signature})
        _access_tokens[key] = token["access_token"]
    return {"Authorization": f"Bearer {_access_tokens[key]}"}


def _signed_challenge(api: str, account: Any) -> tuple[str, str]:
    """A sign-in challenge of the service at `api` for `account`, and the account's signature of it.

    The message is checked before it is signed: it must name this service's address (domain) and this
    account, or a service could have the party sign in elsewhere in its name (phishing).
    """
    from eth_account.messages import encode_defunct
    from siwe import SiweMessage

    message = _request(api, "POST", "/auth/challenge", {"address": account.address})["message"]
    try:
        parsed = SiweMessage.from_message(message)
    except ValueError:
        fail("the service's challenge is not an EIP-4361 sign-in message; not signing")
    if parsed.address.lower() != account.address.lower():
        fail(f"the challenge is for {parsed.address}, not {account.address}; not signing")
    if parsed.domain != urlsplit(api).netloc:
        fail(f"the challenge is for {parsed.domain}, not {urlsplit(api).netloc}; not signing")
    signature = Account.sign_message(encode_defunct(text=message), account.key).signature
    return message, "0x" + bytes(signature).hex()


def _request(
    api: str, method: str, path: str, body: Any = None, *, account: Any = None, params: Any = None
) -> Any:
    """Calls the API, signed in as `account` when given (every endpoint but sign-in and /health needs it)."""
    headers = _signed_in(api, account) if account is not None else None
    try:
        response = httpx.request(
            method, api.rstrip("/") + path, json=body, params=params, headers=headers, timeout=60
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach the service at {api}: {exc}")
    if response.status_code >= 400:
        try:
            detail = response.json()["detail"]
            first = detail[0] if isinstance(detail, list) else {"msg": str(detail), "loc": []}
            where = ".".join(str(p) for p in first.get("loc", []) if p not in ("body", "message", "query"))
            fail(f"{where + ': ' if where else ''}{first['msg']} (HTTP {response.status_code})")
        except (ValueError, KeyError, IndexError):
            fail(f"HTTP {response.status_code}: {response.text[:200]}")
    if response.status_code == 202:
        typer.echo(
            "accepted; the chain has not recorded it yet (the service will keep relaying it)", err=True
        )
    return response.json()


# --- documents ----------------------------------------------------------------------------------
# Uploaded and read signed in with the party's key, like every other call; the CLI checks every hash itself.

document_app = typer.Typer(
    help="Documents cited by SHA-256: kept encrypted by the service, read by the parties.",
    no_args_is_help=True,
)
app.add_typer(document_app, name="document")


@document_app.command("upload")
def document_upload(
    file: Annotated[Path, typer.Argument(help="A PDF, PNG or JPEG file, or a JSON document")],
    api: ApiUrl,
    keystore: Keystore,
    password_file: PasswordFile = None,
) -> None:
    """Upload a document; print the SHA-256 to cite in statements (e.g. a dispatch's document hash)."""
    content = _read_bytes(file)
    sha256 = "0x" + hashlib.sha256(content).hexdigest()
    account = _account(keystore, password_file)
    response = _document_call(api, account, "POST", "/documents", files={"file": (file.name, content)})
    stored = response.json()
    if stored.get("sha256") != sha256:
        fail(f"the service stored the file as {stored.get('sha256')}, not as its SHA-256 {sha256}")
    typer.echo(sha256)


@document_app.command("download")
def document_download(
    sha256: Annotated[str, typer.Argument(help="The document's SHA-256 (0x + 64 hex digits)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the document")],
    api: ApiUrl,
    keystore: Keystore,
    password_file: PasswordFile = None,
) -> None:
    """Download a document you are entitled to read; written only if its SHA-256 matches."""
    if not re.fullmatch(r"0x[0-9a-fA-F]{64}", sha256):
        fail(f"sha256: expected 0x followed by 64 hexadecimal digits, got {sha256!r}")
    sha256 = sha256.lower()
    account = _account(keystore, password_file)
    response = _document_call(api, account, "GET", f"/documents/{sha256}")
    actual = "0x" + hashlib.sha256(response.content).hexdigest()
    if actual != sha256:
        fail(f"the service sent content whose SHA-256 is {actual}, not {sha256}; nothing written")
    try:
        out.write_bytes(response.content)
    except OSError as exc:
        fail(f"--out: {exc.strerror}: {out}")
    typer.echo(f"{out}: {len(response.content)} bytes, {response.headers.get('content-type')}")


@document_app.command("audit")
def document_audit(
    api: ApiUrl,
    keystore: Keystore,
    sha256: Annotated[str | None, typer.Option("--document", help="Only entries about this document")] = None,
    party: Annotated[str | None, typer.Option(help="Only entries of this party")] = None,
    action: Annotated[str | None, typer.Option(help="upload, download, denied or integrity_failure")] = None,
    offset: Annotated[int, typer.Option()] = 0,
    limit: Annotated[int, typer.Option()] = 50,
    password_file: PasswordFile = None,
) -> None:
    """As a regulator: print the document audit log (who read or uploaded what, when)."""
    account = _account(keystore, password_file)
    params: dict[str, Any] = {"offset": offset, "limit": limit}
    params.update({k: v for k, v in {"sha256": sha256, "party": party, "action": action}.items() if v})
    response = _document_call(api, account, "GET", "/documents/audit", params=params)
    typer.echo(json.dumps(response.json(), indent=2))


@document_app.command("rotate-master-key")
def document_rotate_master_key(
    new_key_file: Annotated[Path, typer.Option(help="The new 32-byte master key (made if missing)")],
) -> None:
    """As the operator, with the service stopped: rewrap every document's data key under a new master
    key (settings: SYMLEDGER_*); then set SYMLEDGER_MASTER_KEY_FILE to it and destroy the old key.
    Interrupted, it can be run again."""
    from ledger_service.documents.crypto import MasterKey
    from ledger_service.documents.store import DocumentStore
    from ledger_service.settings import Settings

    settings = Settings()
    current = settings.resolved_master_key_file
    if not current.exists():
        fail(f"no master key at {current}: nothing is encrypted under it")
    if new_key_file.resolve() == current.resolve():
        fail("--new-key-file: that is the current master key")
    try:
        new = MasterKey.load_or_create(new_key_file)
        rotation = DocumentStore.open(settings).rotate(new)
    except (OSError, ValueError) as exc:
        fail(str(exc))
    typer.echo(f"{rotation.rewrapped} documents rewrapped, {rotation.already} already under the new key")
    if rotation.failed:
        fail(
            f"{len(rotation.failed)} blobs could not be rewrapped; keep {current} until they are resolved: "
            + "; ".join(rotation.failed)
        )
    typer.echo(f"now set SYMLEDGER_MASTER_KEY_FILE={new_key_file} and destroy {current}")


def _document_call(api: str, account: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = _signed_in(api, account)
    try:
        response = httpx.request(method, api.rstrip("/") + path, headers=headers, timeout=120, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the service at {api}: {exc}")
    if response.status_code >= 400:
        _refused(response, ("body", "path", "header"))
    return response


def _refused(response: httpx.Response, unnamed: tuple[str, ...]) -> NoReturn:
    """Fails with the service's first error: the field it names (but for the parts in `unnamed`), why."""
    try:
        first = response.json()["detail"][0]
        where = ".".join(str(p) for p in first.get("loc", []) if p not in unnamed)
        message = f"{where + ': ' if where else ''}{first['msg']} (HTTP {response.status_code})"
    except (ValueError, KeyError, IndexError, TypeError):
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    fail(message)


# --- rejections, corrections and batch dispatch (svc-workflows) ----------------------------------------

SUBMIT_PATHS.update(
    {"Rejection": "/transfers/{transferId}/rejection", "Correction": "/transfers/{transferId}/corrections"}
)
correction_app = typer.Typer(
    help="Agreed corrections of a transfer: proposed by one party, countersigned by the other.",
    no_args_is_help=True,
)
app.add_typer(correction_app, name="correction")
ZERO_HASH = "0x" + "00" * 32


@app.command("reject")
def reject(
    api: ApiUrl,
    keystore: Keystore,
    transfer_id: Annotated[str, typer.Argument(help="The transfer's id")],
    rejected: Annotated[int, typer.Option(help="Quantity refused, in the transfer's unit")],
    reason: Annotated[str, typer.Option(help="Why, as the shipper will read it")],
    accepted: Annotated[int, typer.Option(help="Quantity kept (0: a full rejection)")] = 0,
    return_to: Annotated[
        str | None, typer.Option(help="Where the refused part goes (default: back to the shipper)")
    ] = None,
    return_permit: Annotated[
        str | None, typer.Option(help="Number of RETURN_TO's permit (not for the shipper)")
    ] = None,
    return_operation: Annotated[
        str | None, typer.Option(help="Operation at RETURN_TO, e.g. R4 (not for the shipper)")
    ] = None,
    password_file: PasswordFile = None,
) -> None:
    """As the named receiver: refuse all or part of a transfer instead of receiving it."""
    account = _account(keystore, password_file)
    permit_id = statements.permit_id(return_permit) if return_permit else None
    terms: dict[str, Any] = {"accepted_quantity": accepted, "rejected_quantity": rejected, "reason": reason}
    expected = {
        "transferId": transfer_id.lower(),
        "receiver": account.address,
        "acceptedQuantity": str(accepted),
        "rejectedQuantity": str(rejected),
        "reason": reason.strip(),
        "returnPermitId": permit_id or ZERO_HASH,
        "returnOperation": return_operation or "",
    }
    if return_to:
        terms["return_to"] = expected["returnTo"] = return_to
    if permit_id:
        terms["return_permit_id"] = permit_id
    if return_operation:
        terms["return_operation"] = return_operation
    _workflow(api, account, f"/transfers/{transfer_id}/rejection/prepare", terms, expected)


@correction_app.command("propose")
def propose_correction(
    api: ApiUrl,
    keystore: Keystore,
    transfer_id: Annotated[str, typer.Argument(help="The transfer's id")],
    reason: Annotated[str, typer.Option(help="Why, as the other party will read it")],
    shipped_delta: Annotated[int, typer.Option(help="Change to the quantity shipped (signed)")] = 0,
    received_delta: Annotated[int, typer.Option(help="Change to the quantity received (signed)")] = 0,
    document: Annotated[
        Path | None, typer.Option(help="The corrected transfer document; its SHA-256 is signed")
    ] = None,
    password_file: PasswordFile = None,
) -> None:
    """As the shipper or receiver of a transfer: propose a correction; print it with its id, which the
    other party countersigns."""
    account = _account(keystore, password_file)
    document_hash = "0x" + hashlib.sha256(_read_bytes(document)).hexdigest() if document else None
    terms: dict[str, Any] = {
        "proposer": account.address,
        "shipped_delta": shipped_delta,
        "received_delta": received_delta,
        "reason": reason,
    }
    if document_hash:
        terms["document_hash"] = document_hash
    expected = {
        "transferId": transfer_id.lower(),
        "proposer": account.address,
        "shippedDelta": str(shipped_delta),
        "receivedDelta": str(received_delta),
        "documentHash": document_hash or ZERO_HASH,
        "reason": reason.strip(),
    }
    _workflow(api, account, f"/transfers/{transfer_id}/corrections/prepare", terms, expected)


@correction_app.command("countersign")
def countersign_correction(
    api: ApiUrl,
    keystore: Keystore,
    transfer_id: Annotated[str, typer.Argument(help="The transfer's id")],
    correction_id: Annotated[str, typer.Argument(help="The proposed correction's id")],
    password_file: PasswordFile = None,
) -> None:
    """As the other party of a transfer: sign a proposed correction unchanged, which puts it into effect."""
    account = _account(keystore, password_file)
    correction_id = correction_id.lower()
    base = f"/transfers/{transfer_id}/corrections"
    listed = [c for c in _request(api, "GET", base, account=account) if c["id"] == correction_id]
    if not listed:
        fail(f"no correction {correction_id} of transfer {transfer_id} is recorded")
    (proposal,) = listed
    if proposal["counterparty"].lower() != account.address.lower():
        fail(f"correction {correction_id} awaits {proposal['counterparty']}'s countersignature, not yours")
    prepared = _request(api, "POST", f"{base}/{correction_id}/countersignature/prepare", {}, account=account)
    payload, message = prepared["typed_data"], prepared["typed_data"]["message"]
    # The statement signed must be the one proposed (its digest is the correction id) and say what is listed.
    if payload.get("primaryType") != "Correction" or "0x" + statements.digest(payload).hex() != correction_id:
        fail(f"the service prepared another statement than correction {correction_id}; not signing")
    for field, listed_value in (
        ("shippedDelta", proposal["shipped_delta"]),
        ("receivedDelta", proposal["received_delta"]),
        ("proposer", proposal["proposer"]),
    ):
        if str(message[field]).lower() != str(listed_value).lower():
            fail(f"the proposal says {field}={message[field]}, the service lists {listed_value}; not signing")
    typer.echo(
        f"countersigning: shipped {int(message['shippedDelta']):+d}, received {int(message['receivedDelta']):+d}"
        f" ({message['reason']})",
        err=True,
    )
    signature = Account.sign_typed_data(account.key, full_message=payload).signature
    body = {"message": message, "signature": "0x" + bytes(signature).hex()}
    typer.echo(
        json.dumps(
            _request(api, "POST", f"{base}/{correction_id}/countersignature", body, account=account), indent=2
        )
    )


# --- regulator actions ------------------------------------------------------------------------------

SUBMIT_PATHS["CorrectionRequest"] = "/transfers/{transferId}/correction-requests"


@correction_app.command("request")
def request_correction(
    api: ApiUrl,
    keystore: Keystore,
    transfer_id: Annotated[str, typer.Argument(help="The transfer's id")],
    reason: Annotated[str, typer.Option(help="What is to be corrected, as the parties will read it")],
    report: Annotated[
        Path | None, typer.Option(help="The report that found the error; its SHA-256 is signed")
    ] = None,
    password_file: PasswordFile = None,
) -> None:
    """As a regulator: ask the parties of a transfer to correct its record (they are notified, and answer
    with a correction of their own)."""
    account = _account(keystore, password_file)
    report_hash = "0x" + hashlib.sha256(_read_bytes(report)).hexdigest() if report else None
    terms: dict[str, Any] = {"regulator": account.address, "reason": reason}
    if report_hash:
        terms["report_hash"] = report_hash
    expected = {
        "regulator": account.address,
        "transferId": transfer_id.lower(),
        "reason": reason.strip(),
        "reportHash": report_hash or ZERO_HASH,
    }
    _workflow(api, account, f"/transfers/{transfer_id}/correction-requests/prepare", terms, expected)


# --- end regulator actions --------------------------------------------------------------------------


@app.command("dispatch-batch")
def dispatch_batch(
    api: ApiUrl,
    keystore: Keystore,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="One JSON file per dispatch, with the options of `dispatch`: receiver, lot, quantity, "
            "operation, permit (number), document (path, relative to the file), optional certificates "
            "and transporters (lists)"
        ),
    ],
    password_file: PasswordFile = None,
) -> None:
    """As a shipper: sign each dispatch in FILES and record them all in one transaction; print the report.
    Exits 1 if the ledger refused any (the others are recorded all the same)."""
    account = _account(keystore, password_file)
    bodies = []
    for path in files:
        terms, expected = _batch_dispatch_terms(account, path)
        prepared = _request(api, "POST", "/transfers/dispatches/prepare", terms, account=account)
        _check_prepared(prepared, expected)
        body = _sign(account, prepared["typed_data"])
        body.pop("statement")
        bodies.append(body)
    report = _request(api, "POST", "/transfers/batches", {"items": bodies}, account=account)
    typer.echo(json.dumps(report, indent=2))
    for item in report["items"]:
        if item["outcome"] == "refused":
            typer.echo(f"error: {files[item['index']]}: {item['error']['msg']}", err=True)
    if report["refused"]:
        raise typer.Exit(1)


def _batch_dispatch_terms(account: Any, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        spec = json.loads(_read(path))
        document = path.parent / spec["document"]
        receiver, lot, quantity = spec["receiver"], spec["lot"], int(spec["quantity"])
        operation, permit = spec["operation"], spec["permit"]
    except json.JSONDecodeError as exc:
        fail(f"{path}: not JSON ({exc.msg} at line {exc.lineno})")
    except (KeyError, TypeError, ValueError) as exc:
        fail(f"{path}: a dispatch needs receiver, lot, quantity, operation, permit and document ({exc})")
    return _dispatch_terms(
        account,
        receiver,
        lot,
        quantity,
        operation,
        permit,
        document,
        spec.get("certificates", []),
        spec.get("transporters", []),
    )


def _dispatch_terms(
    account: Any,
    receiver: str,
    lot: str,
    quantity: int,
    operation: str,
    permit: str,
    document: Path,
    certificates: list[str],
    transporters: list[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dispatch's terms for the prepare endpoint, and the message fields the prepared statement must carry
    (checked before signing). A transporter is ADDRESS or ADDRESS=LICENCE-NUMBER."""
    document_hash = "0x" + hashlib.sha256(_read_bytes(document)).hexdigest()
    permit_id = statements.permit_id(permit)
    cited = [c.lower() for c in certificates]
    carriers = [t.partition("=") for t in transporters]
    addresses = [address for address, _, _ in carriers]
    licences = [statements.permit_id(number) if number else ZERO_HASH for _, _, number in carriers]
    terms = {
        "shipper": account.address,
        "receiver": receiver,
        "lot_id": lot,
        "quantity": quantity,
        "operation": operation,
        "permit_id": permit_id,
        "certificates": cited,
        "transporters": addresses,
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
        "certificates": cited,
        "transporters": addresses,
        "licences": licences,
        "documentHash": document_hash,
    }
    return terms, expected


def _check_prepared(prepared: dict[str, Any], expected: dict[str, Any]) -> None:
    # As `_workflow` does: sign only what the party asked for.
    message = prepared["typed_data"]["message"]
    for field, value in expected.items():
        if str(message.get(field)).lower() != str(value).lower():
            fail(f"the service prepared {field}={message.get(field)!r}, not {value!r}; not signing")
    if "0x" + statements.digest(prepared["typed_data"]).hex() != prepared["digest"]:
        fail("the service's digest does not match the typed data; not signing")


# --- processing and metered flows ------------------------------------------------------------------

import csv  # noqa: E402

flow_app = typer.Typer(
    help="Metered flows: registered by supplier and offtaker, periods signed by both.", no_args_is_help=True
)
app.add_typer(flow_app, name="flow")
SUBMIT_PATHS.update({"RecordProcessing": "/processings", "DeclareUse": "/lots/{lotId}/uses"})
CounterpartyKeystore = Annotated[
    Path | None, typer.Option(help="The other party's keystore, where one person holds both keys")
]
CounterpartyPassword = Annotated[
    Path | None, typer.Option(help="File holding the other party's keystore password")
]


@app.command("process")
def process(
    api: ApiUrl,
    keystore: Keystore,
    record: Annotated[
        Path,
        typer.Argument(
            help="JSON processing record: inputs, external_inputs, outputs, loss_grams, loss_description, "
            "document_hash (as POST /processings/prepare takes them; processor defaults to your key)"
        ),
    ],
    password_file: PasswordFile = None,
) -> None:
    """As a processor: record a processing of lots you hold into product, by-product and residue lots."""
    try:
        terms = json.loads(_read(record))
    except json.JSONDecodeError as exc:
        fail(f"{record}: not JSON ({exc.msg} at line {exc.lineno})")
    if not isinstance(terms, dict):
        fail(f"{record}: expected a JSON object")
    account = _account(keystore, password_file)
    terms.setdefault("processor", account.address)
    prepared = _request(api, "POST", "/processings/prepare", terms, account=account)
    message = prepared["typed_data"]["message"]
    # What the processor asked for, input by input and output by output, before it signs.
    asked = (
        [(i["lot_id"].lower(), str(i["quantity"])) for i in terms.get("inputs", [])],
        [(o["kind"], str(o["quantity"])) for o in terms.get("outputs", [])],
        str(terms.get("loss_grams", 0)),
    )
    kinds = statements.OUTPUT_KINDS
    got = (
        [(i["lotId"], i["quantity"]) for i in message["inputs"]],
        [(kinds[int(o["kind"])], o["quantity"]) for o in message["outputs"]],
        message["lossGrams"],
    )
    if asked != got:
        fail("the service prepared other inputs, outputs or losses than the record's; not signing")
    _sign_and_submit(api, account, prepared)


@app.command("use")
def use(
    api: ApiUrl,
    keystore: Keystore,
    lot: Annotated[str, typer.Argument(help="Id of a product or by-product lot you hold")],
    quantity: Annotated[int, typer.Option(help="Positive integer in the lot's unit")],
    use_: Annotated[str, typer.Option("--use", help="The final use, e.g. 'road base, National Road 10'")],
    document: Annotated[Path, typer.Option(help="The sales or delivery note; its SHA-256 is signed")],
    password_file: PasswordFile = None,
) -> None:
    """As the holder of a product or by-product lot: declare part of it put to its final use."""
    account = _account(keystore, password_file)
    document_hash = "0x" + hashlib.sha256(_read_bytes(document)).hexdigest()
    terms = {"quantity": quantity, "use": use_, "document_hash": document_hash}
    expected = {
        "holder": account.address,
        "lotId": lot.lower(),
        "quantity": str(quantity),
        "use": use_,
        "documentHash": document_hash,
    }
    _workflow(api, account, f"/lots/{lot}/uses/prepare", terms, expected)


@flow_app.command("prepare")
def flow_prepare(
    api: ApiUrl,
    supplier: Annotated[str, typer.Option(help="Supplier's address (an active SHIPPER)")],
    offtaker: Annotated[str, typer.Option(help="Offtaker's address (an active RECEIVER)")],
    medium: Annotated[str, typer.Option(help="steam, CO2, treated wastewater, ...")],
    unit: Annotated[str, typer.Option(help="KGM, TNE, LTR, MTQ, KWH, MWH or GV")],
    meter: Annotated[
        Path, typer.Option(help="The meter's serial number and calibration record; its SHA-256")
    ],
    period_seconds: Annotated[int, typer.Option(help="Length of each period")],
    first_period_start: Annotated[datetime, typer.Option(help="Start of period 0 (UTC)")],
    keystore: Keystore,
    password_file: PasswordFile = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout")
    ] = None,
) -> None:
    """Prepare the RegisterFlow statement both parties sign (each with `flow sign`, or `flow register`);
    KEYSTORE is the party asking (it signs in)."""
    terms = {
        "supplier": supplier,
        "offtaker": offtaker,
        "medium": medium,
        "unit": unit,
        "meter_id": "0x" + hashlib.sha256(_read_bytes(meter)).hexdigest(),
        "period_seconds": period_seconds,
        "first_period_start": first_period_start.replace(tzinfo=first_period_start.tzinfo or UTC).isoformat(),
    }
    prepared = _request(api, "POST", "/flows/prepare", terms, account=_account(keystore, password_file))
    _check_digest(prepared)
    _write(json.dumps(prepared, indent=2), output)


@flow_app.command("sign")
def flow_sign(
    prepared: Annotated[Path, typer.Argument(help="The prepared RegisterFlow statement (`flow prepare`)")],
    keystore: Keystore,
    password_file: PasswordFile = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout")
    ] = None,
) -> None:
    """Sign a prepared flow registration as its supplier or offtaker; print the signature file's JSON."""
    document = _prepared_flow(prepared)
    account = _account(keystore, password_file)
    party = _flow_party(document["typed_data"], account.address)
    signature = Account.sign_typed_data(account.key, full_message=document["typed_data"]).signature
    _write(json.dumps({"digest": document["digest"], party: "0x" + bytes(signature).hex()}, indent=2), output)


@flow_app.command("register")
def flow_register(
    api: ApiUrl,
    prepared: Annotated[Path, typer.Argument(help="The prepared RegisterFlow statement (`flow prepare`)")],
    keystore: Keystore,
    counterparty_signature: Annotated[
        Path | None, typer.Option(help="The other party's signature file (`flow sign`)")
    ] = None,
    counterparty_keystore: CounterpartyKeystore = None,
    counterparty_password_file: CounterpartyPassword = None,
    password_file: PasswordFile = None,
) -> None:
    """As supplier or offtaker: sign the prepared flow registration, add the other party's signature (from
    its signature file, or its keystore), and submit both."""
    document = _prepared_flow(prepared)
    typed = document["typed_data"]
    account = _account(keystore, password_file)
    signatures = {_flow_party(typed, account.address): _sign_typed(account, typed)}
    if counterparty_keystore is not None:
        other = _account(counterparty_keystore, counterparty_password_file)
        signatures[_flow_party(typed, other.address)] = _sign_typed(other, typed)
    elif counterparty_signature is not None:
        try:
            theirs = json.loads(_read(counterparty_signature))
        except json.JSONDecodeError:
            fail(f"{counterparty_signature}: not a signature file written by `symledger flow sign`")
        if theirs.get("digest") != document["digest"]:
            fail(f"{counterparty_signature}: signs another statement than {prepared}")
        signatures.update({k: v for k, v in theirs.items() if k in ("supplier", "offtaker")})
    else:
        fail("give --counterparty-signature or --counterparty-keystore: a flow needs both parties")
    if set(signatures) != {"supplier", "offtaker"}:
        fail("both the supplier's and the offtaker's signatures are needed")
    body = {
        "message": typed["message"],
        "supplier_signature": signatures["supplier"],
        "offtaker_signature": signatures["offtaker"],
    }
    typer.echo(json.dumps(_request(api, "POST", "/flows", body, account=account), indent=2))


@flow_app.command("anchor")
def flow_anchor(
    api: ApiUrl,
    flow_id: Annotated[str, typer.Argument(help="The flow's id")],
    periods_csv: Annotated[
        Path, typer.Option("--csv", help="Periods: a header line, then period,quantity,reading_hash rows")
    ],
    keystore: Keystore,
    counterparty_keystore: CounterpartyKeystore = None,
    counterparty_password_file: CounterpartyPassword = None,
    counterparty_signatures: Annotated[
        Path | None,
        typer.Option(help="The other party's signatures of these periods (`flow anchor --sign-only -o`)"),
    ] = None,
    sign_only: Annotated[
        bool,
        typer.Option("--sign-only", help="Only sign the periods; write the signatures for the other party"),
    ] = False,
    password_file: PasswordFile = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where --sign-only writes")] = None,
) -> None:
    """Anchor consecutive periods of a flow in one transaction, each signed by both parties: sign them with
    your key and the other party's (its keystore, or the signatures it made with --sign-only)."""
    rows = _period_rows(periods_csv)
    terms = {
        "first_period": rows[0][0],
        "periods": [{"quantity": q, "reading_hash": h} for _, q, h in rows],
    }
    me = _account(keystore, password_file)
    prepared = _request(api, "POST", f"/flows/{flow_id}/periods/prepare", terms, account=me)
    for (period, quantity, reading), item in zip(rows, prepared["periods"], strict=True):
        message = item["typed_data"]["message"]
        expected = (flow_id.lower(), str(period), str(quantity), reading.lower())
        got = (message["flowId"], message["period"], message["quantity"], message["readingHash"])
        if got != expected or "0x" + statements.digest(item["typed_data"]).hex() != item["digest"]:
            fail(f"the service prepared period {period} otherwise than the CSV says; not signing")
    supplier, offtaker = prepared["signers"]
    accounts = [me]
    if counterparty_keystore is not None:
        accounts.append(_account(counterparty_keystore, counterparty_password_file))
    signatures: dict[str, list[str]] = {}
    for account in accounts:
        party = {supplier.lower(): "supplier", offtaker.lower(): "offtaker"}.get(account.address.lower())
        if party is None:
            fail(f"{account.address} is neither the flow's supplier nor its offtaker")
        signatures[party] = [_sign_typed(account, item["typed_data"]) for item in prepared["periods"]]
    if sign_only:
        _write(
            json.dumps(
                {
                    "flow_id": flow_id.lower(),
                    "digests": [i["digest"] for i in prepared["periods"]],
                    **signatures,
                }
            ),
            output,
        )
        return
    if counterparty_signatures is not None:
        try:
            theirs = json.loads(_read(counterparty_signatures))
        except json.JSONDecodeError:
            fail(f"{counterparty_signatures}: not a file written by `flow anchor --sign-only`")
        if theirs.get("digests") != [i["digest"] for i in prepared["periods"]]:
            fail(f"{counterparty_signatures}: signs other periods than {periods_csv}")
        signatures.update(
            {k: theirs[k] for k in ("supplier", "offtaker") if k in theirs and k not in signatures}
        )
    if set(signatures) != {"supplier", "offtaker"}:
        fail("give --counterparty-keystore or --counterparty-signatures: every period needs both parties")
    body = {
        "first_period": prepared["first_period"],
        "periods": [
            {
                "quantity": quantity,
                "reading_hash": reading,
                "supplier_signature": signatures["supplier"][i],
                "offtaker_signature": signatures["offtaker"][i],
            }
            for i, (_, quantity, reading) in enumerate(rows)
        ],
    }
    typer.echo(json.dumps(_request(api, "POST", f"/flows/{flow_id}/periods", body, account=me), indent=2))


@app.command("deploy-modules")
def deploy_modules() -> None:
    """Complete a deployment record written before every module beside the ledger was recorded: record the
    processing module, deploy MeteredFlows and RegulatorActions where missing (settings: SYMLEDGER_*)."""
    from ledger_service.deployment import Deployment
    from ledger_service.settings import Settings

    settings = Settings()
    record = settings.resolved_deployment_file
    if not record.exists():
        fail(f"no deployment record at {record}: `symledger deploy` deploys everything")
    deployment = Deployment.load(record)
    if not deployment.missing_modules:
        fail(f"{record} names every module already")
    gateway = _relayer_gateway(settings)
    try:
        deployment = gateway.complete_deployment(deployment)
    except RuntimeError as exc:
        fail(str(exc))
    deployment.save(record)
    typer.echo(deployment.module_addresses())


@app.command("verify-contracts")
def verify_contracts(
    rpc: Annotated[str | None, typer.Option("--rpc", help="Node URL (default: SYMLEDGER_RPC_URL)")] = None,
    deployment_file: Annotated[
        Path | None, typer.Option("--deployment", help="Deployment record (default: the settings')")
    ] = None,
    sources: Annotated[
        Path | None, typer.Option("--sources", help="Source tree to compile (default: this checkout)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON")] = False,
) -> None:
    """Verify the deployed contracts' runtime bytecode against the source, compiled anew with the pinned
    compiler and settings (docs/verification.md): one line per contract; exit code 1 if any fails."""
    from dataclasses import asdict

    from ledger_service.chain.gateway import ChainGateway, NodeUnavailable
    from ledger_service.deployment import Deployment
    from ledger_service.settings import Settings
    from ledger_service.verification.bytecode import SourceError, compile_tree, verify_deployment

    settings = Settings()
    record, url = deployment_file or settings.resolved_deployment_file, rpc or settings.rpc_url
    try:
        deployment = Deployment.load(record)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        fail(f"--deployment: cannot read the deployment record {record}: {exc}")
    try:
        gateway = ChainGateway(url, settings.artifacts_dir, relayer=None, poa_chain=settings.poa_chain)
        if gateway.chain_id() != deployment.chain_id:
            fail(
                f"--rpc: the node at {url} is chain {gateway.chain_id()}; {record} is for chain {deployment.chain_id}"
            )
        results = verify_deployment(gateway, deployment, compile_tree(sources or settings.contract_sources))
    except NodeUnavailable as exc:
        fail(f"--rpc: the node at {url} does not answer: {exc}")
    except SourceError as exc:
        fail(f"--sources: {exc}")
    except FileNotFoundError as exc:  # the gateway's ABI comes from the build artifacts
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for result in results:
            typer.echo(_verification_line(result))
    if not all(r.verified for r in results):
        raise typer.Exit(1)


def _verification_line(result: Any) -> str:
    if not result.verified:
        return f"{result.name} {result.address or '-'} NOT verified: {result.reason}"
    commit = result.source_commit or "none (not a git checkout)"
    if result.uncommitted:
        commit += f" with uncommitted changes to {', '.join(result.uncommitted)}"
    return (
        f"{result.name} {result.address} verified: solc {result.compiler_version}, "
        f"source commit {commit}, sources sha256 {result.sources_sha256}"
    )


def _period_rows(path: Path) -> list[tuple[int, int, str]]:
    rows = []
    reader = csv.reader(_read(path).splitlines())
    for number, row in enumerate(reader, start=1):
        if number == 1 and row and not row[0].strip().isdigit():
            continue  # the header line
        if len(row) != 3:
            fail(f"{path}:{number}: expected period,quantity,reading_hash")
        try:
            period, quantity = int(row[0]), int(row[1])
        except ValueError:
            fail(f"{path}:{number}: period and quantity must be integers")
        reading = row[2].strip()
        if len(reading) != 66 or not reading.startswith("0x"):
            fail(f"{path}:{number}: reading_hash must be 0x followed by 64 hexadecimal digits")
        if rows and period != rows[-1][0] + 1:
            fail(f"{path}:{number}: periods must follow each other (period {rows[-1][0] + 1} expected)")
        rows.append((period, quantity, reading))
    if not rows:
        fail(f"{path}: no periods")
    return rows


def _prepared_flow(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(_read(path))
        typed = document["typed_data"]
    except (json.JSONDecodeError, KeyError, TypeError):
        fail(f"{path}: not a prepared statement written by `symledger flow prepare`")
    if typed.get("primaryType") != "RegisterFlow":
        fail(f"{path}: a {typed.get('primaryType')} statement, not a flow registration")
    _check_digest(document)
    return document  # type: ignore[no-any-return]


def _check_digest(prepared: dict[str, Any]) -> None:
    if "0x" + statements.digest(prepared["typed_data"]).hex() != prepared["digest"]:
        fail("the service's digest does not match the typed data; not signing")


def _flow_party(typed: dict[str, Any], address: str) -> str:
    message = typed["message"]
    for party in ("supplier", "offtaker"):
        if message[party].lower() == address.lower():
            return party
    fail(f"{address} is neither supplier {message['supplier']} nor offtaker {message['offtaker']}")


def _sign_typed(account: Any, typed: dict[str, Any]) -> str:
    return "0x" + bytes(Account.sign_typed_data(account.key, full_message=typed).signature).hex()


def _sign_and_submit(api: str, account: Any, prepared: dict[str, Any]) -> None:
    _check_digest(prepared)
    body = _sign(account, prepared["typed_data"])
    typer.echo(json.dumps(_submit(api, body.pop("statement"), body, account), indent=2))


def _write(text: str, output: Path | None) -> None:
    if output:
        output.write_text(text + "\n")
    else:
        typer.echo(text)


# --- end processing and metered flows --------------------------------------------------------------

# --- sign-in and webhook notifications ---------------------------------------------------------------
#
# `symledger login` signs the service's EIP-4361 challenge with the party's keystore and caches the bearer
# token it gets, per service URL, in <config dir>/tokens.json (readable by its owner only; the directory is
# SYMLEDGER_CONFIG_DIR, else the platform's, e.g. ~/.config/symledger). Commands that need a signed-in party
# use that token; given -k they sign in again by themselves when it is missing or has expired.

webhook_app = typer.Typer(
    help="Webhooks: each change of status of your transfers, posted to your URL.", no_args_is_help=True
)
app.add_typer(webhook_app, name="webhook")
SignInKeystore = Annotated[
    Path | None,
    typer.Option(
        "--keystore", "-k", help="Sign in with this keystore if the cached sign-in is missing or expired"
    ),
]
TOKEN_MARGIN_SECONDS = 30  # a token this close to expiry would die in flight


def _token_file() -> Path:
    return Path(os.environ.get("SYMLEDGER_CONFIG_DIR") or typer.get_app_dir("symledger")) / "tokens.json"


def _tokens() -> dict[str, Any]:
    try:
        return json.loads(_token_file().read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {}


def _save_tokens(tokens: dict[str, Any]) -> None:
    path = _token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_suffix(".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(tokens, file, indent=2)
    partial.replace(path)


def _sign_in(api: str, account: Any) -> dict[str, Any]:
    message, signature = _signed_challenge(api, account)
    token = _request(api, "POST", "/auth/token", {"message": message, "signature": signature})
    entry = {
        "address": token["address"],
        "access_token": token["access_token"],
        "expires_at": token["expires_at"],
    }
    tokens = _tokens()
    tokens[api.rstrip("/")] = entry
    _save_tokens(tokens)
    return entry


def _access_token(api: str, keystore: Path | None, password_file: Path | None) -> str:
    entry = _tokens().get(api.rstrip("/"))
    live = entry is not None and datetime.fromisoformat(entry["expires_at"]).timestamp() > (
        datetime.now(UTC).timestamp() + TOKEN_MARGIN_SECONDS
    )
    if keystore is None:
        if not live:
            fail(f"not signed in to {api}, or the sign-in has expired: run `symledger login -k KEYSTORE`")
        return str(entry["access_token"])  # type: ignore[index]
    try:
        address = keystore_address(keystore)
    except (OSError, KeyError, ValueError) as exc:
        fail(f"--keystore: cannot read {keystore}: {exc}")
    if live and entry["address"].lower() == address.lower():  # type: ignore[index]
        return str(entry["access_token"])  # type: ignore[index]
    return str(_sign_in(api, _account(keystore, password_file))["access_token"])


def _as_party(api: str, token: str, method: str, path: str, body: Any = None, params: Any = None) -> Any:
    try:
        response = httpx.request(
            method,
            api.rstrip("/") + path,
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach the service at {api}: {exc}")
    if response.status_code >= 400:
        try:
            first = response.json()["detail"][0]
            where = ".".join(str(p) for p in first.get("loc", []) if p not in ("body", "path"))
            fail(f"{where + ': ' if where else ''}{first['msg']} (HTTP {response.status_code})")
        except (ValueError, KeyError, IndexError, TypeError):
            fail(f"HTTP {response.status_code}: {response.text[:200]}")
    return None if response.status_code == 204 else response.json()


@app.command("login")
def login(api: ApiUrl, keystore: Keystore, password_file: PasswordFile = None) -> None:
    """Sign in to the service with KEYSTORE's key (EIP-4361); cache the short-lived token it gives."""
    entry = _sign_in(api, _account(keystore, password_file))
    typer.echo(f"signed in to {api.rstrip('/')} as {entry['address']} until {entry['expires_at']}")


@app.command("login-link")
def login_link(api: ApiUrl, keystore: Keystore, password_file: PasswordFile = None) -> None:
    """Print a link that signs KEYSTORE's party in to the dashboard in a browser (once, within minutes).

    The challenge is signed here, where the key is; the link carries the signed challenge, not the key.
    """
    from urllib.parse import urlencode

    message, signature = _signed_challenge(api, _account(keystore, password_file))
    typer.echo(
        f"{api.rstrip('/')}/dashboard/sign-in/link?{urlencode({'message': message, 'signature': signature})}"
    )


@app.command("logout")
def logout(api: ApiUrl) -> None:
    """Revoke the cached sign-in for the service and forget it."""
    tokens = _tokens()
    entry = tokens.pop(api.rstrip("/"), None)
    if entry is None:
        typer.echo(f"not signed in to {api.rstrip('/')}")
        return
    from contextlib import suppress

    # An unreachable service: the token is forgotten here all the same, and expires there by itself.
    with suppress(httpx.HTTPError):
        httpx.post(
            api.rstrip("/") + "/auth/logout",
            headers={"Authorization": f"Bearer {entry['access_token']}"},
            timeout=60,
        )
    _save_tokens(tokens)
    typer.echo(f"signed out of {api.rstrip('/')}")


@webhook_app.command("add")
def webhook_add(
    url: Annotated[str, typer.Argument(help="http(s) URL that receives a signed POST per status change")],
    api: ApiUrl,
    description: Annotated[str | None, typer.Option(help="What the URL is, for your own list")] = None,
    keystore: SignInKeystore = None,
    password_file: PasswordFile = None,
) -> None:
    """Subscribe URL to the status changes of your transfers; print the webhook with its secret."""
    token = _access_token(api, keystore, password_file)
    created = _as_party(api, token, "POST", "/webhooks", {"url": url, "description": description})
    typer.echo(json.dumps(created, indent=2))
    typer.echo("keep the secret: it signs every message, and the service shows it only this once", err=True)


@webhook_app.command("list")
def webhook_list(api: ApiUrl, keystore: SignInKeystore = None, password_file: PasswordFile = None) -> None:
    """Your webhooks."""
    token = _access_token(api, keystore, password_file)
    typer.echo(json.dumps(_as_party(api, token, "GET", "/webhooks"), indent=2))


@webhook_app.command("remove")
def webhook_remove(
    webhook_id: Annotated[str, typer.Argument(metavar="ID")],
    api: ApiUrl,
    keystore: SignInKeystore = None,
    password_file: PasswordFile = None,
) -> None:
    """Stop a webhook (and what it still had to send)."""
    token = _access_token(api, keystore, password_file)
    _as_party(api, token, "DELETE", f"/webhooks/{webhook_id}")
    typer.echo(f"webhook {webhook_id} removed")


@webhook_app.command("deliveries")
def webhook_deliveries(
    webhook_id: Annotated[str, typer.Argument(metavar="ID")],
    api: ApiUrl,
    status: Annotated[str | None, typer.Option(help="queued, delivered, failed or cancelled")] = None,
    offset: int = 0,
    limit: int = 50,
    keystore: SignInKeystore = None,
    password_file: PasswordFile = None,
) -> None:
    """The webhook's delivery log: each message, where it stands, every attempt."""
    token = _access_token(api, keystore, password_file)
    params = {"offset": offset, "limit": limit, **({"status": status} if status else {})}
    page = _as_party(api, token, "GET", f"/webhooks/{webhook_id}/deliveries", params=params)
    typer.echo(json.dumps(page, indent=2))


@webhook_app.command("redeliver")
def webhook_redeliver(
    webhook_id: Annotated[str, typer.Argument(metavar="ID")],
    delivery_id: Annotated[str, typer.Argument(metavar="DELIVERY_ID")],
    api: ApiUrl,
    keystore: SignInKeystore = None,
    password_file: PasswordFile = None,
) -> None:
    """Send a failed message again (same id and body), with a full set of attempts."""
    token = _access_token(api, keystore, password_file)
    redelivery = _as_party(api, token, "POST", f"/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
    typer.echo(json.dumps(redelivery, indent=2))


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
    from ledger_service.runtime import tune_garbage_collector
    from ledger_service.settings import Settings

    settings = Settings()
    _log_to_console()
    tune_garbage_collector()  # as the service's: a reindex holds a range's rows while it adds as many again
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


# --- verification (ledger_service.api.routes.verification) --------------------------------------------

VERIFY_PATHS = {"lot": "lots", "transfer": "transfers", "firm": "firms", "park": "parks"}


@app.command("verify")
def verify(
    what: Annotated[str, typer.Argument(help="lot, transfer, firm or park")],
    ident: Annotated[
        str, typer.Argument(help="The lot's or transfer's id, the firm's address, the park's name")
    ],
    api: ApiUrl,
    keystore: Keystore,
    pack: Annotated[str | None, typer.Option(help="Rule pack: VN, EU or US (default: the service's)")] = None,
    output_format: Annotated[str, typer.Option("--format", help="json, html or pdf")] = "json",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the report here (a PDF must be)")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="A firm's or park's records from this date")
    ] = None,
    until: Annotated[str | None, typer.Option(help="…up to this date (inclusive) or date-time")] = None,
    password_file: PasswordFile = None,
) -> None:
    """Verify a lot's lineage, a transfer, or a firm's or park's records over a period against a rule
    pack, as the party signed in with KEYSTORE may (a regulator anything, others what they may see)."""
    if what not in VERIFY_PATHS:
        fail(f"what: expected one of {', '.join(VERIFY_PATHS)}, got {what!r}")
    if output_format not in ("json", "html", "pdf"):
        fail(f"--format: expected json, html or pdf, got {output_format!r}")
    if output_format == "pdf" and out is None:
        fail("--format pdf: give --out FILE (a PDF is not printed to the terminal)")
    if (start or until) and what not in ("firm", "park"):
        fail(f"--from/--until: only a firm or a park is verified over a period, not a {what}")
    params = {"format": output_format, "pack": pack, "from": start, "until": until}
    account = _account(keystore, password_file)
    path = f"/verification/{VERIFY_PATHS[what]}/{quote(ident, safe='')}"
    response = _document_call(api, account, "GET", path, params={k: v for k, v in params.items() if v})
    content = (
        json.dumps(response.json(), indent=2, ensure_ascii=False).encode() + b"\n"
        if output_format == "json"
        else response.content
    )
    if out is None:
        sys.stdout.write(content.decode())
        return
    try:
        out.write_bytes(content)
    except OSError as exc:
        fail(f"--out: {exc.strerror}: {out}")
    verdict = response.headers.get("X-Verdict") or ""
    typer.echo(f"{out}: {len(content)} bytes{', verdict ' + verdict if verdict else ''}")


@app.command("bundle")
def evidence_bundle(
    what: Annotated[str, typer.Argument(help="lot or transfer")],
    ident: Annotated[str, typer.Argument(help="The lot's or transfer's id")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the bundle here")],
    api: ApiUrl,
    keystore: Keystore,
    pack: Annotated[str | None, typer.Option(help="Rule pack: VN, EU or US (default: the service's)")] = None,
    documents: Annotated[bool, typer.Option(help="Carry the documents' bodies too")] = False,
    password_file: PasswordFile = None,
) -> None:
    """Take the evidence bundle of a lot's lineage or a transfer (a regulator's KEYSTORE), to check with
    `symledger verify-bundle` anywhere, without this service."""
    if what not in ("lot", "transfer"):
        fail(f"what: expected lot or transfer, got {what!r}")
    params = {"pack": pack, "documents": "true" if documents else None}
    path = f"/verification/{VERIFY_PATHS[what]}/{quote(ident, safe='')}/bundle"
    response = _document_call(
        api, _account(keystore, password_file), "GET", path, params={k: v for k, v in params.items() if v}
    )
    try:
        out.write_bytes(response.content)
    except OSError as exc:
        fail(f"--out: {exc.strerror}: {out}")
    typer.echo(f"{out}: {len(response.content)} bytes")


@app.command("verify-bundle")
def verify_bundle(
    file: Annotated[
        Path, typer.Argument(help="The evidence bundle (JSON) to check", exists=True, dir_okay=False)
    ],
    rpc: Annotated[
        str | None, typer.Option("--rpc", help="Also check each transaction's inclusion on this node's chain")
    ] = None,
) -> None:
    """Check an evidence bundle without the service or its database: every signature, every record against
    its signed statement, the documents, a re-run of the rules; with --rpc, each transaction on chain. One
    line per problem; exit code 1 if there is any."""
    from compliance import bundle
    from ledger_service.bundles import check_complete, check_on_chain
    from ledger_service.chain.gateway import ChainReader, NodeUnavailable

    raw = file.read_bytes()
    result = bundle.verify(raw)
    problems = list(result.problems)
    if rpc is not None and result.report is not None:
        try:
            reader, data = ChainReader(rpc), json.loads(raw)
            problems += check_on_chain(reader, data) + check_complete(reader, data)
        except NodeUnavailable as exc:
            fail(f"--rpc: the node at {rpc} does not answer: {exc}")
    for problem in problems:
        typer.echo(f"FAIL {problem}")
    if problems:
        fail(f"{file}: {len(problems)} problem(s); the bundle cannot be trusted")
    report = result.report
    assert report is not None  # a bundle without problems was re-run
    checked = ", ".join(f"{n} {what}" for what, n in result.checked.items())
    typer.echo(f"OK {file}: {checked} checked{' and found on chain' if rpc else ''}")
    typer.echo(
        f"   pack {report.pack_id} {report.pack_version} ({report.pack_hash[:16]}…), {report.subject}: "
        f"{report.verdict.value} ({', '.join(f'{v} {k}' for k, v in report.counts().items() if v)})"
    )


# --- exports (docs/exports.md) -------------------------------------------------------------------------

EXPORT_FORMATS = {"registry": ("csv", "xlsx"), "epcis": ("jsonld",), "emanifest": ("json",)}


@app.command("export")
def export(
    what: Annotated[str, typer.Argument(help="registry (CSV or XLSX), epcis (GS1 EPCIS 2.0) or emanifest")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the export here")],
    api: ApiUrl,
    keystore: Keystore,
    park: Annotated[str | None, typer.Option(help="The park whose records to export")] = None,
    firm: Annotated[str | None, typer.Option(help="…or the firm (its address)")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Transfers dispatched from this date")] = None,
    until: Annotated[str | None, typer.Option(help="…up to this date (inclusive) or date-time")] = None,
    output_format: Annotated[
        str | None, typer.Option("--format", help="registry: csv (default) or xlsx")
    ] = None,
    pack: Annotated[
        str | None, typer.Option(help="Rule pack of the verdicts (default: the service's)")
    ] = None,
    password_file: PasswordFile = None,
) -> None:
    """Export a park's or a firm's records over a period, as the party signed in with KEYSTORE may (a
    regulator any, a park operator its park, a firm its own), with a progress bar while it streams."""
    from rich.progress import DownloadColumn, Progress, SpinnerColumn, TextColumn, TransferSpeedColumn

    if what not in EXPORT_FORMATS:
        fail(f"what: expected one of {', '.join(EXPORT_FORMATS)}, got {what!r}")
    if (park is None) == (firm is None):
        fail("give either --park or --firm")
    formats = EXPORT_FORMATS[what]
    chosen = output_format or formats[0]
    if chosen not in formats:
        fail(f"--format: {what} is written as {' or '.join(formats)}, not {chosen!r}")
    params = {"park": park, "firm": firm, "from": start, "until": until, "pack": pack}
    if what == "registry":
        params["format"] = chosen
    headers = _signed_in(api, _account(keystore, password_file))
    url = f"{api.rstrip('/')}/exports/{what}"
    # Written beside OUT and moved there once whole: a failed export never leaves a file that looks whole.
    partial = out.with_name(out.name + ".partial")
    written = 0
    try:
        with httpx.stream(
            "GET", url, params={k: v for k, v in params.items() if v}, headers=headers, timeout=300
        ) as response:
            if response.status_code >= 400:
                response.read()
                _refused(response, ("query",))
            transfers = response.headers.get("X-Export-Transfers", "?")
            columns = (
                SpinnerColumn(),
                TextColumn("{task.description}"),
                DownloadColumn(),
                TransferSpeedColumn(),
            )
            with Progress(*columns, transient=True) as progress, partial.open("wb") as file:
                task = progress.add_task(f"{what}: {transfers} transfers", total=None)
                for chunk in response.iter_bytes():
                    file.write(chunk)
                    written += len(chunk)
                    progress.update(task, completed=written)
        problem = _incomplete_export(chosen, partial, transfers)
        if problem:
            partial.unlink()
            fail(f"the service ended the export early ({problem}); nothing was written to {out}")
        partial.replace(out)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        fail(f"the export from {api} broke off: {exc}")
    except OSError as exc:
        fail(f"--out: {exc.strerror}: {out}")
    typer.echo(f"{out}: {written} bytes, {transfers} transfers")


def _incomplete_export(output_format: str, path: Path, transfers: str) -> str | None:
    """Why a downloaded export is not whole, or None. The service has sent its answer's status before the
    first row, so an error while streaming shows only as an export that stops short."""
    import csv
    import zipfile

    if output_format == "xlsx":
        return None if zipfile.is_zipfile(path) else "the workbook is not a whole XLSX file"
    if output_format == "csv":
        with path.open(newline="", encoding="utf-8-sig") as file:
            rows = sum(1 for _ in csv.reader(file)) - 1
        return None if str(rows) == transfers else f"{rows} of its {transfers} rows came"
    # The service writes each event or manifest on a line of its own and the closing brackets on the last.
    ending = {"jsonld": b"\n]}}\n", "json": b"\n]}\n"}[output_format]
    with path.open("rb") as file:
        file.seek(max(0, path.stat().st_size - len(ending)))
        return None if file.read() == ending else "the JSON document is cut short"


# --- KPIs and the compliance report (docs/kpis.md) -----------------------------------------------------

SCOPES = {"park": "parks", "firm": "firms"}
Scoped = Annotated[str, typer.Argument(help="park or firm")]
ScopeName = Annotated[str, typer.Argument(help="The park's name, or the firm's address")]
Start = Annotated[str | None, typer.Option("--from", help="Records from this date or date-time on")]
Until = Annotated[str | None, typer.Option(help="…up to this date (inclusive) or date-time")]
PackOption = Annotated[str | None, typer.Option(help="Rule pack of the verdicts (default: the service's)")]


def _scoped_get(
    api: str, keystore: Path, password_file: Path | None, path: str, params: dict[str, str | None]
) -> httpx.Response:
    headers = _signed_in(api, _account(keystore, password_file))
    try:
        response = httpx.get(
            f"{api.rstrip('/')}{path}",
            params={k: v for k, v in params.items() if v},
            headers=headers,
            timeout=600,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach the service at {api}: {exc}")
    if response.status_code >= 400:
        _refused(response, ("query",))
    return response


def _scope_path(scope: str, name: str) -> str:
    if scope not in SCOPES:
        fail(f"scope: expected park or firm, got {scope!r}")
    from urllib.parse import quote

    return f"{SCOPES[scope]}/{quote(name, safe='')}"


@app.command("kpis")
def kpis_command(
    scope: Scoped,
    name: ScopeName,
    api: ApiUrl,
    keystore: Keystore,
    start: Start = None,
    until: Until = None,
    pack: PackOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the JSON here")] = None,
    password_file: PasswordFile = None,
) -> None:
    """A park's or a firm's eco-industrial-park KPIs over a period, as JSON (tonnes exchanged per material,
    share reused or recycled, symbiosis links, CO2 avoided, water reused, a monthly series)."""
    response = _scoped_get(
        api,
        keystore,
        password_file,
        f"/kpis/{_scope_path(scope, name)}",
        {"from": start, "until": until, "pack": pack},
    )
    text = json.dumps(response.json(), indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    result = response.json()
    typer.echo(
        f"{out}: {result['tonnes_exchanged']} t exchanged, {result['links']['count']} symbiosis links, "
        f"{result['co2_avoided']['kg']} kg CO2 avoided"
    )


@app.command("report")
def report_command(
    scope: Scoped,
    name: ScopeName,
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the PDF here")],
    api: ApiUrl,
    keystore: Keystore,
    start: Start = None,
    until: Until = None,
    pack: PackOption = None,
    password_file: PasswordFile = None,
) -> None:
    """A park's or a firm's compliance report over a period, as a PDF: verdict summary, failing transfers
    with their reasons, the KPIs, and a QR code on each transfer linking to its verification page."""
    response = _scoped_get(
        api,
        keystore,
        password_file,
        f"/reports/{_scope_path(scope, name)}.pdf",
        {"from": start, "until": until, "pack": pack},
    )
    try:
        out.write_bytes(response.content)
    except OSError as exc:
        fail(f"--out: {exc.strerror}: {out}")
    typer.echo(
        f"{out}: {len(response.content)} bytes, {response.headers.get('X-Export-Transfers', '?')} transfers"
    )

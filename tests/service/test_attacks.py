"""Attacks on the service and the chain, in one place. Each is refused with a 4xx JSON error naming the field
or the reason, and leaves no trace: no signed payload kept, no transfer, lot, chain event or document in the
read model, no new block on the chain (`leaves_no_trace`).

1. Replay: a signed dispatch or receipt submitted again (also under another Idempotency-Key) is answered with
   the record the first made and recorded no second time; a statement another relayer already took to the
   chain is refused as a replay; a used nonce in a new statement is refused; the chain itself refuses each
   recorded statement sent to it again.
2. Cross-chain: a statement signed for another chain id, or for another verifying contract, is not the
   party's signature of this statement.
3. Expiry: a deadline in the past is refused at preparation and, once signed, by the chain; a signed
   statement whose deadline passes before it is submitted is refused.
4. Forgery: a signature by another key than the party named, a field changed after signing, and malformed
   signatures (too short, too long, not hex, all zeros, missing).
5. Roles: a transporter or a lab dispatching as a shipper, a firm acting as a regulator (registering a
   permit, suspending a participant, reading the document audit log or an evidence bundle), a firm reading a
   transfer it is no party to (404, as if it did not exist).
6. Suspension: a suspended firm cannot sign in; its live token neither reads nor writes; its signed
   statements, even one signed before the suspension, are refused, as are others' naming it.
7. Malformed and oversized bodies: an upload over the size limit (413), an empty upload, a wrong media type,
   a body that is not multipart; a JSON body that is not JSON, not UTF-8, nested too deep, not sent as JSON or
   not an object; a megabyte-sized statement (the JSON endpoints set no size limit: each field is bounded).
"""

import copy
import time
from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from parties import (
    Party,
    accredited_lab,
    dispatch,
    dispatch_terms,
    register,
    register_lot,
    sign_in,
    signed_challenge,
    trading_pair,
)
from sqlalchemy import select
from workflows import another_relayer, leaves_no_trace, only_error, receive, suspend, upload

from ledger_service.chain.gateway import ContractRejection
from ledger_service.db.models import SignedPayload
from ledger_service.statements import DISPATCH, RECEIPT, REGISTER_PARTICIPANT, SET_PARTICIPANT_STATUS

PDF = b"%PDF-1.7\n% weighbridge ticket\n" + b"SLAG-12300-KGM " * 40 + b"\n%%EOF\n"


def prepared_dispatch(client, shipper: Party, receiver: Party, **overrides) -> dict:
    prepared = client.post(
        "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, **overrides)
    )
    assert prepared.status_code == 200, prepared.text
    return prepared.json()


def prepared_receipt(client, transfer_id: str, quantity: int = 12_300) -> dict:
    prepared = client.post(f"/transfers/{transfer_id}/receipt/prepare", json={"received_quantity": quantity})
    assert prepared.status_code == 200, prepared.text
    return prepared.json()


def signed_by(party: Party, typed: dict, message: dict | None = None) -> dict:
    """A submission body: `message` (default: the typed data's) with `party`'s signature of `typed`."""
    return {"message": message or typed["message"], "signature": party.sign(typed)}


def with_message(typed: dict, **fields) -> dict:
    """The typed data with some of its message's fields changed."""
    return {**typed, "message": {**typed["message"], **fields}}


def lot_balance(client, lot_id: str) -> int:
    return client.get(f"/lots/{lot_id}").json()["balance"]


# --- 1. replay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("statement", ["dispatch", "receipt"])
@pytest.mark.parametrize("idempotency_key", [None, "another-key"], ids=["same-body", "new-idempotency-key"])
def test_a_resubmitted_statement_is_answered_with_its_record_not_recorded_again(
    client, shipper, receiver, statement, idempotency_key
):
    # A client that lost the answer must be able to retry, so the same signed statement is not an error: it
    # is answered with the record the first submission made, and nothing is recorded a second time.
    if statement == "dispatch":
        url, body = "/transfers", shipper.signed_body(prepared_dispatch(client, shipper, receiver))
    else:
        transfer = dispatch(client, shipper, receiver)
        url = f"/transfers/{transfer['id']}/receipt"
        body = receiver.signed_body(prepared_receipt(client, transfer["id"]))
    first = client.post(url, json=body, headers={"Idempotency-Key": f"first-{body['signature'][:40]}"})
    assert first.status_code in (200, 201), first.text
    balance = lot_balance(client, shipper.lot_id)
    headers = {"Idempotency-Key": f"{idempotency_key}-{body['signature'][:40]}"} if idempotency_key else {}
    with leaves_no_trace(client):
        again = client.post(url, json=body, headers=headers)
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert "Idempotent-Replayed" not in again.headers  # the outbox answered, not the idempotency layer
    assert lot_balance(client, shipper.lot_id) == balance


def test_a_statement_another_relayer_recorded_is_refused_as_a_replay(client, shipper, receiver):
    body = shipper.signed_body(prepared_dispatch(client, shipper, receiver))
    other = another_relayer(client)
    call = other.statement_call(DISPATCH, body["message"], bytes.fromhex(body["signature"][2:]))
    assert other.wait_for_receipt(other.send(call, other.simulate(call) * 2), timeout=10, poll=0.05)["status"]
    client.app.state.runtime.indexer.sync()
    with leaves_no_trace(client):
        error = only_error(client.post("/transfers", json=body), 409)
    assert (error["type"], error["loc"]) == ("already_recorded", ["body", "signature"])
    assert "a replay" in error["msg"]


def test_a_used_nonce_is_refused_in_a_new_statement(client, regulator):
    register(client, regulator, Party("first firm"), "SHIPPER")
    with client.app.state.runtime.sessions() as session:
        used = session.scalar(
            select(SignedPayload.nonce)
            .where(SignedPayload.statement == REGISTER_PARTICIPANT.primary_type)
            .order_by(SignedPayload.id.desc())
            .limit(1)
        )
    newcomer = Party("second firm")
    terms = {
        "regulator": regulator.address,
        "participant": newcomer.address,
        "roles": ["SHIPPER"],
        "legal_name": "Second Firm JSC",
        "enterprise_id": "0312345678",
        "park": "Phu My 3",
        "nonce": int(used),
    }
    prepared = client.post("/participants/registrations/prepare", json=terms)
    assert prepared.status_code == 200, prepared.text
    with leaves_no_trace(client):
        error = only_error(client.post("/participants", json=regulator.signed_body(prepared.json())), 409)
    assert (error["type"], error["loc"]) == ("nonce_used", ["body", "message", "nonce"])
    assert f"nonce {used} of {regulator.address}" in error["msg"] and "replay" in error["msg"]
    assert client.get(f"/participants/{newcomer.address}").status_code == 404


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        (DISPATCH, "AlreadyRecorded"),
        (RECEIPT, "NotAwaitingReceipt"),
        (REGISTER_PARTICIPANT, "AlreadyRegistered"),
    ],
    ids=lambda s: getattr(s, "primary_type", s),
)
def test_the_chain_refuses_a_recorded_statement_sent_again(client, regulator, statement, refusal):
    # The service is not the only way to the chain: anyone holding a signed statement can send it.
    shipper, receiver = trading_pair(client, regulator)
    transfer = dispatch(client, shipper, receiver)
    receive(client, receiver, transfer["id"], 12_300)
    with client.app.state.runtime.sessions() as session:
        recorded = session.scalars(
            select(SignedPayload)
            .where(SignedPayload.statement == statement.primary_type)
            .order_by(SignedPayload.id.desc())
            .limit(1)
        ).one()
    other = another_relayer(client)
    call = other.statement_call(statement, recorded.message, bytes.fromhex(recorded.signature[2:]))
    with leaves_no_trace(client), pytest.raises(ContractRejection) as refused:
        other.simulate(call)
    assert refused.value.error == refusal


def test_an_old_suspension_replayed_after_reinstatement_is_refused(client, regulator):
    # The attacker kept the regulator's signed suspension of a firm, and sends it once the firm is reinstated.
    firm = Party("reinstated firm")
    register(client, regulator, firm, "SHIPPER")
    url = f"/participants/{firm.address}/status"
    terms = {"regulator": regulator.address, "suspended": True, "reason": "permit under review"}
    old = regulator.signed_body(client.post(url + "/prepare", json=terms).json())
    assert client.post(url, json=old).status_code == 200
    suspend(client, regulator, firm, suspended=False)
    other = another_relayer(client)
    call = other.statement_call(SET_PARTICIPANT_STATUS, old["message"], bytes.fromhex(old["signature"][2:]))
    with leaves_no_trace(client):
        with pytest.raises(ContractRejection) as refused:
            other.simulate(call)
        again = client.post(url, json=old)
    assert refused.value.error == "NonceAlreadyUsed"
    # The service knows the statement: it answers with the participant as it stands, reinstated.
    assert again.status_code == 200 and again.json()["status"] == "active"
    assert client.get(f"/participants/{firm.address}").json()["status"] == "active"


# --- 2. cross-chain ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain",
    [
        {"chainId": 1},
        {"chainId": 11155111},
        {"verifyingContract": "processing"},
        {"verifyingContract": "other"},
    ],
    ids=["mainnet", "sepolia", "the-processing-module", "another-contract"],
)
def test_a_signature_for_another_domain_is_refused(client, shipper, receiver, domain):
    prepared = prepared_dispatch(client, shipper, receiver)
    typed = prepared["typed_data"]
    deployment = client.get("/deployment").json()
    contracts = {"processing": deployment["processing"]["address"], "other": Account.create().address}
    foreign = copy.deepcopy(typed)
    foreign["domain"].update({k: contracts.get(v, v) for k, v in domain.items()})
    with leaves_no_trace(client):
        error = only_error(client.post("/transfers", json=signed_by(shipper, foreign, typed["message"])), 422)
    assert (error["type"], error["loc"]) == ("invalid_signature", ["body", "signature"])
    assert shipper.address in error["msg"] and "it was signed by 0x" in error["msg"]
    assert client.get(f"/transfers/{prepared['digest']}").status_code == 404


# --- 3. expiry ---------------------------------------------------------------------------------------


def test_a_deadline_in_the_past_is_refused_at_preparation(client, shipper, receiver):
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    with leaves_no_trace(client):
        response = client.post(
            "/transfers/dispatches/prepare", json={**dispatch_terms(shipper, receiver), "deadline": yesterday}
        )
    error = only_error(response, 422)
    assert (error["type"], error["loc"]) == ("deadline_passed", ["body", "deadline"])


@pytest.mark.parametrize("statement", ["dispatch", "receipt"])
def test_a_signed_statement_past_its_deadline_is_refused(client, shipper, receiver, statement):
    if statement == "dispatch":
        url, signer, typed = "/transfers", shipper, prepared_dispatch(client, shipper, receiver)["typed_data"]
    else:
        transfer = dispatch(client, shipper, receiver)
        url, signer = f"/transfers/{transfer['id']}/receipt", receiver
        typed = prepared_receipt(client, transfer["id"])["typed_data"]
    expired = with_message(typed, deadline="1700000000")  # November 2023, signed as such
    with leaves_no_trace(client):
        error = only_error(client.post(url, json=signed_by(signer, expired)), 422)
    assert (error["type"], error["loc"]) == ("signature_expired", ["body", "message", "deadline"])
    assert "2023-11-14T22:13:20+00:00 has passed" in error["msg"]


def test_a_statement_whose_deadline_passed_before_it_was_submitted_is_refused(client, shipper, receiver):
    # The service simulates a statement before it keeps it. Simulated in the latest block (mined before the
    # deadline), this one passed, was kept, sent, and reverted in the next block: a failed statement in the
    # outbox and a block on the chain. It is simulated in the pending block now, at the chain's present time.
    deadline = datetime.now(UTC) + timedelta(seconds=2)
    prepared = prepared_dispatch(client, shipper, receiver, deadline=deadline.isoformat())
    body = shipper.signed_body(prepared)
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 1.5)
    with leaves_no_trace(client):
        error = only_error(client.post("/transfers", json=body), 422)
    assert (error["type"], error["loc"]) == ("signature_expired", ["body", "message", "deadline"])


# --- 4. forgery --------------------------------------------------------------------------------------

IMPOSTOR = Party("impostor")

# How an attacker makes a dispatch body from the shipper's prepared typed data, and the error it gets.
FORGERIES = {
    "signed-by-another-key": (
        lambda typed, shipper, receiver: signed_by(IMPOSTOR, typed),
        "invalid_signature",
    ),
    "signed-by-the-receiver": (
        lambda typed, shipper, receiver: signed_by(receiver, typed),
        "invalid_signature",
    ),
    "quantity-changed-after-signing": (
        lambda typed, shipper, receiver: signed_by(shipper, typed, {**typed["message"], "quantity": "99999"}),
        "invalid_signature",
    ),
    "document-swapped-after-signing": (
        lambda typed, shipper, receiver: signed_by(
            shipper, typed, {**typed["message"], "documentHash": "0x" + "e1" * 32}
        ),
        "invalid_signature",
    ),
    "all-zero-signature": (
        lambda typed, *_: {"message": typed["message"], "signature": "0x" + "00" * 65},
        "invalid_signature",
    ),
    "too-short": (
        lambda typed, *_: {"message": typed["message"], "signature": "0xdeadbeef"},
        "string_pattern_mismatch",
    ),
    "one-byte-too-long": (
        lambda typed, shipper, _: {"message": typed["message"], "signature": shipper.sign(typed) + "1b"},
        "invalid_signature",
    ),
    "not-hex": (
        lambda typed, *_: {"message": typed["message"], "signature": "0x" + "zz" * 65},
        "string_pattern_mismatch",
    ),
    "missing": (lambda typed, *_: {"message": typed["message"]}, "missing"),
}


@pytest.mark.parametrize(("forge", "kind"), FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_dispatch_is_refused_naming_the_signature(client, shipper, receiver, forge, kind):
    prepared = prepared_dispatch(client, shipper, receiver)
    typed = prepared["typed_data"]
    with leaves_no_trace(client):
        error = only_error(client.post("/transfers", json=forge(typed, shipper, receiver)), 422)
    assert (error["type"], error["loc"]) == (kind, ["body", "signature"])
    if kind == "invalid_signature":
        assert f"not shipper {shipper.address}'s signature" in error["msg"]
    assert client.get(f"/transfers/{prepared['digest']}").status_code == 404
    assert lot_balance(client, shipper.lot_id) == 100_000


def test_a_firm_cannot_sign_for_the_regulator(client, regulator):
    # The firm takes a registration the regulator prepared and signs it itself: the regulator is named.
    firm, newcomer = Party("firm"), Party("newcomer")
    register(client, regulator, firm, "SHIPPER")
    prepared = client.post(
        "/participants/registrations/prepare",
        json={
            "regulator": regulator.address,
            "participant": newcomer.address,
            "roles": ["REGULATOR"],
            "legal_name": "Newcomer JSC",
            "enterprise_id": "0387654321",
            "park": "Phu My 3",
        },
    ).json()
    with leaves_no_trace(client):
        error = only_error(client.post("/participants", json=firm.signed_body(prepared)), 422)
    assert (error["type"], error["loc"]) == ("invalid_signature", ["body", "signature"])
    assert f"it was signed by {firm.address}" in error["msg"]


# --- 5. roles ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def firms(client, regulator) -> dict[str, Party]:
    """A shipper with a lot, a receiver with a permit, a transporter, a lab and an unrelated shipper, and a
    transfer between the first two."""
    shipper, receiver = trading_pair(client, regulator)
    transporter, unrelated = Party("transporter"), Party("unrelated")
    register(client, regulator, transporter, "TRANSPORTER")
    register(client, regulator, unrelated, "SHIPPER", "RECEIVER")
    firms = {
        "shipper": shipper,
        "receiver": receiver,
        "transporter": transporter,
        "lab": accredited_lab(client, regulator),
        "unrelated": unrelated,
    }
    firms["transfer"] = dispatch(client, shipper, receiver)["id"]
    return firms


def permit_terms(regulator_address: str, holder: Party) -> dict:
    now = datetime.now(UTC)
    return {
        "regulator": regulator_address,
        "permit_number": f"FORGED-{holder.address[2:10]}",
        "holder": holder.address,
        "kind": "ENVIRONMENTAL_PERMIT",
        "coverage": [{"scheme": "EU-LOW", "code": "10 02 02", "operations": ["R5"]}],
        "yearly_capacity": 10**6,
        "valid_from": now.isoformat(),
        "valid_until": (now + timedelta(days=30)).isoformat(),
    }


# Who tries what, as itself, with its own sign-in: (actor, prepare path, terms, the field refused, the role).
OUT_OF_ROLE = {
    "transporter-dispatches": (
        "transporter",
        "/transfers/dispatches/prepare",
        lambda f: dispatch_terms(f["transporter"], f["receiver"], lot_id=f["shipper"].lot_id),
        "shipper",
        "SHIPPER",
    ),
    "lab-dispatches": (
        "lab",
        "/transfers/dispatches/prepare",
        lambda f: dispatch_terms(f["lab"], f["receiver"], lot_id=f["shipper"].lot_id),
        "shipper",
        "SHIPPER",
    ),
    "shipper-registers-a-permit": (
        "shipper",
        "/permits/prepare",
        lambda f: permit_terms(f["shipper"].address, f["shipper"]),
        "regulator",
        "REGULATOR",
    ),
    "receiver-suspends-a-competitor": (
        "receiver",
        "/participants/{unrelated}/status/prepare",
        lambda f: {"regulator": f["receiver"].address, "suspended": True, "reason": "a competitor"},
        "regulator",
        "REGULATOR",
    ),
    "lab-registers-a-lot": (
        "lab",
        "/lots/prepare",
        lambda f: {
            "generator": f["lab"].address,
            "waste_scheme": "EU-LOW",
            "waste_code": "10 02 02",
            "quantity": 5,
            "unit": "KGM",
            "document_hash": "0x" + "9e" * 32,
        },
        "generator",
        "SHIPPER",
    ),
}


@pytest.mark.parametrize(("actor", "path", "terms", "field", "role"), OUT_OF_ROLE.values(), ids=OUT_OF_ROLE)
def test_a_firm_cannot_prepare_outside_its_role(client, firms, actor, path, terms, field, role):
    path = path.format(unrelated=firms["unrelated"].address)
    with leaves_no_trace(client):
        response = client.post(path, json=terms(firms), headers=sign_in(client, firms[actor]))
    error = only_error(response, 403)
    assert (error["type"], error["loc"][-1]) == ("missing_role", field)
    assert f"does not hold the {role} role" in error["msg"]


@pytest.mark.parametrize("actor", ["transporter", "lab"])
def test_the_chain_refuses_a_dispatch_signed_outside_the_signers_role(client, firms, actor):
    # Past the service's preparation: the firm builds the statement itself, from a genuine one.
    intruder = firms[actor]
    typed = prepared_dispatch(client, firms["shipper"], firms["receiver"])["typed_data"]
    own = with_message(typed, shipper=intruder.address)
    with leaves_no_trace(client):
        response = client.post("/transfers", json=signed_by(intruder, own), headers=sign_in(client, intruder))
    error = only_error(response, 403)
    assert (error["type"], error["loc"]) == ("missing_role", ["body", "message", "shipper"])
    assert intruder.address in error["msg"]


def test_the_chain_refuses_a_permit_signed_by_a_firm_naming_itself_regulator(client, regulator, firms):
    firm = firms["unrelated"]
    typed = client.post("/permits/prepare", json=permit_terms(regulator.address, firm)).json()["typed_data"]
    own = with_message(typed, regulator=firm.address)
    with leaves_no_trace(client):
        error = only_error(
            client.post("/permits", json=signed_by(firm, own), headers=sign_in(client, firm)), 403
        )
    assert (error["type"], error["loc"]) == ("missing_role", ["body", "message", "regulator"])


@pytest.mark.parametrize("actor", ["shipper", "lab"])
def test_regulator_only_reads_are_refused_to_a_firm(client, firms, actor):
    headers = sign_in(client, firms[actor])
    audit = only_error(client.get("/documents/audit", headers=headers), 403)
    assert audit["type"] == "not_regulator" and firms[actor].address in audit["msg"]
    bundle = client.get(f"/verification/transfers/{firms['transfer']}/bundle", headers=headers)
    assert only_error(bundle, 403)["type"] == "regulators_only"


@pytest.mark.parametrize(
    "path",
    [
        "/transfers/{transfer}",
        "/transfers/{transfer}/corrections",
        "/transfers/{transfer}/correction-requests",
        "/verification/transfers/{transfer}",
    ],
)
@pytest.mark.parametrize("actor", ["unrelated", "lab"])
def test_a_firm_does_not_see_a_transfer_it_is_no_party_to(client, firms, actor, path):
    transfer = firms["transfer"]
    headers = sign_in(client, firms[actor])
    error = only_error(client.get(path.format(transfer=transfer), headers=headers), 404)
    assert (error["type"], error["loc"][-1]) == ("unknown_transfer", "transfer_id")
    listed = client.get("/transfers", params={"limit": 500}, headers=headers).json()["items"]
    assert transfer not in [t["id"] for t in listed]
    # …as the shipper, a party to it, does.
    assert (
        client.get(path.format(transfer=transfer), headers=sign_in(client, firms["shipper"])).status_code
        == 200
    )


# --- 6. suspension -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def suspended(client, regulator) -> dict:
    """A shipper suspended after it signed in, uploaded a document, dispatched once and signed a second
    dispatch it had not yet submitted; and its receiver."""
    shipper, receiver = trading_pair(client, regulator)
    token, spare_token = sign_in(client, shipper), sign_in(client, shipper)
    document = upload(client, shipper, PDF + b"% before the suspension\n")
    transfer = dispatch(client, shipper, receiver, quantity=1_000)["id"]
    signed_before = shipper.signed_body(prepared_dispatch(client, shipper, receiver, quantity=2_000))
    suspend(client, regulator, shipper)
    return {
        "shipper": shipper,
        "receiver": receiver,
        "token": token,
        "spare_token": spare_token,
        "document": document,
        "transfer": transfer,
        "signed_before": signed_before,
    }


def test_a_suspended_firm_cannot_sign_in(client, suspended):
    shipper = suspended["shipper"]
    with leaves_no_trace(client):
        response = client.post("/auth/token", json=signed_challenge(client, shipper))
    error = only_error(response, 403)
    assert (error["type"], error["loc"]) == ("participant_not_active", ["body", "message"])
    assert shipper.address in error["msg"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/auth/me"),
        ("GET", "/transfers"),
        ("GET", "/transfers/{transfer}"),
        ("GET", "/lots/{lot}"),
        ("GET", "/documents/{document}"),
        ("GET", "/verification/firms/{shipper}"),
        ("GET", "/exports/registry"),
        ("GET", "/webhooks"),
        ("POST", "/webhooks"),
        ("POST", "/documents"),
        ("POST", "/transfers/dispatches/prepare"),
        ("POST", "/transfers"),
    ],
)
def test_a_suspended_firms_token_neither_reads_nor_writes(client, suspended, method, path):
    shipper = suspended["shipper"]
    url = path.format(
        transfer=suspended["transfer"],
        lot=shipper.lot_id,
        document=suspended["document"],
        shipper=shipper.address,
    )
    # Refused before the body is read: no body is needed to be refused, and any would be.
    kwargs = (
        {"files": {"file": ("document", PDF, "application/pdf")}}
        if path == "/documents" and method == "POST"
        else {"json": {"url": "https://erp.example.com/hooks"}}
        if path == "/webhooks" and method == "POST"
        else {"json": suspended["signed_before"]}
        if method == "POST"
        else {}
    )
    with leaves_no_trace(client):
        response = client.request(method, url, headers=suspended["token"], **kwargs)
    error = only_error(response, 403)
    assert error == {
        "loc": ["header", "Authorization"],
        "msg": f"{shipper.address} is suspended",
        "type": "participant_not_active",
    }


def test_a_suspended_firm_may_still_give_up_its_token(client, suspended):
    # Else the token would serve again should the firm be reinstated before it expires.
    assert client.post("/auth/logout", headers=suspended["spare_token"]).status_code == 204
    error = only_error(client.get("/auth/me", headers=suspended["spare_token"]), 401)
    assert (error["type"], error["loc"]) == ("not_signed_in", ["header", "Authorization"])
    assert (
        only_error(client.get("/auth/me", headers=suspended["token"]), 403)["type"]
        == "participant_not_active"
    )


def test_a_suspended_firms_signed_statements_are_refused(client, suspended):
    shipper, receiver = suspended["shipper"], suspended["receiver"]
    balance = lot_balance(client, shipper.lot_id)
    with leaves_no_trace(client):
        # Signed before the suspension, handed to the service by anyone: the chain checks the signer now.
        late = only_error(client.post("/transfers", json=suspended["signed_before"]), 403)
        anew = only_error(
            client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)), 403
        )
    for error in (late, anew):
        assert (error["type"], error["loc"][-1]) == ("suspended_participant", "shipper")
        assert f"shipper {shipper.address} is suspended by a regulator" == error["msg"]
    assert lot_balance(client, shipper.lot_id) == balance


def test_others_cannot_name_a_suspended_firm(client, regulator, suspended):
    other = Party("other shipper")
    register(client, regulator, other, "SHIPPER")
    register_lot(client, other)
    # The ledger asks whether a party is suspended before what roles it holds.
    with leaves_no_trace(client):
        response = client.post(
            "/transfers/dispatches/prepare", json=dispatch_terms(other, suspended["shipper"])
        )
    error = only_error(response, 422)  # the counterparty, not the signer: bad input, not forbidden
    assert (error["type"], error["loc"][-1]) == ("suspended_participant", "receiver")


# --- 7. malformed and oversized bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("excess", [1, 200_000], ids=["refused-while-streaming", "refused-by-content-length"])
def test_an_oversized_upload_is_refused_with_413(client, settings, shipper, monkeypatch, excess):
    monkeypatch.setattr(settings, "document_max_bytes", 4096)
    content = PDF + b"x" * (4096 - len(PDF) + excess)
    with leaves_no_trace(client):
        response = client.post(
            "/documents",
            files={"file": ("document", content, "application/pdf")},
            headers=sign_in(client, shipper),
        )
    assert response.headers["content-type"] == "application/json"
    assert only_error(response, 413) == {
        "loc": ["body", "file"],
        "msg": "the file is larger than the limit of 4096 bytes",
        "type": "document_too_large",
    }


@pytest.mark.parametrize(
    ("content", "media_type", "status", "kind", "reason"),
    [
        (b"", "application/pdf", 422, "empty_file", "the file is empty"),
        (b"hello, regulator", "text/plain", 415, "unsupported_media_type", "not a PDF, PNG, JPEG or JSON"),
        (
            b"%PDF-1.4 fake",
            "image/png",
            415,
            "unsupported_media_type",
            "declared image/png, but the content is a PDF",
        ),
        (b'{"lot": ', "application/json", 415, "unsupported_media_type", "not valid JSON"),
        (b"MZ\x90\x00" + bytes(60), "application/pdf", 415, "unsupported_media_type", "not a PDF, PNG, JPEG"),
    ],
    ids=["empty", "text", "pdf-declared-png", "broken-json", "executable-declared-pdf"],
)
def test_a_malformed_upload_is_refused_naming_the_file(
    client, shipper, content, media_type, status, kind, reason
):
    with leaves_no_trace(client):
        response = client.post(
            "/documents", files={"file": ("document", content, media_type)}, headers=sign_in(client, shipper)
        )
    error = only_error(response, status)
    assert (error["type"], error["loc"]) == (kind, ["body", "file"])
    assert reason in error["msg"]


def test_an_upload_that_is_not_multipart_is_refused(client, shipper):
    with leaves_no_trace(client):
        response = client.post(
            "/documents", content=PDF, headers={**sign_in(client, shipper), "Content-Type": "application/pdf"}
        )
    assert only_error(response, 415)["loc"] == ["header", "content-type"]


@pytest.mark.parametrize(
    ("content", "content_type", "kind"),
    [
        (b'{"message": {"shipper": ', "application/json", "json_invalid"),
        (b"dispatch 12300 kg to the receiver", "application/json", "json_invalid"),
        (b'{"message": "\xff"}', "application/json", "json_invalid"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "json_invalid"),
        (b'{"message": {}, "signature": "0x00"}', "text/plain", "model_attributes_type"),
        (b"[]", "application/json", "model_attributes_type"),
    ],
    ids=["truncated", "not-json", "not-utf8", "nested-too-deep", "not-sent-as-json", "not-an-object"],
)
def test_a_json_body_that_is_not_a_statement_is_refused(client, content, content_type, kind):
    with leaves_no_trace(client):
        response = client.post("/transfers", content=content, headers={"Content-Type": content_type})
    error = only_error(response, 422)
    assert error["type"] == kind and error["loc"][0] == "body", error


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("certificates", ["0x" + "c1" * 32] * 50_000, "at most 16 items"),
        ("transporters", [IMPOSTOR.address] * 50_000, "at most 8 items"),
        ("operation", "R5" * 500_000, "unknown operation"),
    ],
)
def test_an_oversized_field_is_refused_by_name(client, shipper, receiver, field, value, reason):
    # The JSON endpoints take bodies of any size (no limit is set): what a statement may hold is bounded field
    # by field, so a megabyte-sized message is refused naming the field that is too large.
    typed = prepared_dispatch(client, shipper, receiver)["typed_data"]
    body = signed_by(shipper, typed, {**typed["message"], field: value})
    with leaves_no_trace(client):
        response = client.post("/transfers", json=body)
    error = only_error(response, 422)
    assert error["loc"] == ["body", "message", field] and reason in error["msg"]
    assert len(response.content) < 1_000  # the field and the reason, not the megabyte sent back

"""Documents: encrypted at rest, bound to their hash, read only by those the chain ties to them, every
read in the audit log; the uploader and the reader are the signed-in party."""

import hashlib
import json
import os
import stat
from datetime import datetime, timedelta
from functools import cache

import pytest
from parties import (
    Party,
    accredited_lab,
    dispatch,
    register,
    sign_in,
    signed_submit,
)
from typer.testing import CliRunner
from workflows import keystore_of, served

from ledger_service.cli import app as cli_app
from ledger_service.documents.crypto import CONTENT_OFFSET, HEADER_BYTES, DocumentUnreadable, MasterKey
from ledger_service.documents.store import DocumentStore
from ledger_service.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(64)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(64)


def pdf(title: str) -> bytes:
    """A small PDF whose body repeats a marker, so that a plaintext leak on disk would show."""
    return (
        b"%PDF-1.7\n% weighbridge ticket " + title.encode() + b"\n" + b"SLAG-12300-KGM " * 200 + b"\n%%EOF\n"
    )


def sha(content: bytes) -> str:
    return "0x" + hashlib.sha256(content).hexdigest()


@cache
def signed_in(client, party: Party) -> dict[str, str]:
    """The party's Authorization header: signed in once, the token kept for every later request."""
    return sign_in(client, party)


def upload(client, party: Party, content: bytes, content_type: str = "application/octet-stream"):
    return upload_as(client, signed_in(client, party), content, content_type)


def upload_as(
    client, headers: dict[str, str], content: bytes, content_type: str = "application/octet-stream"
):
    return client.post("/documents", files={"file": ("document", content, content_type)}, headers=headers)


def uploaded(client, party: Party, content: bytes) -> str:
    response = upload(client, party, content)
    assert response.status_code == 201, response.text
    return response.json()["sha256"]


def download(client, party: Party, document: str):
    return client.get(f"/documents/{document}", headers=signed_in(client, party))


def audit(client, regulator: Party, **params) -> dict:
    response = client.get("/documents/audit", params=params, headers=signed_in(client, regulator))
    assert response.status_code == 200, response.text
    return response.json()


def actions(client, regulator: Party, document: str) -> list[tuple[str, str]]:
    return [(e["party"], e["action"]) for e in audit(client, regulator, sha256=document, limit=500)["items"]]


def error(response) -> dict:
    return response.json()["detail"][0]


def store(client):
    return client.app.state.document_store


def test_round_trip_of_each_accepted_type(client, regulator, shipper):
    for content, media_type in [
        (pdf("round trip"), "application/pdf"),
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (json.dumps({"lot": "0x01", "results": {"Pb_mg_kg": 12}}).encode(), "application/json"),
    ]:
        response = upload(client, shipper, content)
        assert response.status_code == 201, response.text
        assert response.json() == {"sha256": sha(content), "size": len(content), "media_type": media_type}
        assert response.headers["X-Request-ID"]

        read = download(client, shipper, sha(content))
        assert read.status_code == 200, read.text
        assert read.content == content
        assert read.headers["content-type"] == media_type
        assert read.headers["cache-control"] == "no-store"
        assert actions(client, regulator, sha(content)) == [
            (shipper.address, "upload"),
            (shipper.address, "download"),
        ]


def test_on_disk_the_document_is_ciphertext_under_a_private_master_key(client, settings, shipper):
    content = pdf("at rest")
    document = uploaded(client, shipper, content)
    blob = store(client).path(document).read_bytes()
    assert store(client).path(document).name == document[2:]  # content-addressed by the plaintext's hash
    assert content not in blob and b"SLAG-12300-KGM" not in blob and b"%PDF" not in blob
    assert len(blob) == CONTENT_OFFSET + len(content) + 16  # header, nonce, ciphertext, GCM tag
    key_file = settings.resolved_master_key_file
    assert len(key_file.read_bytes()) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes() not in blob
    # The same plaintext uploaded again is encrypted afresh (new data key and nonce), under the same name.
    assert upload(client, shipper, content).status_code == 201
    assert store(client).path(document).read_bytes()[HEADER_BYTES:] != blob[HEADER_BYTES:]
    assert not list((store(client).root / ".incoming").iterdir())


@pytest.mark.parametrize("offset", ["content", "wrapped key", "tag"])
def test_a_tampered_blob_is_refused_and_audited(client, regulator, shipper, offset):
    content = pdf(f"tamper {offset}")
    document = uploaded(client, shipper, content)
    path = store(client).path(document)
    blob = bytearray(path.read_bytes())
    at = {"content": CONTENT_OFFSET + 40, "wrapped key": HEADER_BYTES - 5, "tag": len(blob) - 1}[offset]
    blob[at] ^= 0x01
    path.write_bytes(bytes(blob))

    response = download(client, shipper, document)
    assert response.status_code == 500
    assert error(response)["type"] == "integrity_failure"
    assert "failed its integrity check and was not served" in error(response)["msg"]
    assert content not in response.content
    entries = audit(client, regulator, sha256=document, action="integrity_failure")["items"]
    assert [(e["party"], e["request_id"]) for e in entries] == [
        (shipper.address, response.headers["X-Request-ID"])
    ]
    assert "altered" in entries[0]["detail"]
    # The owner uploading the same file again repairs the stored copy.
    assert upload(client, shipper, content).status_code == 201
    assert download(client, shipper, document).content == content


def test_swapped_blobs_are_detected(client, regulator, shipper):
    first, second = pdf("swap one"), pdf("swap two")
    a, b = uploaded(client, shipper, first), uploaded(client, shipper, second)
    path_a, path_b = store(client).path(a), store(client).path(b)
    blob_a, blob_b = path_a.read_bytes(), path_b.read_bytes()
    path_a.write_bytes(blob_b)
    path_b.write_bytes(blob_a)
    for document in (a, b):
        response = download(client, shipper, document)
        assert response.status_code == 500 and error(response)["type"] == "integrity_failure"
        assert "another document" in error(response)["msg"] or "altered" in error(response)["msg"]
        assert actions(client, regulator, document)[-1] == (shipper.address, "integrity_failure")
    # Only the header swapped back (content still the other document's): the content fails GCM.
    path_a.write_bytes(blob_a[:HEADER_BYTES] + blob_b[HEADER_BYTES:])
    response = download(client, shipper, a)
    assert response.status_code == 500 and "AES-GCM" in error(response)["msg"]


def test_a_missing_blob_is_an_integrity_failure(client, regulator, shipper):
    document = uploaded(client, shipper, pdf("lost"))
    store(client).path(document).unlink()
    response = download(client, shipper, document)
    assert response.status_code == 500 and "missing" in error(response)["msg"]
    assert actions(client, regulator, document)[-1] == (shipper.address, "integrity_failure")


def test_who_may_read_a_transfer_document(client, regulator, shipper, receiver):
    carrier, stranger = Party("carrier"), Party("stranger")
    register(client, regulator, carrier, "TRANSPORTER")
    register(client, regulator, stranger, "SHIPPER", "RECEIVER")
    ticket = pdf("transfer document")
    document = uploaded(client, shipper, ticket)
    transfer = dispatch(client, shipper, receiver, document_hash=document, transporters=[carrier.address])

    for reader in (shipper, receiver, carrier, regulator):
        response = download(client, reader, document)
        assert response.status_code == 200, (reader.name, response.text)
        assert response.content == ticket
    refused = download(client, stranger, document)
    assert refused.status_code == 403
    assert error(refused) == {
        "loc": ["path", "sha256"],
        "msg": f"{stranger.address} may not read document {document}: only its uploader, the parties of "
        "transfers, lots and certificates citing it, and regulators may",
        "type": "document_access_denied",
    }
    assert ticket not in refused.content
    entries = audit(client, regulator, sha256=document)["items"]
    assert all(datetime.fromisoformat(e["at"]).utcoffset() == timedelta(0) for e in entries)  # RFC 3339
    assert [(e["party"], e["action"], e["detail"]) for e in entries] == [
        (shipper.address, "upload", None),
        (shipper.address, "download", "as uploader"),
        (receiver.address, "download", f"as receiver of transfer {transfer['id']}"),
        (carrier.address, "download", f"as transporter of transfer {transfer['id']}"),
        (regulator.address, "download", "as regulator"),
        (stranger.address, "denied", None),
    ]
    assert entries[-1]["request_id"] == refused.headers["X-Request-ID"]


def test_who_may_read_certificates_and_generation_records(client, regulator, shipper, receiver):
    lab = accredited_lab(client, regulator)
    certificate, results = pdf("certificate of analysis"), json.dumps({"Cd_mg_kg": 0.4}).encode()
    certificate_hash, results_hash = uploaded(client, lab, certificate), uploaded(client, lab, results)
    terms = {
        "lab": lab.address,
        "lot_id": shipper.lot_id,
        "accreditation_id": lab.permit_id,
        "document_hash": certificate_hash,
        "results_hash": results_hash,
        "valid_until": "2099-01-01T00:00:00+00:00",
    }
    signed_submit(client, lab, "/certificates/prepare", terms, "/certificates")
    for document in (certificate_hash, results_hash):
        assert download(client, shipper, document).status_code == 200  # the certified lot's holder
        assert download(client, receiver, document).status_code == 403

    # A generation record the lab sampled and uploaded; the generator cites it when declaring its lot.
    record = json.dumps({"sampling": "composite of 12", "site": "kiln 2"}).encode()
    record_hash = uploaded(client, lab, record)
    assert download(client, shipper, record_hash).status_code == 403
    lot = signed_submit(
        client,
        shipper,
        "/lots/prepare",
        {
            "generator": shipper.address,
            "waste_scheme": "EU-LOW",
            "waste_code": "10 02 02",
            "quantity": 5_000,
            "unit": "KGM",
            "document_hash": record_hash,
        },
        "/lots",
    )
    assert download(client, shipper, record_hash).content == record
    assert actions(client, regulator, record_hash)[-2:] == [
        (shipper.address, "denied"),
        (shipper.address, "download"),
    ]
    assert (
        audit(client, regulator, sha256=record_hash)["items"][-1]["detail"]
        == f"as generator of lot {lot['id']}"
    )


def test_only_known_documents_are_served(client, regulator, shipper):
    unknown = sha(b"never uploaded")
    response = download(client, regulator, unknown)
    assert response.status_code == 404 and error(response)["type"] == "unknown_document"
    assert audit(client, regulator, sha256=unknown)["total"] == 0
    # An unknown document is refused to a non-regulator without saying whether it exists.
    assert download(client, shipper, unknown).status_code == 403


def test_oversized_uploads_are_refused_and_leave_nothing(client, settings, shipper, monkeypatch):
    monkeypatch.setattr(settings, "document_max_bytes", 4096)
    before = set(store(client).root.rglob("*"))
    for size in (4097, 200_000):  # refused while streaming; refused by its Content-Length up front
        content = pdf("big") + b"x" * size
        response = upload(client, shipper, content)
        assert response.status_code == 413, response.text
        assert error(response) == {
            "loc": ["body", "file"],
            "msg": "the file is larger than the limit of 4096 bytes",
            "type": "document_too_large",
        }
    assert set(store(client).root.rglob("*")) == before
    just_fits = pdf("fits")
    just_fits += b" " * (4096 - len(just_fits))
    assert upload(client, shipper, just_fits).status_code == 201


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (b"hello, regulator", "text/plain", 415, "not a PDF, PNG, JPEG or JSON document"),
        (b'{"lot": ', "application/json", 415, "not valid JSON (Expecting value at line 1 column 9)"),
        (b'"just a string"', "application/json", 415, "nor with a JSON object or array"),
        (b"GIF89a" + bytes(32), "image/gif", 415, "not a PDF, PNG, JPEG or JSON document"),
        (b"%PDF-1.4 fake", "image/png", 415, "declared image/png, but the content is a PDF"),
        (b"", "application/pdf", 422, "the file is empty"),
    ],
)
def test_wrong_types_are_refused_naming_the_reason(client, shipper, content, content_type, status, message):
    response = upload(client, shipper, content, content_type)
    assert response.status_code == status, response.text
    assert error(response)["loc"] == ["body", "file"]
    assert message in error(response)["msg"]
    assert not store(client).path(sha(content)).exists()


def test_malformed_upload_bodies_are_refused(client, shipper):
    content = pdf("form")
    signed = signed_in(client, shipper)
    missing = client.post("/documents", data={"note": "x"}, files={"other": ("a", content)}, headers=signed)
    assert missing.status_code == 422 and error(missing)["loc"] in (["body", "note"], ["body", "other"])
    not_multipart = client.post(
        "/documents", content=content, headers={**signed, "Content-Type": "application/pdf"}
    )
    assert not_multipart.status_code == 415 and error(not_multipart)["loc"] == ["header", "content-type"]
    assert not store(client).path(sha(content)).exists()


def test_without_a_live_token_nothing_is_uploaded_or_read(client, regulator, settings, shipper, monkeypatch):
    document = uploaded(client, shipper, pdf("signed in"))
    content = pdf("never stored")
    firm = Party("firm")
    register(client, regulator, firm, "SHIPPER")
    revoked = sign_in(client, firm)
    assert client.post("/auth/logout", headers=revoked).status_code == 204
    monkeypatch.setattr(settings, "access_token_seconds", 0)
    expired = sign_in(client, firm)
    monkeypatch.undo()

    for headers in ({"Authorization": ""}, {"Authorization": "Bearer made-up"}, revoked, expired):
        for response in (
            upload_as(client, headers, content),
            client.get(f"/documents/{document}", headers=headers),
            client.get("/documents/audit", headers=headers),
        ):
            assert response.status_code == 401, (headers, response.text)
            assert error(response)["type"] == "not_signed_in"
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert pdf("signed in") not in response.content
    assert not store(client).path(sha(content)).exists()
    # Refused before anyone was known: nothing in the audit log but the upload.
    assert actions(client, regulator, document) == [(shipper.address, "upload")]
    assert audit(client, regulator, party=firm.address)["total"] == 0


def test_the_audit_log_is_for_regulators_with_filters_and_pages(client, regulator, shipper, receiver):
    first, second = uploaded(client, shipper, pdf("audit one")), uploaded(client, shipper, pdf("audit two"))
    download(client, receiver, first)
    download(client, shipper, second)

    response = client.get("/documents/audit", headers=signed_in(client, shipper))
    assert response.status_code == 403 and error(response)["type"] == "not_regulator"
    assert shipper.address in error(response)["msg"] and response.headers["X-Request-ID"]

    mine = audit(client, regulator, party=receiver.address)
    assert {(e["sha256"], e["action"]) for e in mine["items"]} >= {(first, "denied")}
    assert all(e["party"] == receiver.address for e in mine["items"])
    both = [
        e
        for e in audit(client, regulator, party=shipper.address, limit=500)["items"]
        if e["sha256"] in (first, second)
    ]
    assert [(e["sha256"], e["action"]) for e in both] == [
        (first, "upload"),
        (second, "upload"),
        (second, "download"),
    ]
    page = audit(client, regulator, sha256=second, limit=1, offset=1)
    assert page["total"] == 2 and page["offset"] == 1 and [e["action"] for e in page["items"]] == ["download"]
    bad = client.get("/documents/audit", params={"action": "erase"}, headers=signed_in(client, regulator))
    assert bad.status_code == 422 and error(bad)["loc"] == ["query", "action"]


def test_a_suspended_participant_is_refused_on_its_next_request(client, regulator, shipper):
    inspector = Party("inspector")
    register(client, regulator, inspector, "REGULATOR")
    document = uploaded(client, shipper, pdf("suspension"))
    assert download(client, inspector, document).status_code == 200
    assert client.get("/documents/audit", headers=signed_in(client, inspector)).status_code == 200
    assert upload(client, inspector, pdf("inspection report")).status_code == 201
    signed_submit(
        client,
        regulator,
        f"/participants/{inspector.address}/status/prepare",
        {"regulator": regulator.address, "suspended": True, "reason": "under investigation"},
        f"/participants/{inspector.address}/status",
    )
    # The same token, signed in before the suspension.
    for response in (
        download(client, inspector, document),
        client.get("/documents/audit", headers=signed_in(client, inspector)),
        upload(client, inspector, pdf("after suspension")),
    ):
        assert response.status_code == 403, response.text
        assert error(response) == {
            "loc": ["header", "Authorization"],
            "msg": f"{inspector.address} is suspended",
            "type": "participant_not_active",
        }
    assert not store(client).path(sha(pdf("after suspension"))).exists()
    assert actions(client, regulator, document)[-1] == (inspector.address, "download")


# --- the CLI, against the service over HTTP -------------------------------------------------------


@pytest.fixture(scope="module")
def api_url(client):
    with served(client.app) as url:
        yield url


def keystore_args(tmp_path, party: Party) -> list[str]:
    keystore, password = keystore_of(party, tmp_path)
    return ["-k", str(keystore), "--password-file", str(password)]


def test_cli_upload_and_download(client, api_url, tmp_path, regulator, shipper, receiver):
    runner = CliRunner()
    ticket = tmp_path / "ticket.pdf"
    ticket.write_bytes(pdf("cli"))
    uploaded_ = runner.invoke(
        cli_app, ["document", "upload", str(ticket), "--api", api_url, *keystore_args(tmp_path, shipper)]
    )
    assert uploaded_.exit_code == 0, uploaded_.output
    document = uploaded_.output.strip()
    assert document == sha(ticket.read_bytes())
    dispatch(client, shipper, receiver, document_hash=document)

    out = tmp_path / "received.pdf"
    got = runner.invoke(
        cli_app,
        [
            "document",
            "download",
            document,
            "--out",
            str(out),
            "--api",
            api_url,
            *keystore_args(tmp_path, receiver),
        ],
    )
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == ticket.read_bytes()
    assert "application/pdf" in got.output

    stranger = Party("stranger")
    register(client, regulator, stranger, "SHIPPER")
    denied = runner.invoke(
        cli_app,
        [
            "document",
            "download",
            document,
            "--out",
            str(tmp_path / "x"),
            "--api",
            api_url,
            *keystore_args(tmp_path, stranger),
        ],
    )
    assert denied.exit_code == 1 and "may not read document" in denied.output and "HTTP 403" in denied.output
    assert not (tmp_path / "x").exists()

    log = runner.invoke(
        cli_app,
        ["document", "audit", "--document", document, "--api", api_url, *keystore_args(tmp_path, regulator)],
    )
    assert log.exit_code == 0, log.output
    assert [(e["party"], e["action"]) for e in json.loads(log.output)["items"]] == [
        (shipper.address, "upload"),
        (receiver.address, "download"),
        (stranger.address, "denied"),
    ]
    not_regulator = runner.invoke(
        cli_app, ["document", "audit", "--api", api_url, *keystore_args(tmp_path, receiver)]
    )
    assert (
        not_regulator.exit_code == 1 and "only regulators read the document audit log" in not_regulator.output
    )


def test_rotating_the_master_key_rewraps_every_document(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMLEDGER_DATA_DIR", str(tmp_path))
    settings = Settings()
    store = DocumentStore.open(settings)
    contents = [pdf("rotation one"), PNG]
    for content in contents:
        incoming = store.receive(settings.document_max_bytes)
        incoming.write(content)
        assert incoming.finish() == sha(content)
        incoming.commit()
    new_key = tmp_path / "elsewhere" / "new.key"

    def rotate(key_file):
        return CliRunner().invoke(cli_app, ["document", "rotate-master-key", "--new-key-file", str(key_file)])

    result = rotate(new_key)
    assert result.exit_code == 0, result.output
    assert "2 documents rewrapped, 0 already under the new key" in result.output
    rotated = DocumentStore(settings.resolved_documents_dir, MasterKey.load_or_create(new_key))
    assert [rotated.read(sha(c)) for c in contents] == contents
    with pytest.raises(DocumentUnreadable, match="wrapped under master key"):
        store.read(sha(contents[0]))
    assert "0 documents rewrapped, 2 already" in rotate(new_key).output  # run again: nothing left to do

    # Under the new key now; one blob damaged: the other is rotated, the damaged one reported.
    monkeypatch.setenv("SYMLEDGER_MASTER_KEY_FILE", str(new_key))
    damaged = rotated.path(sha(PNG))
    blob = bytearray(damaged.read_bytes())
    blob[HEADER_BYTES - 1] ^= 0x80
    damaged.write_bytes(bytes(blob))
    third = tmp_path / "third.key"
    result = rotate(third)
    assert result.exit_code == 1
    assert "1 documents rewrapped" in result.output and f"keep {new_key}" in result.output
    assert sha(PNG)[2:] in result.output
    assert DocumentStore(rotated.root, MasterKey.load_or_create(third)).read(sha(contents[0])) == contents[0]

"""The party's terminal: encrypted keys, offline signing, one-line errors with a non-zero exit code."""

import json

from eth_account import Account
from parties import dispatch_terms
from typer.testing import CliRunner

from ledger_service.cli import app

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args))


def test_key_is_encrypted_and_needs_its_password(tmp_path):
    keystore, password = tmp_path / "firm.json", tmp_path / "pw"
    password.write_text("s3cret\n")
    created = cli("key", "new", "-k", str(keystore), "--password-file", str(password))
    assert created.exit_code == 0, created.output
    address = created.output.strip()
    assert cli("key", "address", "-k", str(keystore)).output.strip() == address
    assert "crypto" in json.loads(keystore.read_text())  # scrypt-encrypted, no plain key on disk
    assert Account.from_key(Account.decrypt(json.loads(keystore.read_text()), "s3cret")).address == address

    password.write_text("wrong\n")
    (tmp_path / "typed.json").write_text("{}")
    wrong = cli("sign", str(tmp_path / "typed.json"), "-k", str(keystore), "--password-file", str(password))
    assert wrong.exit_code == 1 and "wrong password" in wrong.output
    again = cli("key", "new", "-k", str(keystore), "--password-file", str(password))
    assert again.exit_code == 1 and again.output.strip().count("\n") == 0
    assert "refusing to overwrite" in again.output


def test_offline_signing_of_a_prepared_statement(client, tmp_path, shipper, receiver):
    # The shipper's key lives in its keystore; the service only ever sees the prepared JSON and the signature.
    keystore, password = tmp_path / "shipper.json", tmp_path / "pw"
    password.write_text("pw\n")
    keystore.write_text(json.dumps(Account.encrypt(shipper.account.key, "pw")))
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    (tmp_path / "prepared.json").write_text(json.dumps(prepared))

    signed = cli(
        "sign", str(tmp_path / "prepared.json"), "-k", str(keystore), "--password-file", str(password)
    )
    assert signed.exit_code == 0, signed.output
    body = json.loads(signed.output)
    assert body["statement"] == "Dispatch"
    response = client.post("/transfers", json={"message": body["message"], "signature": body["signature"]})
    assert response.status_code == 201, response.text
    assert response.json()["id"] == prepared["digest"]


def test_signing_refuses_a_statement_for_another_signer(client, tmp_path, shipper, receiver):
    keystore, password = tmp_path / "receiver.json", tmp_path / "pw"
    password.write_text("pw\n")
    keystore.write_text(json.dumps(Account.encrypt(receiver.account.key, "pw")))
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    (tmp_path / "prepared.json").write_text(json.dumps(prepared))
    result = cli(
        "sign", str(tmp_path / "prepared.json"), "-k", str(keystore), "--password-file", str(password)
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: this statement must be signed by shipper")


def test_unreadable_input_is_a_one_line_error(tmp_path):
    (tmp_path / "pw").write_text("pw\n")
    (tmp_path / "bad.json").write_text("{not json")
    cli("key", "new", "-k", str(tmp_path / "k.json"), "--password-file", str(tmp_path / "pw"))
    result = cli(
        "sign",
        str(tmp_path / "bad.json"),
        "-k",
        str(tmp_path / "k.json"),
        "--password-file",
        str(tmp_path / "pw"),
    )
    assert result.exit_code == 1
    assert result.output.startswith("error:") and result.output.count("\n") == 1
    unreachable = cli(
        "show",
        "transfer",
        "0x" + "00" * 32,
        "--api",
        "http://127.0.0.1:9",
        "-k",
        str(tmp_path / "k.json"),
        "--password-file",
        str(tmp_path / "pw"),
    )
    assert unreachable.exit_code == 1 and "cannot reach the service" in unreachable.output


def test_deploy_writes_the_record_once(tmp_path, regulator):
    # The production route (docs/deploy.md): a relayer key, `symledger deploy`, a deployment record.
    from conftest import free_port

    from ledger_service import devstack
    from ledger_service.deployment import Deployment
    from ledger_service.keystore import ensure_keystore

    data_dir = tmp_path / "data"
    keys = data_dir / "keys"
    ensure_keystore(keys / "relayer.json", keys / "relayer.password")
    with devstack.running_anvil(tmp_path / "node", free_port(), say=lambda _line: None) as rpc_url:
        env = {"SYMLEDGER_DATA_DIR": str(data_dir), "SYMLEDGER_RPC_URL": rpc_url}
        args = ["deploy", "--regulator", regulator.address, "--regulator-name", "Provincial DONRE"]
        first = runner.invoke(app, args, env=env)
        assert first.exit_code == 0, first.output
        record = Deployment.load(data_dir / "deployment.json")
        assert first.output.strip() == f"ledger {record.ledger.address} on chain {record.chain_id}"
        again = runner.invoke(app, args, env=env)
    assert again.exit_code == 1
    assert "exists: the contracts are deployed already" in again.output

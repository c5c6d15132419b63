"""Sign-in with the party's own key (EIP-4361): challenge, signature, bearer token; roles from the chain."""

from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from parties import Party, register, sign_in, signed_submit
from siwe import SiweMessage


def _signed(party: Party, message: str) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=message), party.account.key).signature).hex()


def _challenge(client: TestClient, party: Party) -> str:
    response = client.post("/auth/challenge", json={"address": party.address})
    assert response.status_code == 200, response.text
    return response.json()["message"]


def _detail(response) -> tuple[list, str]:
    detail = response.json()["detail"][0]
    return detail["loc"], detail["msg"]


def test_sign_in_gives_a_token_and_the_roles_on_chain(client: TestClient, regulator: Party, settings) -> None:
    firm = Party("Hoa Phat Steel")
    register(client, regulator, firm, "SHIPPER", "RECEIVER", park="Phu My 3")

    message = _challenge(client, firm)
    parsed = SiweMessage.from_message(message)
    # The challenge names this service, this chain and the address, and expires within minutes.
    assert parsed.address == firm.address
    assert parsed.domain == settings.resolved_public_url.split("://")[1]
    assert int(parsed.chain_id) == client.get("/deployment").json()["chain_id"]
    expires = datetime.fromisoformat(parsed.expiration_time.replace("Z", "+00:00"))
    assert timedelta(0) < expires - datetime.now(UTC) <= timedelta(seconds=settings.sign_in_challenge_seconds)

    token = client.post("/auth/token", json={"message": message, "signature": _signed(firm, message)})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    me = client.get("/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json() == {"address": firm.address, "roles": ["SHIPPER", "RECEIVER"], "park": "Phu My 3"}


def test_a_challenge_is_used_once(client: TestClient, regulator: Party) -> None:
    firm = Party("Formosa")
    register(client, regulator, firm, "SHIPPER")
    message = _challenge(client, firm)
    signature = _signed(firm, message)
    assert client.post("/auth/token", json={"message": message, "signature": signature}).status_code == 200
    replay = client.post("/auth/token", json={"message": message, "signature": signature})
    assert replay.status_code == 401
    assert _detail(replay) == (["body", "message"], "this challenge was used already: ask for a new one")


def test_someone_elses_signature_is_refused(client: TestClient, regulator: Party) -> None:
    firm, impostor = Party("Vedan"), Party("impostor")
    register(client, regulator, firm, "SHIPPER")
    message = _challenge(client, firm)
    response = client.post("/auth/token", json={"message": message, "signature": _signed(impostor, message)})
    assert response.status_code == 401
    assert _detail(response) == (
        ["body", "signature"],
        "the signature is not the named address's signature of this message",
    )
    # The refused attempt did not use the challenge up: the firm can still sign it.
    assert (
        client.post("/auth/token", json={"message": message, "signature": _signed(firm, message)}).status_code
        == 200
    )


def test_an_altered_or_foreign_challenge_is_refused(client: TestClient, regulator: Party) -> None:
    firm = Party("Taekwang")
    register(client, regulator, firm, "SHIPPER")
    message = _challenge(client, firm)
    # Another domain: a challenge some other site made the party sign.
    foreign = message.replace(message.split(" ", 1)[0], "evil.example", 1)
    response = client.post("/auth/token", json={"message": foreign, "signature": _signed(firm, foreign)})
    assert response.status_code == 401
    assert _detail(response) == (["body", "message"], "the challenge is for another service (domain)")
    # A nonce the service never issued.
    parsed = SiweMessage.from_message(message)
    parsed.nonce = "notissued123"
    made_up = parsed.prepare_message()
    response = client.post("/auth/token", json={"message": made_up, "signature": _signed(firm, made_up)})
    assert response.status_code == 401
    assert _detail(response)[1] == "unknown challenge: ask for a new one (POST /auth/challenge)"
    garbage = client.post("/auth/token", json={"message": "sign me in", "signature": "0x00"})
    assert garbage.status_code == 401
    assert _detail(garbage)[0] == ["body", "message"]


def test_expired_challenge_is_refused(client: TestClient, regulator: Party, settings) -> None:
    firm = Party("Kumho")
    register(client, regulator, firm, "SHIPPER")
    original = settings.sign_in_challenge_seconds
    settings.sign_in_challenge_seconds = -1
    try:
        message = _challenge(client, firm)
    finally:
        settings.sign_in_challenge_seconds = original
    response = client.post("/auth/token", json={"message": message, "signature": _signed(firm, message)})
    assert response.status_code == 401
    assert _detail(response)[1] == "the challenge has expired: ask for a new one"


def test_only_registered_participants_sign_in(client: TestClient) -> None:
    stranger = Party("stranger")
    message = _challenge(client, stranger)
    response = client.post("/auth/token", json={"message": message, "signature": _signed(stranger, message)})
    assert response.status_code == 403
    assert _detail(response)[1] == f"{stranger.address} is not an active participant"


def test_suspension_takes_effect_on_the_next_request(client: TestClient, regulator: Party) -> None:
    firm = Party("Lee & Man Paper")
    register(client, regulator, firm, "RECEIVER")
    headers = sign_in(client, firm)
    assert client.get("/auth/me", headers=headers).status_code == 200

    signed_submit(
        client,
        regulator,
        f"/participants/{firm.address}/status/prepare",
        {"regulator": regulator.address, "suspended": True, "reason": "permit under review"},
        f"/participants/{firm.address}/status",
    )

    refused = client.get("/auth/me", headers=headers)
    assert refused.status_code == 403
    assert _detail(refused) == (["header", "Authorization"], f"{firm.address} is suspended")


def test_missing_expired_and_revoked_tokens(client: TestClient, regulator: Party, settings) -> None:
    no_token = client.get("/auth/me", headers={"Authorization": ""})  # the client signs in as the regulator
    assert no_token.status_code == 401
    assert no_token.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/auth/me", headers={"Authorization": "Bearer made-up"}).status_code == 401

    firm = Party("Posco")
    register(client, regulator, firm, "SHIPPER")
    headers = sign_in(client, firm)
    assert client.post("/auth/logout", headers=headers).status_code == 204
    revoked = client.get("/auth/me", headers=headers)
    assert revoked.status_code == 401
    assert _detail(revoked)[1] == "the access token is unknown, expired or revoked: sign in again"

    original = settings.access_token_seconds
    settings.access_token_seconds = 0
    try:
        expired = sign_in(client, firm)
    finally:
        settings.access_token_seconds = original
    assert client.get("/auth/me", headers=expired).status_code == 401

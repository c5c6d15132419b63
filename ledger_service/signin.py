"""Sign-in with the party's own key (EIP-4361, "Sign-In with Ethereum").

The service issues a challenge (domain, address, chain id, a one-time nonce, issued-at and expiry); the party
signs it with its key (EIP-191, as every wallet's personal_sign does) wherever that key lives; the service
checks the signature, the domain, the nonce (once) and the expiry, and gives a short-lived bearer token.
Only the token's hash is stored, so a copy of the database signs nobody in. What the token's holder may do
is decided on every request from the on-chain registry (api/deps.py), not from the token: a participant
suspended after signing in is refused on its next request.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eth_utils import to_checksum_address
from siwe import SiweMessage, VerificationError, generate_nonce
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.db.models import AccessToken, SignInChallenge

STATEMENT = "Sign in to Symbiosis Ledger with this participant's key."


class SignInRefused(Exception):
    """The challenge or its signature does not hold; `field` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Challenge:
    message: str
    nonce: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    token: str
    address: str
    expires_at: datetime


def issue_challenge(
    session: Session, *, address: str, domain: str, uri: str, chain_id: int, ttl: timedelta, now: datetime
) -> Challenge:
    nonce = generate_nonce()
    expires_at = now + ttl
    message = SiweMessage(
        domain=domain,
        address=to_checksum_address(address),
        statement=STATEMENT,
        uri=uri,
        version="1",
        chain_id=chain_id,
        nonce=nonce,
        issued_at=_iso(now),
        expiration_time=_iso(expires_at),
    ).prepare_message()
    session.add(
        SignInChallenge(
            nonce=nonce, address=to_checksum_address(address), issued_at=now, expires_at=expires_at
        )
    )
    return Challenge(message, nonce, expires_at)


def redeem_challenge(
    session: Session,
    *,
    message: str,
    signature: str,
    domain: str,
    chain_id: int,
    token_ttl: timedelta,
    now: datetime,
) -> IssuedToken:
    """Checks a signed challenge and consumes it; returns a new bearer token for its address."""
    try:
        parsed = SiweMessage.from_message(message)
    except ValueError as exc:
        raise SignInRefused("message", f"not an EIP-4361 sign-in message: {exc}") from None
    challenge = session.get(SignInChallenge, parsed.nonce, with_for_update=True)
    if challenge is None or challenge.address != parsed.address:
        raise SignInRefused("message", "unknown challenge: ask for a new one (POST /auth/challenge)")
    if challenge.used_at is not None:
        raise SignInRefused("message", "this challenge was used already: ask for a new one")
    if int(parsed.chain_id) != chain_id:
        raise SignInRefused(
            "message", f"the challenge is for chain {parsed.chain_id}, this ledger is on {chain_id}"
        )
    try:
        parsed.verify(signature, domain=domain, nonce=challenge.nonce, timestamp=now)
    except VerificationError as exc:
        raise SignInRefused(
            "signature" if "Signature" in type(exc).__name__ else "message", _reason(exc)
        ) from None
    except ValueError:
        raise SignInRefused("signature", "not a signature (0x followed by 65 bytes in hex)") from None
    challenge.used_at = now
    token = secrets.token_urlsafe(32)
    expires_at = now + token_ttl
    session.add(
        AccessToken(token_hash=_hash(token), address=challenge.address, issued_at=now, expires_at=expires_at)
    )
    return IssuedToken(token, challenge.address, expires_at)


def token_holder(session: Session, token: str, now: datetime) -> str | None:
    """The address a live token was issued to (None if unknown, expired or revoked)."""
    row = session.scalar(select(AccessToken).where(AccessToken.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now:
        return None
    return row.address


def revoke_token(session: Session, token: str, now: datetime) -> None:
    row = session.scalar(select(AccessToken).where(AccessToken.token_hash == _hash(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now


def _reason(exc: VerificationError) -> str:
    return {
        "InvalidSignature": "the signature is not the named address's signature of this message",
        "ExpiredMessage": "the challenge has expired: ask for a new one",
        "NotYetValidMessage": "the challenge is not valid yet",
        "DomainMismatch": "the challenge is for another service (domain)",
        "NonceMismatch": "the challenge's nonce does not match",
    }.get(type(exc).__name__, f"the challenge does not verify ({type(exc).__name__})")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

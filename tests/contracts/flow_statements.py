"""EIP-712 statements of metered flows (contracts/flows/MeteredFlows.sol), as the two parties sign them.

Importing this module adds the RegisterFlow and MeterPeriod types and the MeteredFlows domains to
typed_statements' TYPES and DOMAINS, so `sign`, `typed_data` and `eip712_digest` work for them as for the
ledger's statements. Both parties sign the same statement; a period's signatures travel compact (ERC-2098:
r and vs, 64 bytes), while eth_account signs 65-byte (r, s, v): `compact` converts.
"""

from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak
from typed_statements import DOMAINS, TYPES, Signed, abi_value, eip712_digest, sign, typed_data

DOMAINS["MeteredFlows"] = ("SymbiosisMeteredFlows", "1")
# The gas benchmark's baseline (contracts/baseline), never deployed.
DOMAINS["NaiveMeteredFlows"] = ("Naive Metered Flows", "1")

TYPES.update(
    {
        # Signed by both the supplier and the offtaker; its digest is the flow id.
        "RegisterFlow": [
            ("supplier", "address"),
            ("offtaker", "address"),
            ("medium", "string"),
            ("unit", "string"),
            ("meterId", "bytes32"),
            ("periodSeconds", "uint32"),
            ("firstPeriodStart", "uint64"),
            ("nonce", "uint256"),
            ("deadline", "uint256"),
        ],
        # Signed by both parties for each period; no nonce or deadline: each period is anchored once.
        "MeterPeriod": [
            ("flowId", "bytes32"),
            ("period", "uint32"),
            ("quantity", "uint64"),
            ("readingHash", "bytes32"),
        ],
    }
)

# The units a flow may be measured in (UN/CEFACT Rec. 20): kilogram, tonne, litre, cubic metre, kilowatt
# hour, megawatt hour, gigajoule.
FLOW_UNITS = ("KGM", "TNE", "LTR", "MTQ", "KWH", "MWH", "GV")
HOUR = 3600
METER_ID = keccak(text="meter FT-2041 serial 7731-A, calibrated 2025-01-10")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
NO_SIGNATURE = (b"\x00" * 32, b"\x00" * 32)  # a compact signature left empty


def reading_hash(period, salt=""):
    """Stands for the SHA-256 of a period's meter readings."""
    return keccak(text=f"meter readings {salt}{period}")


def compact(signature):
    """(r, vs) of a 65-byte (r, s, v) signature, per ERC-2098: vs = s with v - 27 in its top bit."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r, ((v - 27) << 255 | s).to_bytes(32, "big")


def expand(r, vs):
    """The 65-byte (r, s, v) signature of a compact (r, vs) one."""
    vs = int.from_bytes(vs, "big")
    return r + (vs & (2**255 - 1)).to_bytes(32, "big") + bytes([27 + (vs >> 255)])


def malleable(r, vs):
    """The other (high-s) signature of the same key and message as (r, vs): s -> n - s, v flipped."""
    vs = int.from_bytes(vs, "big")
    s, v_bit = vs & (2**255 - 1), vs >> 255
    return r, ((1 - v_bit) << 255 | (SECP256K1_N - s)).to_bytes(32, "big")


@dataclass(frozen=True)
class SignedFlow:
    """A RegisterFlow statement signed by both parties, ready for `registerFlow(*flow.args, {...})`."""

    message: dict
    supplier_signature: bytes
    offtaker_signature: bytes
    digest: bytes

    def struct(self, **changes):
        return abi_value("RegisterFlow", {**self.message, **changes})

    @property
    def args(self):
        return (self.struct(), self.supplier_signature, self.offtaker_signature)


def sign_flow(contract, supplier_signer, offtaker_signer, message, chain_id=None):
    """Both signers sign `message` as a RegisterFlow statement for `contract`."""
    by_supplier = sign(supplier_signer, contract, "RegisterFlow", message, chain_id)
    by_offtaker = sign(offtaker_signer, contract, "RegisterFlow", message, chain_id)
    return SignedFlow(message, by_supplier.signature, by_offtaker.signature, by_supplier.digest)


def period_digest(contract, flow_id, period, quantity, reading_hash_, chain_id=None):
    """The EIP-712 digest of a MeterPeriod statement for `contract`."""
    message = {"flowId": bytes(flow_id), "period": period, "quantity": quantity, "readingHash": reading_hash_}
    return eip712_digest(typed_data(contract, "MeterPeriod", message, chain_id))


def sign_digest(signer, digest):
    """`signer`'s 65-byte signature of an EIP-712 digest (what sign_typed_data gives for its message)."""
    return bytes(Account.unsafe_sign_hash(digest, signer.key).signature)


@dataclass(frozen=True)
class SignedPeriod:
    """A MeterPeriod statement with both parties' 65-byte signatures."""

    period: int
    quantity: int
    reading_hash: bytes
    supplier_signature: bytes
    offtaker_signature: bytes

    def entry(self, **changes):
        """The Period tuple anchorPeriods takes (compact signatures), with `changes` applied after signing:
        quantity, readingHash, supplier/offtaker (a (r, vs) pair)."""
        supplier = changes.get("supplier", compact(self.supplier_signature))
        offtaker = changes.get("offtaker", compact(self.offtaker_signature))
        return (
            changes.get("quantity", self.quantity),
            changes.get("readingHash", self.reading_hash),
            *supplier,
            *offtaker,
        )

    def naive_entry(self):
        """The baseline's Period tuple (full 65-byte signatures)."""
        return (self.quantity, self.reading_hash, self.supplier_signature, self.offtaker_signature)


def sign_period(contract, supplier_signer, offtaker_signer, flow_id, period, quantity, reading_hash_=None):
    """Both signers sign period `period` of `flow_id` (reading hash `reading_hash(period)` unless given)."""
    reading = reading_hash(period) if reading_hash_ is None else reading_hash_
    digest = period_digest(contract, flow_id, period, quantity, reading)
    return SignedPeriod(
        period, quantity, reading, sign_digest(supplier_signer, digest), sign_digest(offtaker_signer, digest)
    )


def sign_periods(contract, supplier_signer, offtaker_signer, flow_id, first_period, quantities):
    """Consecutive periods from `first_period`, with the given quantities, each signed by both signers."""
    return [
        sign_period(contract, supplier_signer, offtaker_signer, flow_id, first_period + i, quantity)
        for i, quantity in enumerate(quantities)
    ]


def _events(tx, name):
    """`tx`'s events called `name` (none if it emitted none: brownie's EventDict has no `get`)."""
    return tx.events[name] if name in tx.events else []  # noqa: SIM401


def anchored_periods(tx):
    """(flow id, period, quantity, reading hash) of every period `tx` anchored, in order: from MeteredFlows'
    PeriodsAnchored events (one per batch) or the baseline's PeriodAnchored events (one per period)."""
    periods = []
    for event in _events(tx, "PeriodsAnchored"):
        flow_id, first = bytes(event["flowId"]), event["firstPeriod"]
        periods += [
            (flow_id, first + i, quantity, bytes(reading))
            for i, (quantity, reading) in enumerate(
                zip(event["quantities"], event["readingHashes"], strict=True)
            )
        ]
    for event in _events(tx, "PeriodAnchored"):
        periods.append(
            (bytes(event["flowId"]), event["period"], event["quantity"], bytes(event["readingHash"]))
        )
    return periods


def signed_by_type(contract, signer, flow_id, period, quantity, reading_hash_):
    """The MeterPeriod signed through eth_signTypedData_v4 JSON (to check `sign_digest` signs the same)."""
    message = {"flowId": bytes(flow_id), "period": period, "quantity": quantity, "readingHash": reading_hash_}
    statement: Signed = sign(signer, contract, "MeterPeriod", message)
    return statement.signature

"""EIP-712 statements of the processing module (contracts/processing/Processing.sol), and what its tests share.

Importing this module adds the module's domain and statement types to typed_statements' DOMAINS and TYPES, so
`sign(party, processing, "RecordProcessing", message)` works like any ledger statement.
"""

from enum import IntEnum

from eth_abi import encode
from eth_utils import keccak
from typed_statements import DOMAINS, TYPES

DOMAINS["Processing"] = ("SymbiosisProcessing", "1")
# The gas benchmark's processing baseline (contracts/baseline/NaiveProcessing.sol), never deployed.
DOMAINS["NaiveProcessing"] = ("Naive Processing", "1")

TYPES.update(
    {
        "RecordProcessing": [
            ("processor", "address"),
            ("inputs", "LotInput[]"),
            ("externalInputs", "ExternalInput[]"),
            ("outputs", "ProcessOutput[]"),
            ("lossGrams", "uint64"),
            ("lossDescription", "string"),
            ("documentHash", "bytes32"),
            ("nonce", "uint256"),
            ("deadline", "uint256"),
        ],
        "LotInput": [
            ("lotId", "bytes32"),
            ("codeKey", "bytes32"),
            ("quantity", "uint64"),
            ("gramsPerUnit", "uint32"),
        ],
        "ExternalInput": [
            ("material", "string"),
            ("grams", "uint64"),
            ("documentHash", "bytes32"),
        ],
        "ProcessOutput": [
            ("kind", "uint8"),
            ("codeKey", "bytes32"),
            ("quantity", "uint64"),
            ("gramsPerUnit", "uint32"),
        ],
        "DeclareUse": [
            ("holder", "address"),
            ("lotId", "bytes32"),
            ("quantity", "uint64"),
            ("use", "string"),
            ("documentHash", "bytes32"),
            ("nonce", "uint256"),
            ("deadline", "uint256"),
        ],
    }
)


class OutputKind(IntEnum):
    """Processing.OutputKind: NONE marks a lot no processing opened."""

    NONE = 0
    PRODUCT = 1
    BY_PRODUCT = 2
    RESIDUE = 3


GRAMS_PER_KILOGRAM = 1_000
OIL_DENSITY = 880  # g/L of used engine oil, as a processor declares it
PROCESSING_RECORD = bytes.fromhex("a7" * 32)  # stands for the SHA-256 of the processing record
USE_DOCUMENT = bytes.fromhex("0e" * 32)  # stands for the SHA-256 of a sales or delivery note
CLINKER_DELIVERY = bytes.fromhex("c1" * 32)  # stands for the SHA-256 of a virgin material's delivery note

# Product categories the regulator catalogues beside waste codes: (scheme, code, unit, hazardous, description).
AGGREGATE = ("UN-CPC-2.1", "15320", "KGM", False, "crushed stone and artificial aggregate")
BASE_OIL = ("UN-CPC-2.1", "33380", "LTR", False, "re-refined lubricating base oil")
STEAM = ("UN-CPC-2.1", "17300", "KWH", False, "steam and hot water")
FILTER_CAKE = ("EU-LOW", "19 02 05*", "KGM", True, "sludges from physico-chemical treatment")


def lot_input(lot_id, code_key, quantity, grams_per_unit=GRAMS_PER_KILOGRAM):
    return {
        "lotId": bytes(lot_id),
        "codeKey": bytes(code_key),
        "quantity": quantity,
        "gramsPerUnit": grams_per_unit,
    }


def external_input(material, grams, document_hash=CLINKER_DELIVERY):
    return {"material": material, "grams": grams, "documentHash": document_hash}


def output(kind, code_key, quantity, grams_per_unit=GRAMS_PER_KILOGRAM):
    return {
        "kind": int(kind),
        "codeKey": bytes(code_key),
        "quantity": quantity,
        "gramsPerUnit": grams_per_unit,
    }


def output_lot_id(processing_id, index):
    """The ledger lot a processing's output `index` opens: keccak256(abi.encode(processingId, index))."""
    return keccak(encode(["bytes32", "uint256"], [bytes(processing_id), index]))

"""EIP-712 statements of the regulator actions (contracts/regulator/RegulatorActions.sol).

Importing this module adds the contract's domain and its CorrectionRequest type to typed_statements' DOMAINS and
TYPES, so `sign(regulator, regulator_actions, "CorrectionRequest", message)` works like any ledger statement.
"""

from typed_statements import DOMAINS, TYPES

DOMAINS["RegulatorActions"] = ("SymbiosisRegulatorActions", "1")

TYPES["CorrectionRequest"] = [
    ("regulator", "address"),
    ("transferId", "bytes32"),
    ("reason", "string"),
    ("reportHash", "bytes32"),
    ("nonce", "uint256"),
    ("deadline", "uint256"),
]

INSPECTION_REPORT = bytes.fromhex("a1" * 32)  # stands for the SHA-256 of the regulator's inspection report
REQUEST_REASON = "weighbridge ticket shows 12,100 kg where 12,500 kg were dispatched"

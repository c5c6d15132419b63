"""The service's own EIP-712 hashing (ledger_service.eip712) against eth_account's, the reference: every
statement a party can sign, with any values its types allow, must get the digest a wallet signs."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_service.statements import (
    DISPATCH,
    STATEMENTS,
    Statement,
    digest,
    statement_digest,
    struct_digest,
    struct_encoding,
    typed_data,
)

ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


def values(statement: Statement, typ: str) -> st.SearchStrategy:
    if typ.endswith("[]"):
        return st.lists(values(statement, typ[:-2]), max_size=3)
    structs = dict(statement.structs)
    if typ in structs:
        return st.fixed_dictionaries({name: values(statement, t) for name, t in structs[typ]})
    if typ == "address":
        return ADDRESSES
    if typ == "bytes32":
        return st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
    if typ == "string":
        return st.text(max_size=40)
    if typ == "bool":
        return st.booleans()
    if typ.startswith("uint"):
        return st.integers(0, 2 ** int(typ[4:]) - 1).map(str)
    bits = int(typ[3:])
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1).map(str)


def messages(statement: Statement) -> st.SearchStrategy:
    return st.fixed_dictionaries({name: values(statement, typ) for name, typ in statement.fields})


@pytest.mark.parametrize("statement", list(STATEMENTS.values()), ids=lambda s: s.primary_type)
@settings(max_examples=40, deadline=None)
@given(data=st.data(), chain_id=st.integers(1, 2**64), contract=ADDRESSES)
def test_every_statement_hashes_as_eth_account_hashes_it(
    statement: Statement, data: st.DataObject, chain_id: int, contract: str
) -> None:
    message = data.draw(messages(statement))
    expected = digest(typed_data(statement, chain_id, contract, message))
    assert statement_digest(statement, chain_id, contract, message) == expected


@settings(max_examples=40, deadline=None)
@given(message=messages(DISPATCH), contract=ADDRESSES)
def test_a_dispatch_given_as_its_encoding_has_its_digest(message: dict, contract: str) -> None:
    encoding = struct_encoding(DISPATCH, message)
    expected = digest(typed_data(DISPATCH, 31337, contract, message))
    assert struct_digest(31337, contract, DISPATCH, encoding) == "0x" + expected.hex()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("quantity", str(2**64), "does not fit uint64"),
        ("quantity", "-1", "does not fit uint64"),
        ("lotId", "0x" + "ab" * 31, "must be 32 bytes"),
        ("shipper", "0x" + "ab" * 19, "Unknown format"),  # refused by the checksumming
    ],
)
def test_a_value_its_type_cannot_hold_is_refused_not_hashed(field: str, value: str, reason: str) -> None:
    message = {name: "0" for name, _ in DISPATCH.fields} | {
        "shipper": "0x" + "11" * 20,
        "receiver": "0x" + "22" * 20,
        "lotId": "0x" + "33" * 32,
        "permitId": "0x" + "44" * 32,
        "documentHash": "0x" + "55" * 32,
        "operation": "R5",
        "certificates": [],
        "transporters": [],
        "licences": [],
    }
    with pytest.raises(ValueError, match=reason):
        statement_digest(DISPATCH, 31337, "0x" + "77" * 20, message | {field: value})

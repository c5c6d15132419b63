"""A small economy for the search and lineage tests, built through the API's own workflows.

Park P: a generator G, a recycler R (ships and receives), a transporter T and P's park operator. Park Q: a
disposer D and Q's park operator. Each build has parks of its own, so its records are told apart from other
tests' by park or party.

    G slag lot ──t1 (1,000, received)──▶ L1 ──input──▶ processing ──▶ product (800) ──use (300)
                                                                  └─▶ residue (150) ──t2 (received)──▶ L2 (D)
    G hazardous lot ──t3 (500, dispatched)
    G slag lot ──t4 (300, carried by T, awaiting pick-up)
    G slag lot ──t5 (200, 150 accepted)──▶ L5 (R);  the refused 50 ──r5 (received)──▶ back to G
"""

import itertools
import uuid

import pytest
from parties import (
    CODE,
    SCHEME,
    Party,
    dispatch,
    ensure_waste_code,
    register,
    register_lot,
    register_permit,
    sign_in,
    signed_submit,
)
from workflows import receive, rejection

HAZARDOUS = ("EU-LOW", "10 02 07*")  # solid wastes from gas treatment containing dangerous substances
AGGREGATE = ("UN-CPC", "15320")
NOTE = "0x" + "0e" * 32
_builds = itertools.count()


@pytest.fixture(scope="module")
def world(client, regulator) -> dict:
    build = f"{next(_builds)}-{uuid.uuid4().hex[:6]}"
    park_p, park_q = f"Nhon Trach {build}", f"Long Duc {build}"
    ensure_waste_code(client, regulator)
    ensure_waste_code(client, regulator, *HAZARDOUS, "KGM", True)
    ensure_waste_code(client, regulator, *AGGREGATE, "KGM", False)
    g, r, t, d, op, oq = (Party(n) for n in ("generator", "recycler", "truck", "disposer", "P op", "Q op"))
    register(client, regulator, g, "SHIPPER", park=park_p)
    register(client, regulator, r, "SHIPPER", "RECEIVER", park=park_p)
    register(client, regulator, t, "TRANSPORTER", park=park_p)
    register(client, regulator, d, "RECEIVER", park=park_q)
    register(client, regulator, op, "PARK_OPERATOR", park=park_p)
    register(client, regulator, oq, "PARK_OPERATOR", park=park_q)
    coverage = [{"scheme": s, "code": c, "operations": ["R5"]} for s, c in ((SCHEME, CODE), HAZARDOUS)]
    register_permit(client, regulator, r, coverage=coverage)
    register_permit(client, regulator, d)
    slag = register_lot(client, g)["id"]
    hazardous = signed_submit(
        client,
        g,
        "/lots/prepare",
        {
            "generator": g.address,
            "waste_scheme": HAZARDOUS[0],
            "waste_code": HAZARDOUS[1],
            "quantity": 5_000,
            "unit": "KGM",
            "document_hash": NOTE,
        },
        "/lots",
    )["id"]

    t1 = dispatch(client, g, r, quantity=1_000)["id"]
    receive(client, r, t1, 1_000)
    processing = signed_submit(
        client,
        r,
        "/processings/prepare",
        {
            "processor": r.address,
            "inputs": [{"lot_id": t1, "quantity": 1_000}],
            "external_inputs": [{"material": "Portland clinker", "grams": 10_000, "document_hash": NOTE}],
            "outputs": [
                {"kind": "product", "scheme": AGGREGATE[0], "code": AGGREGATE[1], "quantity": 800},
                {"kind": "residue", "scheme": SCHEME, "code": CODE, "quantity": 150},
            ],
            "loss_grams": 60_000,
            "loss_description": "moisture",
            "document_hash": NOTE,
        },
        "/processings",
    )
    product, residue = (o["lot_id"] for o in processing["outputs"])
    use = signed_submit(
        client,
        r,
        f"/lots/{product}/uses/prepare",
        {"quantity": 300, "use": "road base", "document_hash": NOTE},
        f"/lots/{product}/uses",
    )["uses"][0]["id"]
    t2 = dispatch(client, r, d, lot_id=residue, quantity=150)["id"]
    receive(client, d, t2, 150)
    t3 = dispatch(client, g, r, lot_id=hazardous, quantity=500)["id"]
    t4 = dispatch(client, g, r, quantity=300, transporters=[t.address])["id"]
    t5 = dispatch(client, g, r, quantity=200)["id"]
    rejected = rejection(client, r, t5, accepted_quantity=150, rejected_quantity=50)
    assert rejected.status_code == 200, rejected.text
    (r5,) = rejected.json()["returns"]
    receive(client, g, r5, 50)

    parties = {"G": g, "R": r, "T": t, "D": d, "OP": op, "OQ": oq}
    return {
        "parks": {"P": park_p, "Q": park_q},
        "parties": parties,
        "headers": {name: sign_in(client, party) for name, party in parties.items()},
        "transfers": {"t1": t1, "t2": t2, "t3": t3, "t4": t4, "t5": t5, "r5": r5},
        "lots": {
            "slag": slag,
            "hazardous": hazardous,
            "L1": t1,
            "L2": t2,
            "L5": t5,
            "Lr5": r5,
            "product": product,
            "residue": residue,
        },
        "processing": processing["id"],
        "use": use,
    }

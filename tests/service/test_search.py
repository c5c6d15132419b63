"""Search: GET /transfers and GET /lots filtered, paged in a stable order, inside the caller's visibility
(see chain_world.py for the records and their names)."""

import json
from datetime import datetime, timedelta

import chain_world
import pytest
import served
from chain_world import AGGREGATE, HAZARDOUS
from parties import CODE, SCHEME
from typer.testing import CliRunner
from workflows import keystore_of

from ledger_service.cli import app as cli_app

world = chain_world.world
api_url = served.api_url


def listed(client, world, path: str, params: dict | None = None, as_: str | None = None) -> list[str]:
    """The names (chain_world's) of every record the list answers, in its order, over all its pages."""
    headers = world["headers"][as_] if as_ else None
    names = {v: k for k, v in world["transfers" if path == "/transfers" else "lots"].items()}
    items, offset = [], 0
    while True:
        response = client.get(path, params={**(params or {}), "offset": offset, "limit": 3}, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        offset += len(page["items"])
        if not page["items"]:
            assert offset == page["total"]
            return [names.get(item["id"], item["id"]) for item in items]


def test_transfer_filters(client, world):
    p, q = world["parks"]["P"], world["parks"]["Q"]
    who = {name: party.address for name, party in world["parties"].items()}

    def found(**params) -> set[str]:
        return set(listed(client, world, "/transfers", params))

    everything = {"t1", "t2", "t3", "t4", "t5", "r5"}
    assert found(park=p) == everything
    assert found(park=q) == {"t2"}
    assert found(participant=who["T"]) == {"t4"}
    assert found(participant=who["D"]) == {"t2"}
    assert found(participant=who["G"]) == {"t1", "t3", "t4", "t5", "r5"}
    assert found(shipper=who["G"]) == {"t1", "t3", "t4", "t5"}
    assert found(receiver=who["G"]) == {"r5"}
    assert found(shipper=who["R"], receiver=who["D"]) == {"t2"}
    assert found(waste_scheme=HAZARDOUS[0], waste_code=HAZARDOUS[1], park=p) == {"t3"}
    assert found(hazardous=True, park=p) == {"t3"}
    assert found(hazardous=False, park=p) == everything - {"t3"}
    assert found(waste_scheme=SCHEME, waste_code=CODE, hazardous=True, park=p) == set()
    assert found(status="received", park=p) == {"t1", "t2", "r5"}
    assert found(status=["dispatched", "awaiting_pick_up"], park=p) == {"t3", "t4"}
    assert found(status="partially_rejected", receiver=who["R"]) == {"t5"}


def test_transfers_by_dispatch_time(client, world):
    p = world["parks"]["P"]
    at = {
        name: datetime.fromisoformat(client.get(f"/transfers/{tid}").json()["dispatched_at"])
        for name, tid in world["transfers"].items()
    }
    pivot = at["t4"]

    def found(**params) -> set[str]:
        return set(listed(client, world, "/transfers", {"park": p, **params}))

    # Both bounds are inclusive; a bare date is the whole day.
    assert found(dispatched_from=pivot.isoformat()) == {n for n, t in at.items() if t >= pivot}
    assert found(dispatched_until=pivot.isoformat()) == {n for n, t in at.items() if t <= pivot}
    assert found(dispatched_from=pivot.isoformat(), dispatched_until=pivot.isoformat()) == {
        n for n, t in at.items() if t == pivot
    }
    after = (pivot + timedelta(microseconds=1)).isoformat()
    assert found(dispatched_from=after) == {n for n, t in at.items() if t > pivot}
    first, last = min(at.values()).date(), max(at.values()).date()
    assert found(dispatched_from=str(first), dispatched_until=str(last)) == set(at)
    assert found(dispatched_until=str(first - timedelta(days=1))) == set()
    # A date-time without an offset is UTC.
    naive = pivot.replace(tzinfo=None).isoformat()
    assert found(dispatched_until=naive) == found(dispatched_until=pivot.isoformat())


def test_lot_filters(client, world):
    p = world["parks"]["P"]
    who = {name: party.address for name, party in world["parties"].items()}

    def found(**params) -> set[str]:
        return set(listed(client, world, "/lots", params))

    assert found(park=p) == {"slag", "hazardous", "L1", "L5", "Lr5", "product", "residue"}
    assert found(park=world["parks"]["Q"]) == {"L2"}
    assert found(holder=who["R"]) == {"L1", "L5", "product", "residue"}
    assert found(generator=who["G"]) == {"slag", "hazardous"}
    assert found(participant=who["D"]) == {"residue", "L2"}  # it holds L2; its receipt took from residue
    assert found(participant=who["T"]) == {"slag"}  # t4 took from it and opened nothing yet
    assert found(origin="produced", park=p) == {"product", "residue"}
    assert found(origin="received", holder=who["G"]) == {"Lr5"}
    assert found(kind="product", holder=who["R"]) == {"product"}
    assert found(open=False, park=p) == {"L1", "residue"}
    assert found(open=True, holder=who["R"]) == {"L5", "product"}
    assert found(hazardous=True, park=p) == {"hazardous"}
    assert found(waste_scheme=AGGREGATE[0], waste_code=AGGREGATE[1], park=p) == {"product"}
    created = {
        name: datetime.fromisoformat(client.get(f"/lots/{lot}").json()["created_at"])
        for name, lot in world["lots"].items()
    }
    pivot = created["product"]
    assert found(created_from=pivot.isoformat(), holder=who["R"]) == {
        n for n in ("L1", "L5", "product", "residue") if created[n] >= pivot
    }


def test_paging_is_stable_and_total_counts_the_filtered_set(client, world):
    p = world["parks"]["P"]
    whole = client.get("/transfers", params={"park": p, "limit": 500}).json()
    assert whole["total"] == 6
    order = [(item["evidence"][0]["block_number"], item["id"]) for item in whole["items"]]
    assert order == sorted(order)
    pages = [client.get("/transfers", params={"park": p, "offset": o, "limit": 4}).json() for o in (0, 4)]
    assert [page["total"] for page in pages] == [6, 6]
    assert [i["id"] for page in pages for i in page["items"]] == [i["id"] for i in whole["items"]]
    assert listed(client, world, "/lots", {"park": p}) == listed(client, world, "/lots", {"park": p})


def test_filters_stay_inside_what_the_caller_may_see(client, world):
    p, q = world["parks"]["P"], world["parks"]["Q"]
    d = world["parties"]["D"].address
    everything = {"t1", "t2", "t3", "t4", "t5", "r5"}
    # A firm: only what it is party to, whatever it filters by.
    assert set(listed(client, world, "/transfers", {"park": p}, as_="D")) == {"t2"}
    assert set(listed(client, world, "/transfers", {"park": p}, as_="T")) == {"t4"}
    assert set(listed(client, world, "/lots", {"park": p}, as_="D")) == {"residue"}
    # A park operator: what its park's participants are party to.
    assert set(listed(client, world, "/transfers", {"park": p}, as_="OP")) == everything
    assert set(listed(client, world, "/transfers", {"park": p}, as_="OQ")) == {"t2"}
    assert set(listed(client, world, "/transfers", {"participant": d}, as_="OP")) == {"t2"}
    assert set(listed(client, world, "/lots", {"park": p}, as_="OQ")) == {"residue"}
    assert set(listed(client, world, "/lots", {"park": q}, as_="OP")) == {"L2"}  # t2's shipper is in P
    # The regulator: everything.
    assert set(listed(client, world, "/transfers", {"park": p})) == everything


@pytest.mark.parametrize(
    ("path", "params", "loc", "words"),
    [
        ("/transfers", {"participant": "0x1234"}, ["query", "participant"], "not an address"),
        ("/transfers", {"status": ["received", "lost"]}, ["query", "status", 1], "'dispatched'"),
        ("/transfers", {"hazardous": "perhaps"}, ["query", "hazardous"], "boolean"),
        ("/transfers", {"dispatched_from": "yesterday"}, ["query", "dispatched_from"], "ISO 8601"),
        ("/transfers", {"waste_scheme": "EU-LOW"}, ["query", "waste_code"], "give waste_code too"),
        (
            "/transfers",
            {"waste_scheme": "EU-LOW", "waste_code": "99 99 99"},
            ["query", "waste_code"],
            "not in the catalogue",
        ),
        (
            "/transfers",
            {"dispatched_from": "2025-03-02", "dispatched_until": "2025-03-01"},
            ["query", "dispatched_until"],
            "dispatched_from 2025-03-02 is after dispatched_until 2025-03-01",
        ),
        ("/transfers", {"hazardus": "true"}, ["query", "hazardus"], "not permitted"),
        ("/transfers", {"limit": 501}, ["query", "limit"], "less than or equal to 500"),
        ("/lots", {"holder": "0x52908400098527886e0F7030069857D2E4169EE7"}, ["query", "holder"], "checksum"),
        ("/lots", {"origin": "found"}, ["query", "origin"], "'generated'"),
        ("/lots", {"kind": "scrap"}, ["query", "kind"], "'product'"),
        (
            "/lots",
            {"created_from": "2025-03-01T12:00:00+07:00", "created_until": "2025-03-01T04:59:59Z"},
            ["query", "created_until"],
            "is after created_until",
        ),
    ],
)
def test_bad_filters_name_the_parameter(client, path, params, loc, words):
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == loc and words in error["msg"], error


def test_a_one_day_period_is_not_empty(client):
    response = client.get(
        "/transfers", params={"dispatched_from": "2025-03-01", "dispatched_until": "2025-03-01"}
    )
    assert response.status_code == 200, response.text


def test_cli_lists_with_filters(client, world, api_url, tmp_path):
    keystore, password = keystore_of(world["parties"]["G"], tmp_path)
    signed_in = ["--api", api_url, "-k", str(keystore), "--password-file", str(password)]
    runner = CliRunner()
    result = runner.invoke(
        cli_app, ["list", "transfers", "-f", "status=received", "-f", "status=returning", *signed_in]
    )
    assert result.exit_code == 0, result.output
    names = {v: k for k, v in world["transfers"].items()}
    assert {names[item["id"]] for item in json.loads(result.output)["items"]} == {"t1", "r5"}

    result = runner.invoke(cli_app, ["list", "lots", "-f", "open=true", "--limit", "1", *signed_in])
    assert result.exit_code == 0, result.output
    page = json.loads(result.output)
    assert page["total"] == 4 and len(page["items"]) == 1  # slag, hazardous, Lr5 and L5 (t5 opened it)

    refused = runner.invoke(cli_app, ["list", "transfers", "-f", "status=lost", *signed_in])
    assert refused.exit_code == 1 and refused.output.startswith("error: status.0: Input should be")

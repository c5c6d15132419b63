"""A lot's lineage as a graph (GET /lots/{id}/lineage/graph): up to the generated lots, down to the final
uses, bounded, and redacted where the caller may not see a record (see chain_world.py for the records)."""

import chain_world
from parties import dispatch

from ledger_service.lineage_cache import RenderedGraphs

world = chain_world.world


def graph(client, world, lot: str, as_: str | None = None, **params):
    headers = world["headers"][as_] if as_ else None
    return client.get(f"/lots/{world['lots'][lot]}/lineage/graph", params=params, headers=headers)


def shape(world, body: dict) -> tuple[set, set]:
    """The graph in chain_world's names: {(kind, node)} and {(kind, edge, source, target)}."""
    names = {
        **{v: k for k, v in world["lots"].items()},
        **{v: k for k, v in world["transfers"].items() if v not in world["lots"].values()},
        world["processing"]: "P",
        world["use"]: "use",
    }
    transfers = {v: k for k, v in world["transfers"].items()}
    nodes = {(n["kind"], names[n["id"]]) for n in body["nodes"]}
    edges = {
        (
            e["kind"],
            transfers[e["id"]] if e["kind"] == "transfer" else names[e["id"]],
            names[e["source"]],
            e["target"] and names[e["target"]],
        )
        for e in body["edges"]
    }
    return nodes, edges


DOWN_FROM_L1 = {
    ("input", "P", "L1", "P"),
    ("output", "P", "P", "product"),
    ("output", "P", "P", "residue"),
    ("use", "use", "product", "use"),
    ("transfer", "t2", "residue", "L2"),
}


def test_both_directions_from_a_received_lot(client, world):
    response = graph(client, world, "L1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["lot_id"], body["truncated"]) == (world["lots"]["L1"], False)
    nodes, edges = shape(world, body)
    assert nodes == {
        ("lot", "L1"),
        ("lot", "slag"),
        ("processing", "P"),
        ("lot", "product"),
        ("lot", "residue"),
        ("use", "use"),
        ("lot", "L2"),
    }
    assert edges == {("transfer", "t1", "slag", "L1"), *DOWN_FROM_L1}
    assert not any(n["redacted"] for n in body["nodes"] + body["edges"])


def test_a_regulator_sees_what_each_node_and_edge_stands_for(client, world):
    body = graph(client, world, "L1").json()
    r, d = world["parties"]["R"].address, world["parties"]["D"].address
    node = {n["id"]: n for n in body["nodes"]}
    product = node[world["lots"]["product"]]
    assert (product["holder"], product["waste"]["code"], product["origin"], product["output_kind"]) == (
        r,
        "15320",
        "produced",
        "product",
    )
    assert (product["quantity"], product["balance"]) == (800, 500)
    assert product["tx_hash"].startswith("0x") and product["block_number"] > 0
    processing = node[world["processing"]]
    assert (processing["processor"], processing["input_grams"], processing["loss_grams"]) == (
        r,
        1_010_000,
        60_000,
    )
    assert [e["material"] for e in processing["external_inputs"]] == ["Portland clinker"]
    use = node[world["use"]]
    assert (use["holder"], use["quantity"], use["use"]) == (r, 300, "road base")
    (t2,) = (e for e in body["edges"] if e["id"] == world["transfers"]["t2"])
    assert (t2["shipper"], t2["receiver"], t2["quantity"], t2["received_quantity"], t2["status"]) == (
        r,
        d,
        150,
        150,
        "received",
    )
    assert t2["tx_hash"].startswith("0x") and t2["receipt_tx"].startswith("0x") and t2["block_number"] > 0


def test_downstream_of_a_generated_lot_includes_open_transfers_and_returns(client, world):
    body = graph(client, world, "slag").json()
    nodes, edges = shape(world, body)
    assert edges == {
        ("transfer", "t1", "slag", "L1"),
        ("transfer", "t4", "slag", None),  # awaiting pick-up: no lot opened yet
        ("transfer", "t5", "slag", "L5"),
        ("transfer", "r5", "slag", "Lr5"),  # the refused part of t5, back to the generator
        *DOWN_FROM_L1,
    }
    assert {name for _, name in nodes} == {"slag", "L1", "L5", "Lr5", "P", "product", "residue", "use", "L2"}
    (r5,) = (e for e in body["edges"] if e["id"] == world["transfers"]["r5"])
    assert (r5["return_of"], r5["operation"], r5["quantity"]) == (world["transfers"]["t5"], None, 50)


def test_upstream_only_follows_ancestors(client, world):
    nodes, edges = shape(world, graph(client, world, "L2").json())
    assert edges == {
        ("transfer", "t2", "residue", "L2"),
        ("output", "P", "P", "residue"),
        ("input", "P", "L1", "P"),
        ("transfer", "t1", "slag", "L1"),
    }
    assert {name for _, name in nodes} == {"L2", "residue", "P", "L1", "slag"}  # not the sibling product


def test_another_firms_records_are_redacted(client, world):
    response = graph(client, world, "L2", as_="D")
    assert response.status_code == 200, response.text
    body = response.json()
    # The disposer sees the whole shape a regulator sees...
    assert shape(world, body) == shape(world, graph(client, world, "L2").json())
    # ...but only its own transfer and the lots it touched in detail.
    shown = {n["id"] for n in body["nodes"] if not n["redacted"]} | {
        e["id"] for e in body["edges"] if not e["redacted"]
    }
    lots, transfers = world["lots"], world["transfers"]
    assert shown == {lots["L2"], lots["residue"], transfers["t2"]}
    for hidden in (n for n in body["nodes"] + body["edges"] if n["redacted"]):
        told = {k for k, v in hidden.items() if v is not None}
        assert told <= {"id", "kind", "redacted", "source", "target"}, hidden
    # The same view for the park operator of the disposer's park; none hidden from the recycler's.
    assert graph(client, world, "L2", as_="OQ").json() == body
    assert not any(n["redacted"] for n in graph(client, world, "L2", as_="OP").json()["nodes"])


def test_a_lot_the_caller_may_not_see_is_unknown(client, world):
    for lot in ("slag", "L1", "product"):
        response = graph(client, world, lot, as_="D")
        assert response.status_code == 404, response.text
        assert response.json()["detail"][0]["type"] == "unknown_lot"
    assert client.get(f"/lots/{'0x' + '77' * 32}/lineage/graph").status_code == 404


def test_depth_and_node_limits_bound_the_graph(client, world):
    nodes, edges = shape(world, (body := graph(client, world, "L1", depth=1).json()))
    assert body["truncated"] is True
    assert edges == {("transfer", "t1", "slag", "L1"), ("input", "P", "L1", "P")}
    assert {name for _, name in nodes} == {"L1", "slag", "P"}
    # Deep enough for all of it: nothing left out.
    assert graph(client, world, "L1", depth=3).json()["truncated"] is False

    capped = graph(client, world, "slag", max_nodes=4).json()
    assert capped["truncated"] is True and len(capped["nodes"]) == 4
    ids = {n["id"] for n in capped["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids | {None} for e in capped["edges"])

    for params, loc in (({"depth": 0}, "depth"), ({"max_nodes": 2001}, "max_nodes")):
        response = graph(client, world, "L1", **params)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", loc]


def test_a_graph_told_to_one_caller_is_not_told_to_another(client, world):
    # Graphs are kept as answered (ledger_service.lineage_cache): the regulator's, asked first, must not be
    # what the disposer gets.
    assert not any(n["redacted"] for n in graph(client, world, "L2").json()["nodes"])
    assert any(n["redacted"] for n in graph(client, world, "L2", as_="D").json()["nodes"])


def test_a_graph_is_drawn_anew_once_a_block_changed_it(client, shipper, receiver):
    path = f"/lots/{shipper.lot_id}/lineage/graph"
    before = {e["id"] for e in client.get(path).json()["edges"]}
    assert {e["id"] for e in client.get(path).json()["edges"]} == before
    transfer = dispatch(client, shipper, receiver, quantity=100)
    assert {e["id"] for e in client.get(path).json()["edges"]} - before == {transfer["id"]}


def test_a_kept_graph_outlives_blocks_without_events_not_one_with_an_event(client, shipper, receiver):
    runtime, graphs, drawn = client.app.state.runtime, RenderedGraphs(), []

    def kept(body: bytes) -> bytes:
        with runtime.sessions() as session:
            return graphs.get(session, "graph", lambda: drawn.append(body) or body)

    kept(b"first")
    runtime.gateway.w3.provider.make_request("anvil_mine", [3])  # three empty blocks, as QBFT adds them
    runtime.indexer.sync()
    assert kept(b"second") == b"first" and drawn == [b"first"]
    dispatch(client, shipper, receiver, quantity=100)
    assert kept(b"third") == b"third" and drawn == [b"first", b"third"]


def test_kept_graphs_stay_within_their_byte_budget(client):
    graphs, drawn = RenderedGraphs(budget_bytes=10), []

    def draw(body: bytes):
        return lambda: drawn.append(body) or body

    with client.app.state.runtime.sessions() as session:  # no block is mined meanwhile: one state
        for key, body in [
            ("a", b"a" * 6),
            ("b", b"b" * 6),
            ("b", b"b" * 6),
            ("a", b"a" * 6),
            ("c", b"c" * 11),
        ]:
            assert graphs.get(session, key, draw(body)) == body
        assert graphs.get(session, "c", draw(b"c" * 11)) == b"c" * 11
    # "b" pushed "a" out (12 bytes > 10) and was kept; "a" was drawn again; "c" is over the budget alone.
    assert drawn == [b"a" * 6, b"b" * 6, b"a" * 6, b"c" * 11, b"c" * 11]

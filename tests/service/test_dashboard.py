"""The dashboard's pages without a browser (test_dashboard_browser.py drives them in Chromium): sign-in with a
signed challenge kept in a cookie that only reads, its refusals, who sees which page, refused filters naming
their field, and the pages' content as HTML a browser without JavaScript reads."""

import re
from urllib.parse import urlencode

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from parties import Party, dispatch, ensure_waste_code, register, register_lot, register_permit
from workflows import receive

from ledger_service.api.deps import SESSION_COOKIE
from ledger_service.api.schemas import LineageEdge, LineageGraph, LineageNode
from ledger_service.dashboard import drawings


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    """A second client of the same running app with no Authorization header: a browser."""
    return TestClient(client.app, follow_redirects=False)


def signed_challenge(browser: TestClient, party: Party) -> tuple[str, str]:
    message = browser.post("/auth/challenge", json={"address": party.address}).json()["message"]
    signature = Account.sign_message(encode_defunct(text=message), party.account.key).signature
    return message, "0x" + bytes(signature).hex()


def signed_in(browser: TestClient, party: Party, next_page: str = "/dashboard/") -> TestClient:
    message, signature = signed_challenge(browser, party)
    # A form posts its line breaks as CRLF.
    form = {"message": message.replace("\n", "\r\n"), "signature": signature, "next": next_page}
    answer = browser.post("/dashboard/sign-in", data=form)
    assert answer.status_code == 303, answer.text
    return browser


def test_a_page_sends_the_browser_to_sign_in_and_back(browser):
    answer = browser.get("/dashboard/transfers?park=Phu+My+3")
    assert answer.status_code == 303
    assert (
        answer.headers["location"] == "/dashboard/sign-in?next=%2Fdashboard%2Ftransfers%3Fpark%3DPhu%2BMy%2B3"
    )
    page = browser.get(answer.headers["location"])
    assert page.status_code == 200 and "symledger login-link" in page.text
    assert browser.get("/").headers["location"] == "/dashboard/"


def test_a_login_link_signs_in_with_a_cookie_that_only_reads(browser, regulator):
    message, signature = signed_challenge(browser, regulator)
    link = browser.get("/dashboard/sign-in/link?" + urlencode({"message": message, "signature": signature}))
    assert link.status_code == 200
    assert regulator.address in link.text and 'id="confirm-sign-in"' in link.text
    # Opening the link signs nobody in (a link previewer may open it): the button does.
    assert SESSION_COOKIE not in link.cookies

    form = {"message": message.replace("\n", "\r\n"), "signature": signature, "next": "/dashboard/lots"}
    answer = browser.post("/dashboard/sign-in", data=form)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/lots"
    cookie = answer.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie

    home = browser.get("/dashboard/")
    assert home.status_code == 200 and regulator.address in home.text and "regulator" in home.text
    # The API reads with the cookie; nothing writes with it (a page of another site could post it).
    assert browser.get("/transfers").status_code == 200
    refused = browser.post("/auth/logout")
    assert refused.status_code == 401 and refused.json()["detail"][0]["type"] == "not_signed_in"

    again = browser.post("/dashboard/sign-in", data=form)
    assert again.status_code == 401 and "used already" in again.text


def test_a_forged_or_garbled_sign_in_is_refused_naming_the_field(browser, regulator):
    message, _ = signed_challenge(browser, regulator)
    someone = Account.create()
    forged = "0x" + bytes(Account.sign_message(encode_defunct(text=message), someone.key).signature).hex()
    answer = browser.post("/dashboard/sign-in", data={"message": message, "signature": forged})
    assert answer.status_code == 401 and SESSION_COOKIE not in answer.cookies
    assert re.search(r"<strong>signature</strong>: the signature is not the named address", answer.text)
    garbled = browser.get("/dashboard/sign-in/link?message=hello&signature=0x00")
    assert garbled.status_code == 400 and "<strong>message</strong>" in garbled.text


def test_sign_in_never_sends_the_browser_out_of_the_dashboard(browser, regulator):
    for elsewhere in ("https://evil.example/", "//evil.example/dashboard/", "/auth/logout"):
        message, signature = signed_challenge(browser, regulator)
        form = {"message": message, "signature": signature, "next": elsewhere}
        assert browser.post("/dashboard/sign-in", data=form).headers["location"] == "/dashboard/"


def test_signing_out_revokes_the_token(browser, regulator):
    signed_in(browser, regulator)
    token = browser.cookies[SESSION_COOKIE]
    out = browser.post("/dashboard/sign-out")
    assert out.status_code == 303 and out.headers["location"] == "/dashboard/sign-in"
    stale = TestClient(browser.app, follow_redirects=False, cookies={SESSION_COOKIE: token})
    assert stale.get("/transfers").status_code == 401
    assert stale.get("/dashboard/lots").status_code == 303


def test_refused_filters_and_unknown_records_name_their_field(browser, regulator):
    signed_in(browser, regulator)
    bad = browser.get("/dashboard/transfers?dispatched_from=last+tuesday&limit=9999")
    assert bad.status_code == 422
    assert "<strong>dispatched_from</strong>" in bad.text and "<strong>limit</strong>" in bad.text
    assert "table" not in bad.text.split("The search was not run")[1].split("</div>")[0]
    unknown = browser.get("/dashboard/lots/0x" + "00" * 32)
    assert unknown.status_code == 404 and "<strong>lot_id</strong>" in unknown.text
    period = browser.get("/dashboard/parks/Phu My 3?from=2026-13-01")
    assert period.status_code == 422 and "<strong>from</strong>" in period.text


def test_a_firm_sees_its_own_records_and_no_park(client, browser, regulator):
    shipper, receiver, stranger = Party("dash shipper"), Party("dash receiver"), Party("dash stranger")
    ensure_waste_code(client, regulator)
    register(client, regulator, shipper, "SHIPPER", park="Dashboard Park")
    register(client, regulator, receiver, "RECEIVER", park="Dashboard Park")
    register(client, regulator, stranger, "SHIPPER", park="Dashboard Park")
    register_lot(client, shipper)
    register_permit(client, regulator, receiver)
    transfer = dispatch(client, shipper, receiver, quantity=4_000)
    receive(client, receiver, transfer["id"], 3_990)

    signed_in(browser, shipper)
    mine = browser.get(f"/dashboard/transfers?participant={shipper.address}")
    assert mine.status_code == 200 and transfer["id"] in mine.text and "1 transfer found" in mine.text
    assert browser.get("/dashboard/parks/Dashboard Park").status_code == 404
    assert browser.get(f"/dashboard/firms/{shipper.address}").status_code == 200

    lot = browser.get(f"/dashboard/lots/{shipper.lot_id}")
    assert lot.status_code == 200
    # The graph is drawn on the server: the lot, the receiver's lot, and the transfer between them.
    assert lot.text.count('<g class="node ') == 2 and lot.text.count('<g class="link transfer') == 1
    assert "3,990" in lot.text and "4,000" in lot.text

    browser.cookies.clear()
    signed_in(browser, stranger)
    assert browser.get(f"/dashboard/lots/{shipper.lot_id}").status_code == 404
    assert transfer["id"] not in browser.get("/dashboard/transfers?park=Dashboard+Park").text
    # The regulator sees the park, with its exports a link each.
    browser.cookies.clear()
    signed_in(browser, regulator)
    park = browser.get("/dashboard/parks/Dashboard Park?from=2020-01-01")
    assert park.status_code == 200
    for export in (
        "/exports/registry?park=Dashboard+Park&amp;from=2020-01-01&amp;format=xlsx",
        "/exports/epcis?",
    ):
        assert export in park.text


# --- the drawings (pure) -------------------------------------------------------------------------------


def _node(i: str, kind: str = "lot") -> LineageNode:
    return LineageNode(id=i, kind=kind, redacted=True)


def _edge(i: str, source: str, target: str | None, kind: str = "transfer") -> LineageEdge:
    return LineageEdge(id=i, kind=kind, source=source, target=target, redacted=True)


def test_the_lineage_drawing_flows_left_to_right_without_overlaps():
    nodes = [_node(n) for n in ("a", "b", "c", "d", "e")] + [_node("p", "processing")]
    edges = [
        _edge("t1", "a", "b"),
        _edge("t2", "a", "c"),
        _edge("i1", "b", "p", "input"),
        _edge("i2", "c", "p", "input"),
        _edge("o1", "p", "d", "output"),
        _edge("t3", "d", "e"),
        _edge("t4", "d", None),
    ]
    graph = LineageGraph(lot_id="d", depth=20, truncated=False, nodes=nodes, edges=edges)
    drawing = drawings.lineage(graph, {"transfer t3": "FAIL", "lot a": "PASS"}, {}, {})
    at = {b.id: b for b in drawing.boxes}
    assert len(at) == 7 and at["open:t4"].kind == "open"
    for link in drawing.links:
        assert at[link.source].x < at[link.target].x
    assert [at[n].x for n in "abpde"] == sorted(at[n].x for n in "abpde") and at["b"].x == at["c"].x
    spots = {(b.x, b.y) for b in drawing.boxes}
    assert len(spots) == len(drawing.boxes)
    assert at["d"].start and at["a"].verdict == "PASS" and at["b"].verdict == drawings.UNJUDGED
    assert next(link for link in drawing.links if link.id == "t3").verdict == "FAIL"
    assert all(
        b.x + drawings.NODE_W <= drawing.width and b.y + drawings.NODE_H <= drawing.height
        for b in drawing.boxes
    )


def test_the_sankey_bands_and_ribbons_are_in_proportion():
    flows = [
        drawings.Flow("Steel", "slag", "Aggregates", 300.0),
        drawings.Flow("Steel", "dust", "Zinc", 100.0),
        drawings.Flow("Power", "steam", "Fibre", 600.0),
    ]
    sankey = drawings.sankey(flows, height=400)
    for column in range(3):
        bands = [b for b in sankey.bands if b.column == column]
        assert sum(b.tonnes for b in bands) == 1000.0
    steel = next(b for b in sankey.bands if b.label == "Steel")
    power = next(b for b in sankey.bands if b.label == "Power")
    assert steel.height / power.height == pytest.approx(400 / 600, rel=0.01)
    assert len(sankey.ribbons) == 6 and sankey.materials == ["steam", "slag", "dust"]
    assert drawings.sankey([]).ribbons == [] and drawings.bar_chart("t", "t", [("a", 0)]).bars == ()

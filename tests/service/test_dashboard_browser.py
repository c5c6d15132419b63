"""The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright; no browser is
downloaded), over the demo park: sign in with a login link from the CLI and with a browser wallet, search,
a lineage graph, a verification report, the park's charts, an export downloaded and read back, and the pages
without JavaScript. Each page's screenshot is kept in reports/screenshots/ (SCREENSHOT_DIR) as an artefact.
"""

import io
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from typer.testing import CliRunner
from workflows import keystore_of, served

from ledger_service.cli import app as cli

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from demo_park import PARK  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(
    os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "reports" / "screenshots")
)

pytestmark = [
    pytest.mark.demo_park,
    pytest.mark.browser,
    pytest.mark.skipif(
        not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium"
    ),
]


@pytest.fixture(scope="module")
def park(demo_system: dict) -> Iterator[dict]:
    with served(demo_system["client"].app) as url:
        yield {**demo_system, "url": url}


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login_link(park: dict, account, tmp_path: Path, next_page: str | None = None) -> str:
    """What `symledger login-link` prints for the party's keystore."""
    keystore, password = keystore_of(type("P", (), {"name": "party", "account": account})(), tmp_path)
    printed = CliRunner().invoke(
        cli, ["login-link", "--api", park["url"], "-k", str(keystore), "--password-file", str(password)]
    )
    assert printed.exit_code == 0, printed.output
    link = printed.output.strip()
    assert link.startswith(f"{park['url']}/dashboard/sign-in/link?message=")
    return link + (f"&next={quote(next_page, safe='')}" if next_page else "")


@pytest.fixture(scope="module")
def regulator(browser, park, tmp_path_factory) -> Iterator:
    context = browser.new_context(viewport={"width": 1366, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.goto(login_link(park, park["regulator"].account, tmp_path_factory.mktemp("keys")))
    assert "Sign in as" in page.inner_text("h1")
    page.click("#confirm-sign-in")
    page.wait_for_url(f"{park['url']}/dashboard/")
    yield page
    context.close()


def test_sign_in_with_a_login_link_shows_the_overview(regulator, park):
    assert "regulator" in regulator.inner_text("header .who")
    assert PARK in regulator.inner_text("main")
    firms = regulator.locator("table.list >> nth=1").locator("tbody tr")
    assert firms.count() >= 15
    shot(regulator, "01-overview")


def test_search_transfers_with_filters(regulator, park):
    client = park["client"]
    regulator.goto(f"{park['url']}/dashboard/transfers")
    regulator.select_option("select[name=park]", PARK)
    regulator.select_option("select[name=status]", "received")
    regulator.fill("input[name=dispatched_from]", park["loaded"].first_day.date().isoformat())
    regulator.click("form.filters button[type=submit]")
    regulator.wait_for_url("**/dashboard/transfers?*")
    expected = client.get("/transfers", params={"park": PARK, "status": "received", "limit": 50}).json()
    rows = regulator.locator("table.results tbody tr")
    assert rows.count() == len(expected["items"]) > 0
    assert f"{expected['total']} transfers found" in regulator.inner_text("main")
    assert set(rows.nth(0).inner_text().split("\t")) >= {"received"}
    # Sorting by quantity (the script's) puts the largest first on a second click.
    regulator.click("table.results th:has-text('Quantity')")
    regulator.click("table.results th:has-text('Quantity')")
    first = int(rows.nth(0).locator("td.num").inner_text().split()[0].replace(",", ""))
    assert first == max(t["quantity"] for t in expected["items"])
    # Each row's verdict is the transfer's verification verdict; the short-received solvents fail.
    planted = park["loaded"].planted
    short = park["loaded"].transfers[next(name for name, rules in planted.items() if "VN-HW-10" in rules)]
    verdicts = {
        t: client.get(f"/verification/transfers/{t}").json()["verdict"]
        for t in (short, expected["items"][0]["id"])
    }
    assert verdicts[short] == "FAIL"
    for transfer_id, verdict in verdicts.items():
        row = regulator.locator(f"table.results tr:has(a[href='/dashboard/transfers/{transfer_id}'])")
        assert row.locator(".verdict").inner_text() == verdict
    shot(regulator, "02-transfer-search")

    regulator.fill("input[name=dispatched_from]", "last tuesday")
    regulator.click("form.filters button[type=submit]")
    assert "dispatched_from" in regulator.inner_text(".refused")


def test_lineage_graph_coloured_by_verdict(regulator, park):
    client, loaded = park["client"], park["loaded"]
    failing = loaded.transfers[next(iter(loaded.planted))]
    lot_id = client.get(f"/transfers/{failing}").json()["lot_id"]
    graph = client.get(f"/lots/{lot_id}/lineage/graph").json()
    regulator.goto(f"{park['url']}/dashboard/lots/{lot_id}")
    svg = regulator.locator("#lineage svg")
    lots_and_steps = svg.locator("g.node")
    open_ends = sum(1 for e in graph["edges"] if e["target"] is None)
    assert lots_and_steps.count() == len(graph["nodes"]) + open_ends
    assert svg.locator("g.link").count() == len(graph["edges"])
    assert svg.locator(f"g.link.transfer.v-fail[data-source='{lot_id}']").count() >= 1
    assert svg.locator("g.node.start").count() == 1
    # Hovering a record lights its lineage; the zoom buttons change what the graph shows.
    before = svg.get_attribute("viewBox")
    regulator.click("#lineage .graph-tools button:has-text('+')")
    assert svg.get_attribute("viewBox") != before
    regulator.click("#lineage .graph-tools button:has-text('Reset')")
    assert svg.get_attribute("viewBox") == before
    svg.locator("g.node.start rect").hover()
    assert "tracing" in (svg.get_attribute("class") or "")
    assert svg.locator("g.link.lit").count() >= 1
    shot(regulator, "03-lineage-graph")


def test_verification_report_names_each_rule(regulator, park):
    client, loaded = park["client"], park["loaded"]
    name, rules = next(iter(loaded.planted.items()))
    regulator.goto(f"{park['url']}/dashboard/transfers/{loaded.transfers[name]}")
    report = client.get(f"/verification/transfers/{loaded.transfers[name]}").json()
    assert report["verdict"] == "FAIL"
    text = regulator.inner_text("article.report")
    for rule in report["rules"]:
        assert rule["id"] in text
    for rule in rules:
        row = regulator.locator(f"article.report tr:has(a[href='#{rule}'])")
        assert row.locator("td.verdict").inner_text() == "FAIL"
    shot(regulator, "04-verification-report")


def test_park_kpis_sankey_and_an_export_downloaded(regulator, park):
    client = park["client"]
    regulator.goto(f"{park['url']}/dashboard/parks/{quote(PARK)}")
    figures = client.get(f"/kpis/parks/{PARK}").json()
    assert f"{figures['tonnes_exchanged']:,.3f} t" in regulator.inner_text(".kpis")
    # Supplier → material ribbons, then material → receiver ribbons.
    ribbons = len({(f["from"], f["material"]) for f in figures["flows"]})
    ribbons += len({(f["material"], f["to"]) for f in figures["flows"]})
    assert regulator.locator("#sankey path.ribbon").count() == ribbons > 0
    assert regulator.locator("#chart-materials g.bar").count() == sum(
        1 for m in figures["materials"] if m["tonnes"]
    )
    shot(regulator, "05-park-kpis-sankey")

    with regulator.expect_download() as waiting:
        regulator.click("a.download:has-text('Registry (XLSX)')")
    download = waiting.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()), read_only=True)["Registry"]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header[0] == "transfer_id"
    listed = client.get("/transfers", params={"park": PARK, "limit": 500}).json()["items"]
    assert {r[0] for r in rows} == {t["id"] for t in listed}


def test_sign_in_with_a_browser_wallet(browser, park):
    """A wallet that signs with the park operator's key (EIP-1193 provider, signing in the test's process)."""
    operator = park["accounts"]["operator"]
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    signed: list[str] = []

    def personal_sign(message: str, address: str) -> str:
        assert address.lower() == operator.address.lower()
        signed.append(message)
        return "0x" + bytes(Account.sign_message(encode_defunct(text=message), operator.key).signature).hex()

    context.expose_function("walletSign", personal_sign)
    context.add_init_script(
        f"const walletAccount = {json.dumps(operator.address)};"
        """window.ethereum = { request: async ({ method, params }) => {
             if (method === "eth_requestAccounts") return [walletAccount];
             if (method === "personal_sign") return await window.walletSign(params[0], params[1]);
             throw new Error("unsupported " + method);
           } };"""
    )
    page = context.new_page()
    page.goto(f"{park['url']}/dashboard/transfers?park={quote(PARK)}")
    page.wait_for_url("**/dashboard/sign-in?next=*")
    shot(page, "06-sign-in")
    page.click("#wallet-sign-in")
    page.wait_for_url("**/dashboard/transfers?park=*")
    assert signed and "wants you to sign in with your Ethereum account" in signed[0]
    assert "park operator" in page.inner_text("header .who")
    assert page.locator("table.results tbody tr").count() > 0
    context.close()


def test_pages_read_as_tables_without_javascript(browser, park, tmp_path):
    client, loaded = park["client"], park["loaded"]
    context = browser.new_context(viewport={"width": 1366, "height": 800}, java_script_enabled=False)
    page = context.new_page()
    page.goto(login_link(park, park["regulator"].account, tmp_path))
    page.click("#confirm-sign-in")
    page.wait_for_url(f"{park['url']}/dashboard/")
    lot_id = loaded.lots["aggregate-1"]
    page.goto(f"{park['url']}/dashboard/lots/{lot_id}")
    graph = client.get(f"/lots/{lot_id}/lineage/graph").json()
    tables = page.locator("main table.list")
    assert tables.nth(0).locator("tbody tr").count() == len(graph["nodes"])
    assert tables.nth(1).locator("tbody tr").count() == len(graph["edges"])
    assert page.locator(".graph-tools").count() == 0  # the script did not run
    assert page.locator("#wallet").count() == 0
    shot(page, "07-lot-without-javascript")
    context.close()

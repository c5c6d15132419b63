"""Export benchmark: one park-year of the demo scenario (scripts/demo_park.py, twelve months of Dinh Vu)
exported in each format, as a regulator asks for it.

    .venv/bin/python bench/exports.py [--months 12] [--repeat 3]

Starts its own anvil (its genesis 13 months back, so that a year of history can be dated) and service
(SQLite, the local profile's settings) in a temporary directory, deploys the contracts, sets the node's
clock to now and loads the demo park through the API: every statement signed by its firm's key, each step
dated on the node (the load is timed too; the firms' key files are cheap, scrypt n = 2**4: what is timed is
the park, not scrypt). Then it signs in as the founding regulator and times, over the whole loaded period
(`from` its first day `until` its last) under the VN pack, each export of the park read to its last byte:
the registry as CSV and XLSX, EPCIS 2.0 JSON-LD, e-Manifest JSON, the compliance report PDF, the KPIs and
the park's verification report (JSON). The service compiles the contracts' sources once per process, for
the first verification report's integrity check; that compile is done (and timed) before the exports are.
Prints a Markdown table of the fastest of `--repeat` runs, with what each answer holds (a VN park has no
US-RCRA transfer: its e-Manifest holds no manifest). Figures depend on the machine; nothing here is
asserted.
"""

import argparse
import io
import json
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import openpyxl
from fastapi.testclient import TestClient
from pypdf import PdfReader

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import demo_park  # noqa: E402

from ledger_service import devstack  # noqa: E402
from ledger_service.keystore import load_account, read_password_file  # noqa: E402
from ledger_service.main import create_app  # noqa: E402
from ledger_service.settings import Settings  # noqa: E402
from ledger_service.verification.bytecode import compile_tree  # noqa: E402

# The genesis is dated further back than a year's history reaches (30 days a month, ending yesterday).
GENESIS_ROOM = timedelta(days=400)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What each answer holds, read from it.
def csv_rows(body: bytes) -> str:
    return f"{body.decode().count(chr(10)) - 1} rows"


def xlsx_rows(body: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(body))
    return ", ".join(f"sheet {sheet.title!r}: {sheet.max_row} rows" for sheet in book.worksheets)


def epcis_events(body: bytes) -> str:
    events = json.loads(body)["epcisBody"]["eventList"]
    kinds: dict[str, int] = {}
    for event in events:
        kinds[event["type"]] = kinds.get(event["type"], 0) + 1
    return f"{len(events)} events (" + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ")"


def emanifest_entries(body: bytes) -> str:
    manifests = json.loads(body)["manifests"]
    if not manifests:
        return "no manifest: it holds US-RCRA transfers only, and none is of a US-RCRA code"
    left_out = sum(1 for m in manifests if "left_out" in m)
    return f"{len(manifests) - left_out} manifests, {left_out} left out"


def pdf_pages(body: bytes) -> str:
    return f"{len(PdfReader(io.BytesIO(body)).pages)} pages"


def kpi_summary(body: bytes) -> str:
    kpis = json.loads(body)
    return (
        f"{kpis['tonnes_exchanged']} t exchanged, {len(kpis['materials'])} materials, "
        f"{kpis['links']['count']} links"
    )


def verification_summary(body: bytes) -> str:
    report = json.loads(body)
    findings = sum(len(rule["findings"]) for rule in report["rules"])
    counts = ", ".join(f"{n} {v}" for v, n in report["counts"].items() if n)
    return f"{report['verdict']}: {len(report['rules'])} rules ({counts}), {findings} findings"


def exports_of(park: str) -> list[tuple[str, str, dict[str, str], Callable[[bytes], str]]]:
    """(name, path, query, what the answer holds) of each export timed."""
    quoted = quote(park)
    return [
        ("registry CSV", "/exports/registry", {"park": park, "format": "csv"}, csv_rows),
        ("registry XLSX", "/exports/registry", {"park": park, "format": "xlsx"}, xlsx_rows),
        ("EPCIS 2.0 JSON-LD", "/exports/epcis", {"park": park}, epcis_events),
        ("e-Manifest JSON", "/exports/emanifest", {"park": park}, emanifest_entries),
        ("compliance report PDF", f"/reports/parks/{quoted}.pdf", {}, pdf_pages),
        ("KPIs JSON", f"/kpis/parks/{quoted}", {}, kpi_summary),
        ("verification JSON", f"/verification/parks/{quoted}", {}, verification_summary),
    ]


def timed(
    client: TestClient, path: str, params: dict[str, str], headers: dict[str, str]
) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(path, params=params, headers=headers)  # the whole body, streamed or not
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    return elapsed, response


@dataclass
class System:
    """The service with the demo park loaded, and the regulator's sign-in to read it."""

    client: TestClient
    loaded: demo_park.Loaded
    headers: dict[str, str]
    load_seconds: float
    compile_seconds: float


@contextmanager
def park_loaded(months: int, say: Callable[[str], None]) -> Iterator[System]:
    """A new system in a temporary directory, the demo park loaded into it for `months` months."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        genesis = datetime.now(UTC) - GENESIS_ROOM
        with devstack.running_anvil(data_dir, free_port(), say, genesis=genesis) as url:
            settings = Settings(
                data_dir=data_dir, rpc_url=url, database_url=f"sqlite:///{data_dir / 'ledger.db'}"
            )
            devstack.ensure_deployment(settings, say)
            devstack.set_clock_to_now(url)  # as `make run` does: the history is dated back from here
            keys = data_dir / "keys"
            regulator = load_account(keys / "regulator.json", read_password_file(keys / "regulator.password"))
            accounts = demo_park.party_keys(data_dir / "demo" / "keys", scrypt_n=2**4)
            with TestClient(create_app(settings)) as client:
                started = time.perf_counter()
                loaded = demo_park.load(client, url, regulator, accounts, say=say, months=months)
                load_seconds = time.perf_counter() - started
                started = time.perf_counter()
                compile_tree(settings.contract_sources)
                compile_seconds = time.perf_counter() - started
                admin = demo_park.Party("regulator", regulator)
                demo_park.Api(client, say).sign_in(admin)
                yield System(client, loaded, admin.headers, load_seconds, compile_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", type=int, default=12, help="months of the demo park to load")
    parser.add_argument("--repeat", type=int, default=3, help="runs per export; the fastest is shown")
    args = parser.parse_args()
    say = lambda line: print(f"  {line}", file=sys.stderr, flush=True)  # noqa: E731
    with park_loaded(args.months, say) as system:
        loaded = system.loaded
        period = {"from": f"{loaded.first_day:%Y-%m-%d}", "until": f"{loaded.last_day:%Y-%m-%d}"}
        print(
            f"{demo_park.PARK}, {args.months} months ({period['from']} to {period['until']}): "
            f"{len(loaded.parties)} firms, {len(loaded.transfers)} transfers, {len(loaded.flows)} metered "
            f"flows; contract sources compiled in {system.compile_seconds:.1f} s before the timings\n"
        )
        print("| export | transfers (X-Export-Transfers) | bytes | seconds | holds |")
        print("|---|---:|---:|---:|---|")
        print(
            f"| load of the park through the API (once) | {len(loaded.transfers)} | — "
            f"| {system.load_seconds:.1f} | {args.months} months of signed statements |"
        )
        for name, path, query, holds in exports_of(demo_park.PARK):
            params = {**query, **period, "pack": "VN"}
            runs = [timed(system.client, path, params, system.headers) for _ in range(args.repeat)]
            seconds, response = min(runs, key=lambda run: run[0])
            transfers = response.headers.get("X-Export-Transfers", "—")
            print(
                f"| {name} | {transfers} | {len(response.content):,} | {seconds:.3f} "
                f"| {holds(response.content)} |",
                flush=True,
            )


if __name__ == "__main__":
    try:
        main()
    except (demo_park.DemoRefused, httpx.HTTPError) as refused:
        sys.exit(f"bench not run: {refused}")

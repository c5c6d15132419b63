"""Loads a demonstration eco-industrial park into a running Symbiosis Ledger through its public API.

Dinh Vu (Hai Phong): fifteen firms and six months (or --months) of by-product exchange drawn from the real cases — a
fertilizer plant's CO2 liquefied by an industrial-gas firm and steam piped to a neighbour (metered flows,
one period a week), steel slag crushed into certified road-base aggregate, glass polishing powder used for
road levelling, seafood by-products sold as feed, spent solvents carried under a hazardous-waste licence —
with the failures a regulator must see: a licence revoked and the chain refusing its carrier, a hazardous
consignment received 12 % short, a glass-powder analysis expired and the powder shipped without one.

Every statement is signed by its own party's key (generated into `<data dir>/demo/keys/`); the founding
regulator's key (`<data dir>/keys/regulator.json`) registers the participants, codes and permits. The
service only relays.

The clock. A record's date is its block's timestamp, so months of history need blocks dated months ago.
`make run` starts a new chain with its genesis a year in the past, deploys the contracts there and then
sets the node's clock to wall-clock time (ledger_service/devstack.py); the deployment block stays the
chain's last block until the first statement. Before each step the loader sets the node's clock to the
step's date (`evm_setTime`), never before the chain's last block nor past the present, and gives the
clock back to wall-clock time when it is done (or fails). A chain that already holds records dated after
the demo's first day cannot take a history older than them: the loader says so and loads nothing.

    .venv/bin/python scripts/demo_park.py --api http://127.0.0.1:8000 --rpc http://127.0.0.1:8545 [--months 6]

Up to 12 months fit a chain started by `make run` (its genesis 365 days back); the planted failures are in
months 3 to 5, so fewer months leave some out. Every month after the sixth repeats the park's routine
exchanges (slag, aggregate, feed, solvents every other month, both pipes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

PARK = "Dinh Vu"
MONTHS = 6  # the default history; `load(months=...)`, `--months`
DAY = timedelta(days=1)
WEEK = 7 * 86_400  # a metered flow's period: the meters' weekly totals
VN = "VN-TT02-2022"
ZERO = "0x" + "00" * 32

# (scheme, code, unit, hazardous, description). Circular 02/2022's list; '*' control required, '**' hazardous.
SLAG = (VN, "05 01 05", "KGM", False, "electric arc furnace steel slag")
POWDER = (VN, "10 07 09*", "KGM", False, "glass polishing powder (cerium oxide sludge)")
FISH = (VN, "02 02 03", "KGM", False, "fish heads, skin and bones for feed")
SOLVENT = (VN, "17 02 03**", "KGM", True, "spent halogenated solvents")
AGGREGATE = ("UN-CPC", "15320", "KGM", False, "crushed slag aggregate")
CODES = (SLAG, POWDER, FISH, SOLVENT, AGGREGATE)

# Results documents, named as the VN pack's limit_<name> parameters, within those limits.
LEACHATE = dict(
    As_leachate_ug_l=86,
    Cd_leachate_ug_l=12,
    Pb_leachate_ug_l=2_350,
    Hg_leachate_ug_l=4,
    Cr6_leachate_ug_l=610,
)
FEED = dict(As_ug_kg=6_100, Cd_ug_kg=410, Hg_ug_kg=95, Pb_ug_kg=700)  # fish heads and bones, dry matter

# key name: (legal name, enterprise id, roles)
FIRMS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "operator": ("Deep C Dinh Vu Industrial Zone JSC", "0200400101", ("PARK_OPERATOR",)),
    "fertilizer": ("Dinh Vu DAP Fertilizer JSC", "0200400102", ("SHIPPER",)),
    "gas": ("Hai Phong Industrial Gases Co.", "0200400103", ("RECEIVER",)),
    "steel": ("Dinh Vu Electric Arc Steel JSC", "0200400104", ("SHIPPER",)),
    "aggregates": ("Hai Phong Slag Aggregates Co.", "0200400105", ("RECEIVER", "SHIPPER")),
    "glass": ("Deep C Display Glass Finishing Co.", "0200400106", ("SHIPPER",)),
    "roads": ("Dinh Vu Ground Works JSC", "0200400107", ("RECEIVER",)),
    "seafood": ("Cat Hai Seafood Processing JSC", "0200400108", ("SHIPPER",)),
    "feed": ("Hai Phong Aquafeed Mill Co.", "0200400109", ("RECEIVER",)),
    "power": ("Dinh Vu Cogeneration Power JSC", "0200400110", ("SHIPPER",)),
    "polymers": ("Dinh Vu Polyester Fibre Co.", "0200400111", ("RECEIVER",)),
    "solvents": ("Northern Solvent Recovery JSC", "0200400112", ("RECEIVER",)),
    "haulage": ("Green Haul Logistics Hai Phong", "0200400113", ("TRANSPORTER",)),
    "trucking": ("Bach Dang Trucking Co.", "0200400114", ("TRANSPORTER",)),
    "lab": ("Hai Phong Environmental Analysis Centre", "0200400115", ("LAB",)),
}


class DemoRefused(Exception):
    """The loader will not load this park into this system; the message says why, in one line."""


@dataclass
class Party:
    key: str
    account: LocalAccount
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.account.address

    def sign(self, typed_data: dict[str, Any]) -> str:
        signed = Account.sign_typed_data(self.account.key, full_message=typed_data)
        return "0x" + bytes(signed.signature).hex()


@dataclass
class Loaded:
    """What the loader made, by name, for its report and for the tests."""

    first_day: datetime
    last_day: datetime
    parties: dict[str, str] = field(default_factory=dict)  # key -> address
    transfers: dict[str, str] = field(default_factory=dict)  # name -> transfer id
    lots: dict[str, str] = field(default_factory=dict)
    flows: dict[str, str] = field(default_factory=dict)
    refusals: dict[str, dict] = field(default_factory=dict)  # name -> the service's error
    planted: dict[str, tuple[str, ...]] = field(default_factory=dict)  # transfer name -> rules it fails


# --- keys ----------------------------------------------------------------------------------------------


def party_keys(keys_dir: Path, scrypt_n: int | None = None) -> dict[str, LocalAccount]:
    """Each firm's key, made once into `keys_dir` (keystore v3, one password file beside them)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    password_file = keys_dir / "password"
    if not password_file.exists():
        password_file.write_text(hashlib.sha256(str(time.time_ns()).encode()).hexdigest() + "\n")
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    accounts = {}
    for key in FIRMS:
        path = keys_dir / f"{key}.json"
        if path.exists():
            accounts[key] = Account.from_key(Account.decrypt(json.loads(path.read_text()), password))
            continue
        account = Account.create()
        path.write_text(json.dumps(Account.encrypt(account.key, password, iterations=scrypt_n)))
        path.chmod(0o600)
        accounts[key] = account
    return accounts


# --- the node's clock ----------------------------------------------------------------------------------


class ChainClock:
    """The anvil node's clock, set to each step's date; never before the last block nor past the present."""

    def __init__(self, rpc_url: str) -> None:
        self.rpc_url = rpc_url
        self.node = httpx.Client(timeout=10)

    def call(self, method: str, params: list[Any]) -> Any:
        answer = self.node.post(
            self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ).json()
        if "error" in answer:
            raise DemoRefused(
                f"the node at {self.rpc_url} refused {method}: {answer['error'].get('message')}"
            )
        return answer["result"]

    def last_block(self) -> datetime:
        block = self.call("eth_getBlockByNumber", ["latest", False])
        return datetime.fromtimestamp(int(block["timestamp"], 16), UTC)

    def set(self, when: datetime) -> None:
        last = int(self.last_block().timestamp())
        if int(when.timestamp()) + 3_600 < last:
            raise DemoRefused(
                f"{when:%Y-%m-%d %H:%M} is before the chain's last block: steps must be in order"
            )
        seconds = max(int(when.timestamp()), last + 1)
        if seconds > time.time():
            raise DemoRefused(f"{when:%Y-%m-%d %H:%M} is in the future: the chain's clock never runs ahead")
        self.call("evm_setTime", [seconds])

    def release(self) -> None:
        self.call("evm_setTime", [int(time.time())])

    @contextmanager
    def history(self) -> Iterator[ChainClock]:
        try:
            yield self
        finally:
            self.release()


# --- the API, as each party speaks to it ---------------------------------------------------------------


class Api:
    def __init__(self, http: httpx.Client, say: Callable[[str], None]) -> None:
        self.http = http
        self.say = say

    def sign_in(self, party: Party) -> None:
        challenge = self._ok(self.http.post("/auth/challenge", json={"address": party.address}))
        message = challenge["message"]
        signature = Account.sign_message(encode_defunct(text=message), party.account.key).signature
        token = self._ok(
            self.http.post(
                "/auth/token", json={"message": message, "signature": "0x" + bytes(signature).hex()}
            )
        )
        party.headers = {"Authorization": f"Bearer {token['access_token']}"}

    def get(self, party: Party, path: str, **params: Any) -> Any:
        return self._ok(self.http.get(path, params=params, headers=party.headers))

    def attempt(self, party: Party, prepare: str, submit: str, terms: dict) -> httpx.Response:
        prepared = self.http.post(prepare, json=terms, headers=party.headers)
        if prepared.status_code != 200:
            return prepared
        typed = prepared.json()["typed_data"]
        body = {"message": typed["message"], "signature": party.sign(typed)}
        return self.http.post(submit, json=body, headers=party.headers)

    def signed(self, party: Party, prepare: str, submit: str, terms: dict) -> dict:
        return self._ok(self.attempt(party, prepare, submit, terms))

    def upload(self, party: Party, body: bytes, media_type: str = "application/json") -> str:
        response = self.http.post(
            "/documents", files={"file": ("document", body, media_type)}, headers=party.headers
        )
        return self._ok(response)["sha256"]

    def post(self, party: Party, path: str, body: dict) -> dict:
        return self._ok(self.http.post(path, json=body, headers=party.headers))

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        if response.status_code not in (200, 201):
            raise DemoRefused(
                f"{response.request.method} {response.request.url.path} answered {response.status_code}: "
                f"{response.text[:300]}"
            )
        return response.json()


# --- the park --------------------------------------------------------------------------------------------


def iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


class Park:
    """The park's firms acting, step by step, each on its date."""

    def __init__(
        self,
        api: Api,
        clock: ChainClock,
        regulator: Party,
        parties: dict[str, Party],
        start: datetime,
        months: int = MONTHS,
    ):
        self.api, self.clock, self.regulator, self.p = api, clock, regulator, parties
        self.start, self.months = start, months
        self.loaded = Loaded(first_day=start, last_day=start)
        self.permits: dict[str, str] = {}

    def on(self, when: datetime) -> None:
        self.clock.set(when)
        self.loaded.last_day = max(self.loaded.last_day, when)

    def document(self, party: str, text: str) -> str:
        """A firm's record (a ticket, a log, a report) uploaded as a JSON document; its SHA-256 to cite."""
        record = {"issuer": FIRMS[party][0], "date": f"{self.loaded.last_day:%Y-%m-%d}", "record": text}
        return self.api.upload(self.p[party], json.dumps(record).encode())

    # The regulator's registry
    def register_firms(self) -> None:
        reg = self.regulator
        for key, (name, enterprise_id, roles) in FIRMS.items():
            terms = {
                "regulator": reg.address,
                "participant": self.p[key].address,
                "roles": list(roles),
                "legal_name": name,
                "enterprise_id": enterprise_id,
                "park": PARK,
            }
            self.api.signed(reg, "/participants/registrations/prepare", "/participants", terms)
            self.loaded.parties[key] = self.p[key].address
            self.api.sign_in(self.p[key])  # registered, it signs in with its own key
        known = {(c["scheme"], c["code"]) for c in self.api.get(reg, "/waste-codes")}
        for scheme, code, unit, hazardous, description in CODES:
            if (scheme, code) not in known:
                terms = {
                    "regulator": reg.address,
                    "scheme": scheme,
                    "code": code,
                    "unit": unit,
                    "hazardous": hazardous,
                    "description": description,
                }
                self.api.signed(reg, "/waste-codes/prepare", "/waste-codes", terms)

    def permit(
        self, key: str, number: str, kind: str, *covered: tuple[tuple, str], capacity: int = 10**10
    ) -> str:
        terms = {
            "regulator": self.regulator.address,
            "permit_number": number,
            "holder": self.p[key].address,
            "kind": kind,
            "coverage": [{"scheme": c[0], "code": c[1], "operations": [op]} for c, op in covered],
            "yearly_capacity": capacity,
            "valid_from": iso(self.start - 30 * DAY),
            "valid_until": iso(self.start + 3 * 365 * DAY),
        }
        self.permits[number] = self.api.signed(self.regulator, "/permits/prepare", "/permits", terms)[
            "permit_id"
        ]
        return self.permits[number]

    def register_permits(self) -> None:
        env = "ENVIRONMENTAL_PERMIT"
        self.permit("fertilizer", "GPMT-HP-0107", env, (SOLVENT, "R2"), capacity=20_000)
        self.permit("aggregates", "GPMT-HP-0112", env, (SLAG, "R5"))
        self.permit("roads", "GPMT-HP-0131", env, (POWDER, "R5"))
        self.permit("feed", "GPMT-HP-0144", env, (FISH, "R3"))
        self.permit("solvents", "GPMT-HP-0158", env, (SOLVENT, "R2"), capacity=50_000)
        self.permit("haulage", "CTNH-VC-0211", "HW_TRANSPORT_LICENCE", (SOLVENT, "R2"))
        self.permit("trucking", "CTNH-VC-0376", "HW_TRANSPORT_LICENCE", (SOLVENT, "R2"))
        covered = ((SLAG, "R5"), (POWDER, "R5"), (FISH, "R3"), (AGGREGATE, "R5"))
        self.permit("lab", "VIMCERTS 215", "LAB_ACCREDITATION", *covered)

    # Firms' statements
    def lot(self, key: str, code: tuple, quantity: int, note: str) -> str:
        terms = {
            "generator": self.p[key].address,
            "waste_scheme": code[0],
            "waste_code": code[1],
            "quantity": quantity,
            "unit": code[2],
            "document_hash": self.document(key, note),
        }
        return self.api.signed(self.p[key], "/lots/prepare", "/lots", terms)["id"]

    def certify(self, lot_id: str, results: dict[str, int], valid_days: int, when: datetime) -> str:
        lab = self.p["lab"]
        terms = {
            "lab": lab.address,
            "lot_id": lot_id,
            "accreditation_id": self.permits["VIMCERTS 215"],
            "document_hash": self.document("lab", f"Analysis report, lot {lot_id}, {when:%Y-%m-%d}"),
            "results_hash": self.api.upload(lab, json.dumps(results).encode()),
            "valid_until": iso(when + valid_days * DAY),
        }
        return self.api.signed(lab, "/certificates/prepare", "/certificates", terms)["id"]

    def dispatch_terms(
        self,
        shipper: str,
        receiver: str,
        lot_id: str,
        quantity: int,
        operation: str,
        permit: str,
        **more: Any,
    ) -> dict:
        return {
            "shipper": self.p[shipper].address,
            "receiver": self.p[receiver].address,
            "lot_id": lot_id,
            "quantity": quantity,
            "operation": operation,
            "permit_id": self.permits[permit],
            "document_hash": self.document(shipper, f"Weighbridge ticket, {quantity} kg, lot {lot_id}"),
            **more,
        }

    def dispatch(self, shipper: str, *args: Any, **more: Any) -> str:
        terms = self.dispatch_terms(shipper, *args, **more)
        return self.api.signed(self.p[shipper], "/transfers/dispatches/prepare", "/transfers", terms)["id"]

    def handover(self, carrier: str, transfer: str, kind: str) -> None:
        url = f"/transfers/{transfer}/legs/0/{kind}"
        self.api.signed(self.p[carrier], url + "/prepare", url, {})

    def receive(self, receiver: str, transfer: str, quantity: int) -> None:
        url = f"/transfers/{transfer}/receipt"
        self.api.signed(self.p[receiver], url + "/prepare", url, {"received_quantity": quantity})

    def flow(self, supplier: str, offtaker: str, medium: str, meter: str) -> str:
        terms = {
            "supplier": self.p[supplier].address,
            "offtaker": self.p[offtaker].address,
            "medium": medium,
            "unit": "TNE",
            "meter_id": "0x" + hashlib.sha256(meter.encode()).hexdigest(),
            "period_seconds": WEEK,
            "first_period_start": iso(self.start),
        }
        typed = self.api.post(self.p[supplier], "/flows/prepare", terms)["typed_data"]
        body = {
            "message": typed["message"],
            "supplier_signature": self.p[supplier].sign(typed),
            "offtaker_signature": self.p[offtaker].sign(typed),
        }
        return self.api.post(self.p[supplier], "/flows", body)["id"]

    def anchor(
        self, flow: str, supplier: str, offtaker: str, weeks: range, weekly: list[int], meter: str
    ) -> None:
        """Weeks `weeks` of the flow, their totals `weekly`, each signed by both ends of the pipe."""
        readings = [
            {
                "quantity": q,
                "reading_hash": "0x" + hashlib.sha256(f"{meter}/week {w}/{q}".encode()).hexdigest(),
            }
            for w, q in zip(weeks, weekly, strict=True)
        ]
        terms = {"first_period": weeks.start, "periods": readings}
        prepared = self.api.post(self.p[supplier], f"/flows/{flow}/periods/prepare", terms)
        periods = [
            {
                "quantity": q,
                "reading_hash": item["typed_data"]["message"]["readingHash"],
                "supplier_signature": self.p[supplier].sign(item["typed_data"]),
                "offtaker_signature": self.p[offtaker].sign(item["typed_data"]),
            }
            for item, q in zip(prepared["periods"], weekly, strict=True)
        ]
        body = {"first_period": prepared["first_period"], "periods": periods}
        self.api.post(self.p[supplier], f"/flows/{flow}/periods", body)


def load(
    http: httpx.Client,
    rpc_url: str,
    regulator_account: LocalAccount,
    accounts: dict[str, LocalAccount],
    say: Callable[[str], None] = print,
    today: datetime | None = None,
    months: int = MONTHS,
) -> Loaded:
    """Loads `months` months of the park through the API at `http` (its base URL set), dating each step on
    the node at `rpc_url`."""
    if months < 1:
        raise DemoRefused(f"a park's history is at least one month long, not {months}")
    api, clock = Api(http, say), ChainClock(rpc_url)
    regulator = Party("regulator", regulator_account)
    api.sign_in(regulator)
    already = [p for p in api.get(regulator, "/participants") if p.get("park") == PARK]
    if already:
        raise DemoRefused(
            f"the demo park {PARK!r} is already on this ledger ({len(already)} participants): nothing loaded"
        )
    today = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    # Ends the day before today, so that no step is ever dated after the present.
    start = today - timedelta(days=30 * months + 1)
    last = clock.last_block()
    if last >= start:
        raise DemoRefused(
            f"this chain's last block is dated {last:%Y-%m-%d %H:%M} UTC, after the demo's first day "
            f"{start:%Y-%m-%d}: its history cannot go back in time; load the demo into a new system "
            "(make run DATA_DIR=data-demo PORT=8001 RPC_PORT=8555, then make demo with the same settings)"
        )
    parties = {key: Party(key, account) for key, account in accounts.items()}
    park = Park(api, clock, regulator, parties, start, months)
    with clock.history():
        story(park, say)
    return park.loaded


def story(park: Park, say: Callable[[str], None]) -> None:
    start, loaded = park.start, park.loaded
    lots = loaded.lots
    park.on(start + timedelta(hours=8))
    park.register_firms()
    park.register_permits()
    say(f"{start:%Y-%m-%d}: the regulator registered {len(FIRMS)} firms of {PARK}, their permits and the lab")

    park.on(start + timedelta(hours=10))
    co2 = park.flow("fertilizer", "gas", "CO2", "FT-CO2-01")  # from ammonia synthesis, to liquefaction
    steam = park.flow("power", "polymers", "steam", "FT-STM-07")  # process steam, 16 bar
    loaded.flows.update(co2=co2, steam=steam)

    # The glass finisher's powder is analysed once, for 90 days: later shipments find it expired.
    park.on(start + timedelta(hours=11))
    powder = park.lot("glass", POWDER, 120_000, "Polishing line 3: cerium oxide sludge, filter-pressed")
    powder_cert = park.certify(powder, LEACHATE, 90, start)
    # Enough solvent for the 2,000 kg shipped every other month (9,000 kg for six months).
    solvent = park.lot(
        "fertilizer", SOLVENT, 1_500 * park.months, "Maintenance shop: spent degreasing solvents, drums"
    )
    lots.update(powder=powder, solvent=solvent)

    anchored = 0  # weeks of metered flow anchored so far
    for month in range(park.months):
        first, m = start + timedelta(days=30 * month), month + 1
        seafood_to_feed(park, first, m)
        if month == 2:
            revoke_licence(park, first + timedelta(days=2, hours=11), say)
        aggregate = slag_to_aggregate(park, first, m)
        if month in (0, 1, 2, 4):
            powder_to_roads(park, first, m, powder, powder_cert, say)
        if month % 2 == 1:
            solvents_recovered(park, first, m, solvent, say)
        road_base(park, first, m, aggregate)
        # At each month's end, the weeks that ended, signed by both ends of each pipe.
        park.on(first + timedelta(days=30, hours=2))
        # The service judges a period ended by the chain's last block: one is mined on the step's date.
        park.clock.call("evm_mine", [])
        weeks = range(anchored, (30 * m) // 7)
        park.anchor(co2, "fertilizer", "gas", weeks, [680 + (w * 37) % 90 for w in weeks], "FT-CO2-01")
        park.anchor(steam, "power", "polymers", weeks, [2_870 + (w * 53) % 210 for w in weeks], "FT-STM-07")
        anchored = weeks.stop
        say(f"month {m} ({first:%Y-%m-%d}): slag, aggregate, feed, powder, solvents and both pipes recorded")


def revoke_licence(park: Park, when: datetime, say: Callable[[str], None]) -> None:
    park.on(when)
    url = f"/permits/{park.permits['CTNH-VC-0376']}/revocation"
    terms = {"regulator": park.regulator.address, "reason": "vehicle positioning devices disconnected"}
    park.api.signed(park.regulator, url + "/prepare", url, terms)
    say(f"{when:%Y-%m-%d}: the regulator revoked Bach Dang Trucking's licence CTNH-VC-0376")


def slag_to_aggregate(park: Park, first: datetime, m: int) -> str:
    """Steel slag generated, analysed, carried, received, crushed into aggregate and the aggregate certified."""
    t = park.loaded.transfers
    park.on(first + timedelta(days=3, hours=7))
    slag = park.lot(
        "steel", SLAG, 2_400_000 + 37_000 * m, f"EAF slag yard, month {m}: furnace and ladle slag"
    )
    slag_cert = park.certify(slag, LEACHATE, 120, first + 3 * DAY)
    park.on(first + timedelta(days=4, hours=7))
    shipped, name = 2_300_000 + 30_000 * m, f"slag-{m}"
    t[name] = park.dispatch(
        "steel", "aggregates", slag, shipped, "R5", "GPMT-HP-0112",
        certificates=[slag_cert], transporters=[park.p["haulage"].address],
    )  # fmt: skip
    park.handover("haulage", t[name], "pick-up")
    park.on(first + timedelta(days=4, hours=15))
    park.handover("haulage", t[name], "delivery")
    received = shipped - 4_000 - 500 * m  # moisture lost on the way, well within tolerance
    park.receive("aggregates", t[name], received)
    park.on(first + timedelta(days=9, hours=10))
    product = received * 97 // 100
    terms = {
        "processor": park.p["aggregates"].address,
        "inputs": [{"lot_id": t[name], "quantity": received}],
        "outputs": [{"kind": "product", "scheme": AGGREGATE[0], "code": AGGREGATE[1], "quantity": product}],
        "loss_grams": (received - product) * 1_000,
        "loss_description": "metal recovered by magnet, fines back to the slag yard",
        "document_hash": park.document("aggregates", f"Crushing log, month {m}"),
    }
    made = park.api.signed(park.p["aggregates"], "/processings/prepare", "/processings", terms)
    aggregate = made["outputs"][0]["lot_id"]
    park.loaded.lots[f"aggregate-{m}"] = aggregate
    park.certify(aggregate, LEACHATE, 365, first + 9 * DAY)
    return aggregate


def road_base(park: Park, first: datetime, m: int, aggregate: str) -> None:
    park.on(first + timedelta(days=20, hours=9))
    held = park.api.get(park.p["aggregates"], f"/lots/{aggregate}")
    terms = {
        "quantity": int(held["quantity"]) * 9 // 10,
        "use": f"road base course, Dinh Vu ring road section {m}",
        "document_hash": park.document("aggregates", f"Delivery notes, road base, month {m}"),
    }
    park.api.signed(park.p["aggregates"], f"/lots/{aggregate}/uses/prepare", f"/lots/{aggregate}/uses", terms)


def seafood_to_feed(park: Park, first: datetime, m: int) -> None:
    t = park.loaded.transfers
    park.on(first + timedelta(days=1, hours=6))
    fish = park.lot("seafood", FISH, 48_000 + 1_500 * m, f"Filleting lines, month {m}")
    fish_cert = park.certify(fish, FEED, 30, first + DAY)
    park.on(first + timedelta(days=1, hours=13))
    name = f"fish-{m}"
    t[name] = park.dispatch(
        "seafood", "feed", fish, 46_000 + 1_500 * m, "R3", "GPMT-HP-0144", certificates=[fish_cert]
    )
    park.receive("feed", t[name], 45_900 + 1_500 * m)


def powder_to_roads(
    park: Park, first: datetime, m: int, powder: str, powder_cert: str, say: Callable[[str], None]
) -> None:
    """Glass polishing powder levels the park's roads while its analysis stands; in month 5 it has expired."""
    loaded = park.loaded
    park.on(first + timedelta(days=12, hours=8))
    name = f"powder-{m}"
    terms: dict[str, Any] = {"certificates": [powder_cert], "transporters": [park.p["haulage"].address]}
    if m == 5:
        refused = park.api.attempt(
            park.p["glass"],
            "/transfers/dispatches/prepare",
            "/transfers",
            park.dispatch_terms("glass", "roads", powder, 18_000, "R5", "GPMT-HP-0131", **terms),
        )
        loaded.refusals["expired certificate"] = {"status": refused.status_code, **refused.json()}
        say(f"{first + 12 * DAY:%Y-%m-%d}: the chain refused powder citing its expired analysis: "
            f"{refused.json()['detail'][0]['msg']}")  # fmt: skip
        terms["certificates"] = []  # shipped anyway, without an analysis: a regulator must see it
        loaded.planted[name] = ("VN-CLASS-02", "VN-CLASS-03", "VN-ICSW-02")
    loaded.transfers[name] = park.dispatch("glass", "roads", powder, 18_000, "R5", "GPMT-HP-0131", **terms)
    park.handover("haulage", loaded.transfers[name], "pick-up")
    park.on(first + timedelta(days=12, hours=11))
    park.handover("haulage", loaded.transfers[name], "delivery")
    park.receive("roads", loaded.transfers[name], 17_950)


def solvents_recovered(park: Park, first: datetime, m: int, solvent: str, say: Callable[[str], None]) -> None:
    """Spent solvents every other month, carried under a hazardous-waste transport licence."""
    loaded = park.loaded
    park.on(first + timedelta(days=15, hours=8))
    name = f"solvent-{m}"
    carrier = {"transporters": [park.p["haulage"].address], "licences": [park.permits["CTNH-VC-0211"]]}
    if m == 4:  # the holder of the revoked licence is refused first
        refused = park.api.attempt(
            park.p["fertilizer"],
            "/transfers/dispatches/prepare",
            "/transfers",
            park.dispatch_terms(
                "fertilizer", "solvents", solvent, 2_000, "R2", "GPMT-HP-0158",
                transporters=[park.p["trucking"].address], licences=[park.permits["CTNH-VC-0376"]],
            ),
        )  # fmt: skip
        loaded.refusals["revoked licence"] = {"status": refused.status_code, **refused.json()}
        say(f"{first + 15 * DAY:%Y-%m-%d}: the chain refused Bach Dang Trucking as carrier: "
            f"{refused.json()['detail'][0]['msg']}")  # fmt: skip
    loaded.transfers[name] = park.dispatch(
        "fertilizer", "solvents", solvent, 2_000, "R2", "GPMT-HP-0158", **carrier
    )
    park.handover("haulage", loaded.transfers[name], "pick-up")
    park.on(first + timedelta(days=15, hours=14))
    park.handover("haulage", loaded.transfers[name], "delivery")
    park.on(first + timedelta(days=15, hours=16))
    short = m == 4
    park.receive(
        "solvents", loaded.transfers[name], 1_760 if short else 1_995
    )  # 12 % short: two drums missing
    if short:
        loaded.planted[name] = ("VN-HW-10",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the running service")
    parser.add_argument(
        "--rpc", default="http://127.0.0.1:8545", help="its anvil node (the demo dates blocks)"
    )
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="holds keys/regulator.json")
    parser.add_argument(
        "--months",
        type=int,
        default=MONTHS,
        help="months of history, ending yesterday (up to 12 on make run's chain)",
    )
    args = parser.parse_args(argv)
    keys = args.data_dir / "keys"
    regulator_file, password_file = keys / "regulator.json", keys / "regulator.password"
    try:
        if not regulator_file.exists():
            raise DemoRefused(
                f"no founding regulator's key at {regulator_file}: start the system with make run"
            )
        regulator = Account.from_key(
            Account.decrypt(json.loads(regulator_file.read_text()), password_file.read_text().rstrip("\n"))
        )
        accounts = party_keys(args.data_dir / "demo" / "keys")
        with httpx.Client(base_url=args.api, timeout=60) as http:
            loaded = load(http, args.rpc, regulator, accounts, months=args.months)
    except (DemoRefused, httpx.HTTPError) as refused:
        print(f"demo park not loaded: {refused}", file=sys.stderr)
        return 1
    print(
        f"loaded {PARK}: {len(loaded.parties)} firms, {len(loaded.transfers)} transfers, {len(loaded.flows)} "
        f"metered flows, {loaded.first_day:%Y-%m-%d} to {loaded.last_day:%Y-%m-%d}; planted failures: "
        + "; ".join(f"{name} ({', '.join(rules)})" for name, rules in loaded.planted.items())
    )
    print(f"see them: GET {args.api}/verification/parks/{PARK.replace(' ', '%20')}?pack=VN")
    return 0


if __name__ == "__main__":
    sys.exit(main())

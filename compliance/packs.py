"""Rule packs: versioned data naming each rule, its citation, severity and the legal numbers it uses.

A pack is a JSON file in compliance/packs/. The engine's code holds no legal number: every tolerance,
deadline and threshold is a pack parameter with its value, unit, source and the confidence tag of the rule
catalogue (S, S2, H, U, D). A parameter tagged U has a documented default that a lawyer must confirm; it
can be overridden per deployment (settings), and every report that uses it shows it as unconfirmed.

A report names the pack's id, version and content hash (the sha256 of its canonical JSON after overrides),
so the same verdicts can be re-computed from the same pack.
"""

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PACKS_DIR = Path(__file__).parent / "packs"
CONFIDENCE_TAGS = ("S", "S2", "H", "U", "D")
SEVERITIES = ("Critical", "High", "Medium", "Low")


class PackError(ValueError):
    """A pack file or an override is malformed: the message names the pack, rule and field."""


@dataclass(frozen=True)
class Parameter:
    name: str
    value: Any  # an int (at the unit's scale), a string, or a list of them: never a float
    unit: str
    source: str
    confidence: str

    @property
    def unconfirmed(self) -> bool:
        return self.confidence == "U"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    jurisdiction: str
    citation: str
    severity: str
    parameters: tuple[Parameter, ...] = ()

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise PackError(f"rule {self.id} has no parameter {name!r}")


@dataclass(frozen=True)
class Pack:
    id: str
    version: str
    title: str
    rules: tuple[Rule, ...]
    content_hash: str
    overrides: tuple[tuple[str, str], ...] = ()

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise PackError(f"pack {self.id} has no rule {rule_id}")


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def available() -> list[str]:
    # Files starting with "_" are shared parts a pack includes, not packs.
    return sorted(p.stem.upper() for p in PACKS_DIR.glob("*.json") if not p.stem.startswith("_"))


def load(pack_id: str, overrides: dict[str, Any] | None = None) -> Pack:
    """Pack `pack_id` (VN, EU, US) with `overrides` ("RULE-ID.parameter" -> value) applied to parameters
    tagged U only: a confirmed legal number is not a setting."""
    raw = _raw(pack_id.upper())
    applied = []
    for key, value in sorted((overrides or {}).items()):
        rule_id, _, name = key.rpartition(".")
        target = _find_parameter(raw, pack_id, rule_id, name)
        if target["confidence"] != "U":
            raise PackError(
                f"{key} is tagged {target['confidence']} in pack {pack_id}: only U parameters are settings"
            )
        _check_value(pack_id, key, value)
        applied.append((key, json.dumps(value)))
    return from_data(data(pack_id, overrides), tuple(applied))


def data(pack_id: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pack's data as its content hash covers it (includes merged, overrides applied): what an
    evidence bundle carries."""
    raw: dict[str, Any] = json.loads(json.dumps(_raw(pack_id.upper())))
    for key, value in sorted((overrides or {}).items()):
        rule_id, _, name = key.rpartition(".")
        _find_parameter(raw, pack_id, rule_id, name)["value"] = value
    return raw


def from_data(data: dict[str, Any], overrides: tuple[tuple[str, str], ...] = ()) -> Pack:
    """A pack from its data (as `data` gives it), e.g. read back from an evidence bundle."""
    return _parse(data, hashlib.sha256(canonical(data)).hexdigest(), overrides)


@cache
def _raw(pack_id: str) -> dict[str, Any]:
    """The pack's data with its `includes` (shared rule files, e.g. _common.json) merged in."""
    path = PACKS_DIR / f"{pack_id.lower()}.json"
    if pack_id.startswith("_") or not path.is_file():
        raise PackError(f"no rule pack {pack_id!r}: the packs are {', '.join(available())}")
    data: dict[str, Any] = json.loads(path.read_text())
    included = [
        json.loads((PACKS_DIR / f"_{name}.json").read_text())["rules"] for name in data.pop("includes", [])
    ]
    data["rules"] = [rule for rules in included for rule in rules] + data["rules"]
    return data


def _find_parameter(data: dict[str, Any], pack_id: str, rule_id: str, name: str) -> dict[str, Any]:
    for rule in data["rules"]:
        if rule["id"] == rule_id and name in rule.get("parameters", {}):
            parameter: dict[str, Any] = rule["parameters"][name]
            return parameter
    raise PackError(f"pack {pack_id} has no parameter {rule_id}.{name}")


def _check_value(pack_id: str, where: str, value: Any) -> None:
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, float) or not isinstance(v, int | str) or isinstance(v, bool) for v in values):
        raise PackError(f"pack {pack_id}, {where}: a value is an integer or a string, never {value!r}")


def _parse(data: dict[str, Any], content_hash: str, overrides: tuple[tuple[str, str], ...]) -> Pack:
    pack_id = data.get("id", "?")
    rules = []
    for raw in data["rules"]:
        where = f"pack {pack_id}, rule {raw.get('id', '?')}"
        for key in ("id", "title", "jurisdiction", "citation", "severity"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise PackError(f"{where}: {key} is missing")
        if raw["severity"] not in SEVERITIES:
            raise PackError(f"{where}: severity {raw['severity']!r} is not one of {', '.join(SEVERITIES)}")
        parameters = []
        for name, p in sorted(raw.get("parameters", {}).items()):
            if p.get("confidence") not in CONFIDENCE_TAGS:
                raise PackError(f"{where}, parameter {name}: confidence must be one of {CONFIDENCE_TAGS}")
            if not p.get("source") or not p.get("unit"):
                raise PackError(f"{where}, parameter {name}: source and unit are required")
            _check_value(pack_id, f"{raw['id']}.{name}", p.get("value"))
            parameters.append(Parameter(name, p["value"], p["unit"], p["source"], p["confidence"]))
        rules.append(
            Rule(
                raw["id"],
                raw["title"],
                raw["jurisdiction"],
                raw["citation"],
                raw["severity"],
                tuple(parameters),
            )
        )
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise PackError(f"pack {pack_id}: a rule id appears twice")
    return Pack(pack_id, data["version"], data["title"], tuple(rules), content_hash, overrides)

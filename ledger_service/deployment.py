"""The deployment record: which contracts, at which addresses, on which chain, from which build.

It is written once when the contracts are deployed and read at every start, so a restart reuses the
deployment instead of deploying again.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DeployedContract:
    address: str
    tx_hash: str
    block_number: int
    artifact_sha256: str


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    ledger: DeployedContract
    founding_regulator: str
    deployer: str
    deployed_at: str
    compiler: dict[str, object] = field(default_factory=dict)
    # --- processing and metered flows (modules beside the ledger) -------------------------------------
    # None in a record written before the modules were recorded (see `missing_modules`).
    processing: DeployedContract | None = None
    metered_flows: DeployedContract | None = None
    # --- end processing and metered flows -------------------------------------------------------------
    regulator_actions: DeployedContract | None = None  # None in a record written before it was deployed

    @property
    def start_block(self) -> int:
        """The first block the indexer has to read."""
        return self.ledger.block_number

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)  # atomic: a crash never leaves half a record

    @classmethod
    def load(cls, path: Path) -> "Deployment":
        raw = json.loads(path.read_text())
        if "registry" in raw or "ledger" not in raw:
            raise RuntimeError(
                f"{path} records an older deployment (separate registry contracts); deploy anew"
            )
        return cls(
            chain_id=raw["chain_id"],
            ledger=DeployedContract(**raw["ledger"]),
            founding_regulator=raw["founding_regulator"],
            deployer=raw["deployer"],
            deployed_at=raw["deployed_at"],
            compiler=raw.get("compiler", {}),
            # --- processing and metered flows ---
            processing=_module(raw.get("processing")),
            metered_flows=_module(raw.get("metered_flows")),
            regulator_actions=_module(raw.get("regulator_actions")),
        )

    # --- processing and metered flows -----------------------------------------------------------------

    @property
    def missing_modules(self) -> list[str]:
        """The modules this record does not name (a record from before they were recorded)."""
        return [name for name in MODULES if getattr(self, name) is None]

    def module_addresses(self) -> str:
        """Where each recorded module is: `processing 0x…, metered-flows 0x…, regulator-actions 0x…`."""
        return ", ".join(
            f"{name.replace('_', '-')} {module.address}"
            for name in MODULES
            if (module := getattr(self, name)) is not None
        )


# The contracts beside the ledger, in the order they are deployed.
MODULES = ("processing", "metered_flows", "regulator_actions")


def _module(raw: dict[str, object] | None) -> DeployedContract | None:
    return None if raw is None else DeployedContract(**raw)  # type: ignore[arg-type]


# --- end processing and metered flows -------------------------------------------------------------

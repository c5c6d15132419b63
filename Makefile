# Symbiosis Ledger: `make run` starts the local profile, `make test` runs every test.
# Every setup step is stamped on its inputs, so a second run installs nothing.

PYTHON ?= python3
# Two environments: eth-brownie pins web3/pydantic/pytest versions the service cannot live with.
VENV := .venv
BROWNIE_VENV := .venv-brownie
BROWNIE := $(BROWNIE_VENV)/bin/brownie
SOLC_DIR := $(CURDIR)/.solcx
# The solc version is the exact npm `solc` pin; install-solc reads the same field.
SOLC_VERSION := $(shell node -p 'require("./package.json").dependencies.solc' 2>/dev/null)
SOLC_SHIM := $(SOLC_DIR)/solc-v$(SOLC_VERSION)

# py-solc-x / brownie take solc from here (wins over ~/.solcx); brownie launches `anvil` from PATH.
export SOLCX_BINARY_PATH := $(SOLC_DIR)
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

# The local profile: data directory and ports (`make run DATA_DIR=/tmp/x PORT=8001 RPC_PORT=8555`).
DATA_DIR ?= data
PORT ?= 8000
RPC_PORT ?= 8545

.DEFAULT_GOAL := help
.PHONY: help setup build run demo test test-contracts test-service gas-snapshot lint clean

help:
	@echo "make run    start the local profile: anvil (state in $(DATA_DIR)/), contracts, API on 127.0.0.1:$(PORT)"
	@echo "make demo   with make run running: load the demo park (six months of Dinh Vu) into it"
	@echo "make test   run every test (contracts on anvil, service on SQLite; PostgreSQL via TEST_DATABASE_URL)"
	@echo "make gas-snapshot   rewrite snapshots/gas.json from the contract tests"
	@echo "make lint   ruff over the Python code"
	@echo "make slither   static analysis of the contracts against the triage in docs/slither-triage.md"
	@echo "make solhint   lint the contracts (.solhint.json; docs/solhint.md says why rules are off)"
	@echo "make typecheck   mypy --strict over compliance/ and the chain gateway"

# npm writes node_modules/.package-lock.json on every install: a cheap stamp newer than the lock.
# Not `npm ci`: the registry here lacks anvil's non-linux-x64 optional packages, so the lock has no
# entries for them and `npm ci` rejects it as out of sync. `npm install --no-save` installs exactly
# the locked versions and never rewrites package.json or package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	@echo "==> npm install --no-save (solc-js, anvil, OpenZeppelin as locked in package-lock.json)"
	npm install --no-save --no-audit --no-fund
	@touch $@

$(BROWNIE_VENV)/.installed: requirements-brownie.txt
	@echo "==> creating $(BROWNIE_VENV) with $(PYTHON) and installing requirements-brownie.txt"
	$(PYTHON) -m venv $(BROWNIE_VENV)
	$(BROWNIE_VENV)/bin/pip install --quiet -r requirements-brownie.txt
	@touch $@

$(SOLC_SHIM): package.json scripts/solc/install-solc node_modules/.package-lock.json
	scripts/solc/install-solc $(SOLC_DIR)
	@touch $@

# The service's environment, installed within constraints.txt (the versions it is tested with).
$(VENV)/.installed: pyproject.toml constraints.txt
	@echo "==> creating $(VENV) with $(PYTHON) and installing the service (pip install -e .[dev])"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

setup: node_modules/.package-lock.json $(BROWNIE_VENV)/.installed $(SOLC_SHIM) $(VENV)/.installed

# brownie recompiles only changed sources itself, so this target always runs it.
build: setup
	@echo "==> brownie compile (solc $(SOLC_VERSION) via $(SOLC_SHIM))"
	$(BROWNIE) compile

run: build
	@echo "==> starting the local profile (Ctrl-C stops it; chain state stays in $(DATA_DIR)/)"
	$(VENV)/bin/symledger up --data-dir $(DATA_DIR) --port $(PORT) --rpc-port $(RPC_PORT)

# The demo park, loaded through the running system's API; its dates come from the node's clock.
demo: $(VENV)/.installed
	$(VENV)/bin/python scripts/demo_park.py --api http://127.0.0.1:$(PORT) \
	  --rpc http://127.0.0.1:$(RPC_PORT) --data-dir $(DATA_DIR)

test: test-contracts test-service

# --network anvil: brownie launches its own anvil on port 8546 (never 8545, the running system's).
test-contracts: build
	@echo "==> contract tests (brownie, anvil on port 8546)"
	$(BROWNIE) test tests/contracts --network anvil

test-service: build
	@echo "==> service and end-to-end tests ($(if $(TEST_DATABASE_URL),PostgreSQL,SQLite))"
	$(VENV)/bin/pytest $(PYTEST_ARGS)

gas-snapshot: build
	UPDATE_GAS_SNAPSHOT=1 $(BROWNIE) test $(wildcard tests/contracts/test_gas*.py) --network anvil

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf build reports .pytest_cache

# ---- static analysis (not part of `make test`; .ci/run runs slither, solhint and typecheck) ------
# slither over the production contracts: SymbiosisLedger.sol and what it imports (custody/, processing/,
# utils/, interfaces/), then flows/MeteredFlows.sol and regulator/RegulatorActions.sol, compiled through the
# solc wrapper with brownie-config.yaml's settings. OpenZeppelin and the benchmark/test-only contracts
# (contracts/baseline/, contracts/test/) are filtered out. The findings
# triaged in docs/slither-triage.md are hidden through slither.db.json; --fail-medium makes any other
# Medium or High finding fail the target (Low/Informational ones are printed, never fatal).
# A triaged finding's id includes its line number: if an edit moves it, it shows again and fails until
# re-triaged with `make slither-triage` (see docs/slither-triage.md).
TOOLS_VENV := .venv-tools
SLITHER_TARGETS := contracts/SymbiosisLedger.sol contracts/flows/MeteredFlows.sol \
	contracts/regulator/RegulatorActions.sol
SLITHER_CMD := $(TOOLS_VENV)/bin/slither $$target \
	--compile-force-framework solc --solc $(SOLC_SHIM) \
	--solc-remaps @openzeppelin/=node_modules/@openzeppelin/ \
	--solc-args "--optimize --optimize-runs 200 --evm-version prague --via-ir" \
	--filter-paths "node_modules|contracts/baseline/|contracts/test/" \
	--triage-database slither.db.json
.PHONY: slither slither-triage solhint typecheck

$(TOOLS_VENV)/.installed: requirements-tools.txt
	@echo "==> creating $(TOOLS_VENV) with $(PYTHON) and installing requirements-tools.txt"
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet -r requirements-tools.txt
	@touch $@

slither: $(TOOLS_VENV)/.installed $(SOLC_SHIM)
	@echo "==> slither (triage: docs/slither-triage.md; fails on an untriaged Medium/High finding)"
	@set -e; for target in $(SLITHER_TARGETS); do echo "--> $$target"; $(SLITHER_CMD) --fail-medium; done

# Interactive: hides the findings you list (per detector) by adding them to slither.db.json. Hide only
# findings triaged in docs/slither-triage.md; never answer "All" without reading them.
slither-triage: $(TOOLS_VENV)/.installed $(SOLC_SHIM)
	@set -e; for target in $(SLITHER_TARGETS); do echo "--> $$target"; $(SLITHER_CMD) --fail-none --triage-mode; done

# solhint over contracts/ (.solhint.json: the recommended rules, tuned as docs/solhint.md says; the baseline and
# test contracts are left out, as for slither). Any warning fails it. --disc: no update check over the network.
solhint: node_modules/.package-lock.json
	@echo "==> solhint (config: .solhint.json; fails on any warning)"
	solhint --max-warnings 0 --disc --noPoster 'contracts/**/*.sol'

# mypy --strict over compliance/ and ledger_service/chain/gateway.py (the files and settings: pyproject.toml).
typecheck: $(VENV)/.installed
	@echo "==> mypy --strict (compliance/, ledger_service/chain/, ledger_service/eip712.py)"
	$(VENV)/bin/python -m mypy

# Setup and build of the contract toolchain. Run/test targets are appended below by the lead.
# Every step is stamped on its inputs, so a second `make build` installs nothing.

PYTHON ?= python3
BROWNIE_VENV := .venv-brownie
BROWNIE := $(BROWNIE_VENV)/bin/brownie
SOLC_DIR := $(CURDIR)/.solcx
# The solc version is the exact npm `solc` pin; install-solc reads the same field.
SOLC_VERSION := $(shell node -p 'require("./package.json").dependencies.solc' 2>/dev/null)
SOLC_SHIM := $(SOLC_DIR)/solc-v$(SOLC_VERSION)

# py-solc-x / brownie take solc from here (wins over ~/.solcx); brownie launches `anvil` from PATH.
export SOLCX_BINARY_PATH := $(SOLC_DIR)
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.DEFAULT_GOAL := build
.PHONY: setup build

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

setup: node_modules/.package-lock.json $(BROWNIE_VENV)/.installed $(SOLC_SHIM)

# brownie recompiles only changed sources itself, so this target always runs it.
build: setup
	@echo "==> brownie compile (solc $(SOLC_VERSION) via $(SOLC_SHIM))"
	$(BROWNIE) compile

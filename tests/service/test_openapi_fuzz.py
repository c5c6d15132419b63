"""Every operation of the OpenAPI document under schemathesis: generated requests, valid and invalid, never get
a 5xx, and every answer is one the document describes (status code, content type, body schema)."""

import os

import pytest
import schemathesis
from parties import sign_in
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from workflows import served

from ledger_service.main import create_app

# Generated requests per operation (besides the document's examples); a deeper
# local run: FUZZ_EXAMPLES=200 pytest tests/service/test_openapi_fuzz.py.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# The document is read at collection, from an app that is never started (one test per operation needs the
# operations before any fixture runs; schemathesis' fixture-loaded schemas break on pytest 9.2's node ids);
# test_the_fuzzed_document_is_the_one_served checks it is the one the running service serves.
DOCUMENT = create_app().openapi()
# Left out: verifying the deployed contracts takes no input and compiles their sources for a minute
# (test_bytecode_verification.py tests it).
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(operation_id="verify_contracts")
# The document's examples and generated requests; not schemathesis' boundary-value ("coverage") phase, which
# builds its cases while pytest collects, for minutes, even when this module's tests are not selected (it
# runs with FUZZ_COVERAGE=1, for a deeper local run).
schema.config.phases.update(
    phases=["examples", "fuzzing"] + (["coverage"] if os.environ.get("FUZZ_COVERAGE") else [])
)
# deterministic: the same requests on every run, so CI is reproducible. No generated bearer tokens: the
# requests carry the regulator's, so they reach the handlers instead of stopping at the sign-in check.
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, with_security_parameters=False)


@pytest.fixture(scope="module")
def api_url(client):
    with served(client.app) as url:
        yield url


@pytest.fixture(scope="module", autouse=True)
def no_webhooks_left(client):
    """The webhooks the fuzzing subscribes the regulator to are deleted after it, as a party would."""
    before = {hook["id"] for hook in client.get("/webhooks").json()}
    yield
    for hook in client.get("/webhooks").json():
        if hook["id"] not in before:
            assert client.delete(f"/webhooks/{hook['id']}").status_code == 204


def test_the_fuzzed_document_is_the_one_served(client) -> None:
    assert client.get("/openapi.json").json() == DOCUMENT


@schema.parametrize()
def test_generated_requests_get_documented_answers(case, client, regulator, api_url):
    headers = {"Authorization": client.headers["Authorization"]}
    if case.operation.path == "/auth/logout":
        # Logging out revokes the token it is sent with: a token of its own, not the session's.
        headers = sign_in(client, regulator)
    case.call_and_validate(base_url=api_url, headers=headers, checks=CHECKS)

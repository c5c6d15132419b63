"""The OpenAPI document clients (and the dashboard) are built from: every request body shows an example, and
each example is a body its schema and the service both accept."""

import sys
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel


def _request_bodies(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(operation id, media type, schema) of every request body."""
    return [
        (operation["operationId"], media_type, content["schema"])
        for operations in spec["paths"].values()
        for operation in operations.values()
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items()
    ]


def _models_named(schema: dict[str, Any]) -> list[str]:
    """The component schemas a body's schema refers to: itself, or the branches of an optional body."""
    refs = [schema.get("$ref")] + [branch.get("$ref") for branch in schema.get("anyOf", [])]
    return [ref.rsplit("/", 1)[-1] for ref in refs if ref]


def _api_models() -> dict[str, type[BaseModel]]:
    """The API's pydantic models by name, as the OpenAPI document names their schemas."""
    return {
        value.__name__: value
        for name, module in list(sys.modules.items())
        if name.startswith("ledger_service.api")
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == name
    }


def test_every_request_body_has_an_example_its_schema_and_the_service_accept(client) -> None:
    spec = client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    models = _api_models()
    bodies = _request_bodies(spec)
    assert len(bodies) >= 40
    missing, invalid = [], []
    for operation, media_type, schema in bodies:
        names = _models_named(schema)
        examples = schema.get("examples", []) + [e for n in names for e in components[n].get("examples", [])]
        if not examples:
            missing.append(f"{operation} ({media_type}: {' | '.join(names) or 'inline schema'})")
        # Refs point into the OpenAPI document: resolved against its components.
        validator = Draft202012Validator({**schema, "components": spec["components"]})
        for example in examples:
            invalid += [f"{operation}: {e.json_path}: {e.message}" for e in validator.iter_errors(example)]
            # The service's own checks go further than the schema (checksums, one licence per transporter).
            if names and example is not None:
                models[names[0]].model_validate(example)
    assert not missing, "request bodies without an example:\n" + "\n".join(missing)
    assert not invalid, "examples their schema refuses:\n" + "\n".join(invalid)


def test_the_schemas_refuse_a_wrong_body(client) -> None:
    # The check above is no formality: with its refs resolved, a body's schema refuses what the service would.
    spec = client.get("/openapi.json").json()
    (schema,) = [s for op, _, s in _request_bodies(spec) if op == "create_sign_in_challenge"]
    validator = Draft202012Validator({**schema, "components": spec["components"]})
    address = "0x8ba1f109551bD432803012645Ac136ddd64DBA72"
    assert validator.is_valid({"address": address})
    assert not validator.is_valid({"address": 5})
    assert not validator.is_valid({"address": address, "role": "REGULATOR"})  # unknown field
    assert not validator.is_valid({})

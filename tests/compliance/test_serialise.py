"""Case files and reports survive the trip to JSON and back exactly; a malformed value names its place."""

import json

import pytest
from cases import case, generated_lot, transfer

from compliance import packs, serialise
from compliance.engine import evaluate


def test_case_file_and_report_round_trip():
    original = case((transfer(1), transfer(2, received=None)), (generated_lot(),))
    data = json.loads(json.dumps(serialise.encode(original)))
    assert serialise.case_file(data) == original
    report = evaluate(original, packs.load("VN"))
    assert serialise.report(json.loads(json.dumps(serialise.encode(report)))) == report


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("transfers", 0, "quantity"), "12300", "case.transfers[0].quantity: expected int, got '12300'"),
        (("transfers", 0, "quantity"), True, "case.transfers[0].quantity: expected int, got True"),
        (("transfers", 0, "dispatched_at"), "2026-03-02T08:00:00", "has no time zone"),
        (("parties", 1, "roles"), "receiver", "case.parties[1].roles: expected a list"),
        (("lots", 0, "colour"), "red", "case.lots[0]: unknown field colour"),
    ],
)
def test_malformed_values_are_named(path, value, message):
    data = serialise.encode(case((transfer(1),), (generated_lot(),)))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(serialise.BundleFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        serialise.case_file(data)

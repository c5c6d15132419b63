"""A certificate's analysis results, as the rules read them from its results document.

The lab signs the results document's hash on-chain (`resultsHash`); the body is a JSON object of result
name to integer value, the name saying what was measured, how and at what scale, as the packs' limits do:

    {"Pb_leachate_ug_l": 120, "foreign_materials_ppm": 4000}

Integers keep a result exact (a lab reporting 0.12 mg/l reports 120 under a µg/l name), and the same body
read anywhere gives the same results: the service when it builds a case file, and the offline verifier when
it checks a bundle's case file against the document the bundle carries.
"""

import json

Results = tuple[tuple[str, int], ...]


class ResultsUnreadable(ValueError):
    """The body is not a results document; the message says why, in a lab's terms."""


def read_results(body: bytes) -> Results:
    """The results `body` holds, sorted by name; ResultsUnreadable when it is not a results document."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ResultsUnreadable("it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ResultsUnreadable(f"it is not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise ResultsUnreadable("it is not a JSON object of result name to integer value")
    for name, value in data.items():
        if not name.strip():
            raise ResultsUnreadable("a result has an empty name")
        # bool is an int in Python, but true is no measurement.
        if not isinstance(value, int) or isinstance(value, bool):
            raise ResultsUnreadable(f"result {name!r} is {json.dumps(value)}, not an integer")
    return tuple(sorted(data.items()))

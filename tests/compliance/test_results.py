"""Reading a certificate's results document (compliance.results)."""

import pytest

from compliance.results import ResultsUnreadable, read_results


def test_a_results_document_is_a_json_object_of_integers_read_in_name_order():
    body = b'{"organics_ppm": 1800, "ferrous_metals_ppm": 0, "cullet_size_um": 900}'
    assert read_results(body) == (("cullet_size_um", 900), ("ferrous_metals_ppm", 0), ("organics_ppm", 1800))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"%PDF-1.7", "it is not JSON (Expecting value at character 0)"),
        (b"\xff\xfe{}", "it is not UTF-8 text"),
        (b'[["Pb_ug_l", 3]]', "it is not a JSON object of result name to integer value"),
        (b'{"Pb_ug_l": 0.12}', "result 'Pb_ug_l' is 0.12, not an integer"),
        (b'{"Pb_ug_l": "120"}', "result 'Pb_ug_l' is \"120\", not an integer"),
        (b'{"radioactivity_checked": true}', "result 'radioactivity_checked' is true, not an integer"),
        (b'{" ": 1}', "a result has an empty name"),
    ],
)
def test_anything_else_is_refused_with_the_reason(body, reason):
    with pytest.raises(ResultsUnreadable) as refused:
        read_results(body)
    assert str(refused.value) == reason

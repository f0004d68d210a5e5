"""JSONCodec's kept C encoder writes exactly what ``json``'s own encoder with the same
options writes (rows stored before it decode unchanged), with or without the accelerator."""

from __future__ import annotations

import json

import pytest

from finitomata.persistency.codecs import _json

NATIVE = [
    "plain",
    'quote " backslash \\ newline \n tab \t',
    "non-ascii: é ü 漢 🙂",
    "",
    0,
    -1,
    10**40,
    1.5,
    -0.0,
    1e-300,
    float("inf"),
    float("nan"),
    True,
    False,
    None,
    [],
    {},
    [1, "a", [2, [3, {"k": None}]]],
    {"order": "o-1", "items": [["sku", 2]], "paid": False, "ü": {"nested": [1.25]}},
]

REFERENCE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)


@pytest.mark.parametrize("value", NATIVE, ids=repr)
def test_the_kept_encoder_writes_what_json_writes(value: object) -> None:
    assert _json._dump(value) == REFERENCE.encode(value)


def test_without_the_c_accelerator_the_output_is_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    dump = _json._make_dump()
    for value in NATIVE:
        assert dump(value) == REFERENCE.encode(value)


def test_a_value_that_is_not_json_is_refused() -> None:
    with pytest.raises(TypeError, match="set"):
        _json._dump({"s": {1}})

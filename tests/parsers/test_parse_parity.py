"""Parity: the same FSM written in PlantUML and in Mermaid gives an equal Spec.

Every case under ``fixtures/`` exists as ``NAME.puml`` and ``NAME.mmd``; the two must parse
to equal specs, and validate alike: ``invalid_<rule>_*`` cases must both break ``<rule>``
with the same states, every other case must be valid.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import finitomata as fm
from finitomata._spec.validate import problems

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted({p.stem for p in FIXTURES.iterdir() if p.suffix in (".puml", ".mmd")})
INVALID_RULES = {
    "invalid_disconnected_cycle": "unreachable",
    "invalid_hard_not_determined": "hard_not_determined",
    "invalid_kind_conflict": "event_kind_conflict",
    "invalid_two_starts": "single_start",
    "invalid_cannot_finish": "cannot_finish",
    "invalid_reserved_event": "reserved_event",
}


def read(name: str, suffix: str) -> str:
    return (FIXTURES / f"{name}{suffix}").read_text(encoding="utf-8")


def test_every_case_has_both_syntaxes() -> None:
    assert len(CASES) >= 10
    for name in CASES:
        assert (FIXTURES / f"{name}.puml").is_file(), name
        assert (FIXTURES / f"{name}.mmd").is_file(), name
    assert {c for c in CASES if c.startswith("invalid_")} == set(INVALID_RULES)


@pytest.mark.parametrize("name", CASES)
def test_plantuml_and_mermaid_give_equal_specs(name: str) -> None:
    puml = fm.parse(read(name, ".puml"), check=False)
    mmd = fm.parse(read(name, ".mmd"), check=False)
    assert puml.syntax == "plantuml"
    assert mmd.syntax == "mermaid"
    assert puml == mmd
    assert hash(puml) == hash(mmd)
    assert puml.states == mmd.states
    assert puml.entry == mmd.entry
    assert puml.finals == mmd.finals
    assert puml.hard_events == mmd.hard_events
    assert puml.soft_events == mmd.soft_events
    assert puml.determined == mmd.determined


@pytest.mark.parametrize("name", CASES)
def test_both_syntaxes_validate_alike(name: str) -> None:
    found = [
        [(e.rule, e.states) for e in problems(fm.parse(read(name, suffix), check=False))]
        for suffix in (".puml", ".mmd")
    ]
    assert found[0] == found[1]
    if name in INVALID_RULES:
        assert found[0], name
        assert found[0][0][0] == INVALID_RULES[name]
        for suffix in (".puml", ".mmd"):
            with pytest.raises(fm.ValidationError) as info:
                fm.parse(read(name, suffix))
            assert info.value.rule == INVALID_RULES[name]
    else:
        assert found[0] == []


def test_examples_shipped_with_the_project_parse_alike() -> None:
    examples = Path(__file__).parents[2] / "examples"
    pairs = sorted(p.stem for p in examples.glob("*.puml") if (examples / f"{p.stem}.mmd").exists())
    assert pairs
    for stem in pairs:
        puml = fm.parse((examples / f"{stem}.puml").read_text(encoding="utf-8"))
        mmd = fm.parse((examples / f"{stem}.mmd").read_text(encoding="utf-8"))
        assert puml == mmd, stem

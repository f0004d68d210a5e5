"""Rendering back to PlantUML, Mermaid and Graphviz DOT, and ``lint``."""

from __future__ import annotations

import pytest

import finitomata as fm
from finitomata.parsers import lint, render
from finitomata.parsers.render import FORMATS, render_dot, render_mermaid, render_plantuml

ORDER = """\
' messy but valid
cancelled-->[*]:close!
[*] --> created : create
created --> paid, cancelled : pay
paid --> shipped : ship?
shipped --> [*] : deliver
"""

FLOW = "graph LR\n  a-->|go|b\n  b-->|done!|c\n"


def test_plantuml_rendering_is_canonical() -> None:
    assert render_plantuml(fm.parse(ORDER)) == (
        "@startuml\n"
        "[*] --> created : create\n"
        "created --> cancelled : pay\n"
        "created --> paid : pay\n"
        "paid --> shipped : ship?\n"
        "cancelled --> [*] : close!\n"
        "shipped --> [*] : deliver\n"
        "@enduml\n"
    )


def test_mermaid_rendering_of_a_state_diagram() -> None:
    text = render_mermaid(fm.parse(ORDER))
    assert text.splitlines()[:2] == ["stateDiagram-v2", "    [*] --> created : create"]
    assert fm.parse(text) == fm.parse(ORDER)


def test_mermaid_rendering_of_a_flowchart_keeps_it_a_flowchart() -> None:
    spec = fm.parse(FLOW)
    assert render_mermaid(spec) == "flowchart TD\n    a --> |go| b\n    b --> |done!| c\n"
    plantuml = render_plantuml(spec)
    assert "[*] --> a : __start__" in plantuml
    assert "c --> [*] : __end__" in plantuml
    assert fm.parse(plantuml) == spec


def test_dot_rendering() -> None:
    dot = render_dot(fm.parse(ORDER), name="order")
    assert dot.startswith('digraph "order" {')
    assert dot.rstrip().endswith("}")
    assert '"[*]" -> "created" [label="create"];' in dot
    assert '"cancelled" -> "[*] end" [label="close!"];' in dot
    assert '"paid" -> "shipped" [label="ship?"];' in dot
    for state in ("cancelled", "created", "paid", "shipped"):
        assert f'    "{state}";' in dot
    assert dot.count("->") == len(fm.parse(ORDER).transitions)


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_dispatches(fmt: str) -> None:
    spec = fm.parse(ORDER)
    expected = {"plantuml": render_plantuml, "mermaid": render_mermaid, "dot": render_dot}[fmt]
    assert render(spec, fmt) == expected(spec)  # type: ignore[arg-type]


def test_render_rejects_unknown_formats() -> None:
    with pytest.raises(ValueError, match="plantuml, mermaid, dot"):
        render(fm.parse(ORDER), "svg")  # type: ignore[arg-type]


def test_lint_normalises_and_is_idempotent() -> None:
    once = lint(ORDER)
    assert once == render_plantuml(fm.parse(ORDER))
    assert lint(once) == once
    assert lint(lint(ORDER, "mermaid"), "mermaid") == lint(ORDER, "mermaid")
    assert lint(FLOW, "mermaid", syntax="mermaid").startswith("flowchart TD")


def test_lint_reports_definition_errors() -> None:
    with pytest.raises(fm.ParseError):
        lint("[*] --> a\n")
    with pytest.raises(fm.ValidationError):
        lint("[*] --> a : go\n")


def test_names_that_no_definition_can_express_are_refused() -> None:
    spec = fm.Spec(
        (fm.Transition("*", "my state", "go"), fm.Transition("my state", "*", "stop")), {}
    )
    for fmt in ("plantuml", "mermaid"):
        with pytest.raises(ValueError, match="'my state' is not an identifier"):
            render(spec, fmt)  # type: ignore[arg-type]
    assert '"my state"' in render(spec, "dot")


def test_dot_quotes_hand_built_names() -> None:
    spec = fm.Spec(
        (fm.Transition("*", 'say "hi"', "go"), fm.Transition('say "hi"', "*", "a\\b")), {}
    )
    dot = render(spec, "dot")
    assert '"say \\"hi\\""' in dot
    assert '[label="a\\\\b"]' in dot

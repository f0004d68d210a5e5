"""Every accepted syntax form of both parsers, syntax detection, and malformed-line reports."""

from __future__ import annotations

import pytest

import finitomata as fm
from finitomata._spec.model import END_EVENT, STAR, START_EVENT
from finitomata.parsers import detect_syntax, parse_mermaid, parse_plantuml

ORDER = """\
[*] --> created : create
created --> paid : pay
created --> cancelled : cancel
paid --> shipped : ship
shipped --> [*] : deliver
cancelled --> [*] : close!
"""


def edges(spec: fm.Spec) -> set[tuple[str, str, str]]:
    return {(t.source, t.event, t.target) for t in spec.transitions}


# ----------------------------------------------------------------------------- PlantUML


def test_plantuml_basic_model() -> None:
    spec = fm.parse(ORDER)
    assert spec.states == ("cancelled", "created", "paid", "shipped")
    assert spec.entry == "created"
    assert spec.entry_event == "create"
    assert spec.finals == {"shipped", "cancelled"}
    assert spec.hard_events == {"close"}
    assert spec.soft_events == frozenset()
    assert spec.kind("close") is fm.EventKind.HARD
    assert "cancelled" in spec.determined
    assert "created" not in spec.determined
    assert spec.targets("created", "pay") == {"paid"}
    assert spec.hard_event("cancelled") == "close"
    assert spec.syntax == "plantuml"


@pytest.mark.parametrize(
    "text",
    [
        "@startuml\n" + ORDER + "@enduml\n",
        "@startuml order_lifecycle\n" + ORDER + "@enduml",
        ORDER.replace("\n", "\r\n"),
        ORDER.replace("\n", "\r"),
        ORDER.replace(" : ", ":"),
        ORDER.replace(" : ", "   :\t"),
        ORDER.replace(" --> ", "\t-->\t"),
        ORDER.replace(" --> ", "-->"),
        "\n".join("\t  " + line + "  \t" for line in ORDER.splitlines()),
        "' a comment\n" + ORDER.replace("\n", "\n\n' another\n   %% mermaid style\n"),
        "/' block\n   comment spanning lines\n'/\n" + ORDER,
        "/' one-line block '/\n" + ORDER,
        "stateDiagram-v2\n" + ORDER,
        "@startuml\nhide empty description\nskinparam monochrome true\ntitle Orders\n"
        "direction LR\n" + ORDER + "@enduml\n",
        "\ufeff" + ORDER,
        ORDER.rstrip("\n"),  # no final newline
        ORDER.replace(" --> ", " -> "),
        ORDER.replace(" --> ", " -down-> "),
    ],
    ids=lambda t: repr(t[:24]),
)
def test_plantuml_accepted_forms_give_the_same_spec(text: str) -> None:
    assert fm.parse(text) == fm.parse(ORDER)


def test_multi_target_line_is_one_transition_per_target() -> None:
    text = "[*] --> a : go\na --> b, c : split\na --> b ,\tc:split\nb --> [*] : x\nc --> [*] : y\n"
    spec = fm.parse(text)
    assert spec.targets("a", "split") == {"b", "c"}
    assert spec.ambiguous() == (("a", "split"),)
    assert len(spec.transitions) == 5  # the repeated line adds nothing


def test_event_suffixes_are_kinds_not_names() -> None:
    spec = fm.parse("[*] --> a : start\na --> b : maybe?\nb --> [*] : done!\na --> [*] : quit\n")
    assert spec.events == ("done", "maybe", "quit", "start")
    assert spec.soft_events == {"maybe"}
    assert spec.hard_events == {"done"}


def test_identifier_forms() -> None:
    spec = fm.parse(
        "[*] --> Idle : boot\nIdle --> awaiting_payment : order_2\n"
        "awaiting_payment --> Ärger : fail\nÄrger --> [*] : _end\n"
    )
    assert spec.states == ("Idle", "awaiting_payment", "Ärger")


def test_lines_recorded_on_transitions() -> None:
    spec = fm.parse("' c\n\n[*] --> a : go\r\na --> [*] : stop\r\n")
    assert {t.event: t.line for t in spec.transitions} == {"go": 3, "stop": 4}


# ----------------------------------------------------------------------------- Mermaid


FLOW = """\
flowchart LR
    idle --> |start| running
    running --> |pause| paused
    paused --> |resume| running
    running --> |finish| closing
    closing --> |close!| done
"""


def test_flowchart_infers_start_and_ends() -> None:
    spec = fm.parse(FLOW)
    assert spec.syntax == "mermaid"
    assert spec.entry == "idle"
    assert spec.entry_event == START_EVENT
    assert spec.finals == {"done"}
    assert (STAR, START_EVENT, "idle") in edges(spec)
    assert ("done", END_EVENT, STAR) in edges(spec)
    assert spec.hard_events == {"close"}
    assert spec.hard_event("closing") == "close"


@pytest.mark.parametrize(
    "text",
    [
        FLOW,
        FLOW.replace("flowchart LR", "graph TD"),
        FLOW.replace("flowchart LR", "graph TD;"),
        FLOW.replace("flowchart LR", "flowchart"),
        FLOW.replace("flowchart LR\n", ""),  # no header: detected by `|event|`
        FLOW.replace(" |", "|").replace("| ", "|"),
        FLOW.replace("\n", ";\n"),
        FLOW.replace("\n", "\r\n"),
        "%% comment\n" + FLOW.replace("\n", "\n\n   %% another\n"),
        FLOW.replace("    ", "\t"),
        FLOW.rstrip("\n"),
        "---\ntitle: Player\n---\n" + FLOW,
        "%% c\n---\ntitle: a --> |b| c\n---\n" + FLOW,
    ],
    ids=lambda t: repr(t[:24]),
)
def test_flowchart_accepted_forms(text: str) -> None:
    assert fm.parse(text) == fm.parse(FLOW)


def test_mermaid_front_matter_is_skipped_only_at_the_start() -> None:
    text = "---\ntitle: Orders\nconfig: x\n---\nstateDiagram-v2\n" + ORDER
    assert detect_syntax(text) == "mermaid"
    assert fm.parse(text) == fm.parse(ORDER)
    with pytest.raises(fm.ParseError) as info:
        fm.parse("stateDiagram-v2\n" + ORDER + "---\ntitle: late\n---\n")
    assert [p.line for p in info.value.problems] == [8, 9, 10]
    with pytest.raises(fm.ParseError, match="at least one"):
        fm.parse("---\ntitle: never closed\nstateDiagram-v2\n" + ORDER)


def test_state_diagram_v2_is_parsed_like_plantuml() -> None:
    text = "stateDiagram-v2\n" + "".join("    " + line + "\n" for line in ORDER.splitlines())
    spec = fm.parse(text)
    assert spec.syntax == "mermaid"
    assert spec == fm.parse(ORDER)
    assert parse_mermaid(text) == parse_plantuml(ORDER)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ORDER, "plantuml"),
        ("@startuml\n" + ORDER, "plantuml"),
        (FLOW, "mermaid"),
        ("%% c\n" + FLOW.replace("flowchart LR\n", ""), "mermaid"),
        ("stateDiagram-v2\n" + ORDER, "mermaid"),
        ("' c\nstateDiagram\n" + ORDER, "mermaid"),
    ],
)
def test_detect_syntax(text: str, expected: str) -> None:
    assert detect_syntax(text) == expected


def test_syntax_can_be_forced() -> None:
    with pytest.raises(fm.ParseError):
        fm.parse(FLOW, syntax="plantuml")
    assert fm.parse(ORDER, syntax="mermaid") == fm.parse(ORDER)
    with pytest.raises(ValueError, match="syntax"):
        fm.parse(ORDER, syntax="dot")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fm.parse(b"[*] --> a : b")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- errors


def problems_of(text: str, syntax: str | None = None) -> list[tuple[int, int, str]]:
    with pytest.raises(fm.ParseError) as info:
        fm.parse(text, syntax, check=False)  # type: ignore[arg-type]
    return [(p.line, p.column, p.text) for p in info.value.problems]


def test_every_malformed_line_is_reported_with_column_and_expectation() -> None:
    text = (
        "[*] --> a : go\n"
        "a --> b\n"  # no event
        "b -> : x\n"  # no target
        "  c --> [*] : done now\n"  # trailing junk
        "d ==> e : x\n"  # bad arrow
        "a --> b : ok\n"
        "--> b : x\n"  # no source
        "b --> [*] : !\n"  # suffix alone
    )
    with pytest.raises(fm.ParseError) as info:
        fm.parse(text)
    err = info.value
    got = [(p.line, p.column, p.text) for p in err.problems]
    assert got == [
        (2, 8, "end of line"),
        (3, 6, ": x"),
        (4, 20, "now"),
        (5, 3, "==> e : x"),
        (7, 1, "--> b : x"),
        (8, 13, "!"),
    ]
    assert err.problems[0].expected.startswith("`:`")
    assert "target state" in err.problems[1].expected
    assert "end of line" in err.problems[2].expected
    assert "arrow" in err.problems[3].expected
    assert (err.line, err.column, err.text, err.expected) == (
        2,
        8,
        "end of line",
        err.problems[0].expected,
    )
    assert "6 malformed lines" in str(err)
    assert isinstance(err, fm.DefinitionError)


def test_malformed_last_line_without_newline_is_an_error() -> None:
    assert problems_of("[*] --> a : go\na --> [*] : stop\na --> b :") == [(3, 10, "end of line")]
    assert problems_of("[*] --> a : go\na --> [*] : stop\nrubbish") == [(3, 8, "end of line")]
    assert problems_of("a --> |go| b\nb --> |stop") == [(2, 12, "end of line")]


def test_star_to_star_is_malformed() -> None:
    assert problems_of("[*] --> [*] : nothing\n") == [(1, 1, "[*] --> [*] : nothing")]


def test_crlf_and_tabs_keep_line_and_column() -> None:
    assert problems_of("[*] --> a : go\r\n\ta --> : x\r\n") == [(2, 8, ": x")]


def test_unicode_line_separators_are_not_line_breaks() -> None:
    # str.splitlines would split here and shift every later line number.
    assert problems_of("[*] --> a : go\u2028x\na --> [*] : e\nbad") == [
        (1, 15, "\u2028x"),
        (3, 4, "end of line"),
    ]


def test_empty_and_comment_only_texts_are_errors() -> None:
    for text in ("", "\n\n", "' only a comment\n", "@startuml\n@enduml\n", "flowchart TD\n"):
        with pytest.raises(fm.ParseError) as info:
            fm.parse(text)
        assert "at least one" in info.value.expected


def test_flowchart_errors() -> None:
    text = "graph TD\na --> b\nb --> |x c\nc --> |y| \nd -- |z| e\nf --> |w| g h\n"
    got = problems_of(text)
    assert got == [
        (2, 7, "b"),
        (3, 10, "c"),
        (4, 10, "end of line"),
        (5, 3, "-- |z| e"),
        (6, 13, "h"),
    ]


def test_unterminated_block_comment_swallows_the_rest() -> None:
    with pytest.raises(fm.ParseError, match="at least one"):
        fm.parse("/' never closed\n[*] --> a : go\na --> [*] : x\n")


def test_parse_error_requires_problems() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        fm.ParseError([])

"""Parse + validate time of a large generated definition (2,000 states, 10,000 transitions).

Run: ``python3 bench/definition.py [--states N] [--transitions M] [--repeat R]``.
Prints the best and median wall time of parse, validate and parse+validate over R runs,
in both syntaxes (PlantUML and a Mermaid flowchart). The target on the project machine is
parse+validate under 0.5 s for the default size; validation is linear in states plus
transitions (breadth-first searches, no path enumeration).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from finitomata._spec.validate import validate
from finitomata.parsers import parse


def generate_plantuml(states: int, transitions: int, seed: int = 7) -> str:
    """A valid FSM: a chain s0 -> s1 -> ... -> [*] plus random extra edges."""
    rng = random.Random(seed)
    names = [f"state_{i}" for i in range(states)]
    lines = ["@startuml", f"[*] --> {names[0]} : start"]
    for i in range(states - 1):
        lines.append(f"{names[i]} --> {names[i + 1]} : next_{i % 50}")
    lines.append(f"{names[-1]} --> [*] : finish")
    extra = transitions - len(lines) + 1
    for n in range(extra):
        a, b = rng.randrange(states), rng.randrange(states)
        lines.append(f"{names[a]} --> {names[b]} : jump_{n % 200}")
    lines.append("@enduml")
    return "\n".join(lines) + "\n"


def generate_flowchart(states: int, transitions: int, seed: int = 7) -> str:
    """The same shape as a Mermaid flowchart (start and end inferred)."""
    rng = random.Random(seed)
    names = [f"state_{i}" for i in range(states + 1)]
    lines = ["flowchart TD"]
    for i in range(states):
        lines.append(f"    {names[i]} --> |next_{i % 50}| {names[i + 1]}")
    for n in range(transitions - states):
        a, b = rng.randrange(states), rng.randrange(1, states)
        lines.append(f"    {names[a]} --> |jump_{n % 200}| {names[b]}")
    return "\n".join(lines) + "\n"


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--states", type=int, default=2000)
    ap.add_argument("--transitions", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    for label, text in (
        ("plantuml", generate_plantuml(args.states, args.transitions)),
        ("mermaid flowchart", generate_flowchart(args.states, args.transitions)),
    ):
        spec = parse(text, check=False)
        validate(spec)
        print(
            f"{label}: {len(spec.states)} states, {len(spec.transitions)} transitions, "
            f"{len(text.splitlines())} lines, {len(text) / 1024:.0f} KiB"
        )
        for what, fn in (
            ("parse", lambda t=text: parse(t, check=False)),
            ("freeze+validate", lambda s=spec: validate(s.__class__(s.transitions, s.kinds))),
            ("parse+validate", lambda t=text: parse(t)),
        ):
            runs = timed(fn, args.repeat)
            print(
                f"  {what:15s} best {min(runs) * 1000:7.1f} ms   "
                f"median {statistics.median(runs) * 1000:7.1f} ms"
            )
        best = min(timed(lambda t=text: parse(t), args.repeat))
        verdict = "OK" if best < 0.5 else "TOO SLOW"
        print(f"  parse+validate target < 500 ms: {verdict} ({best * 1000:.1f} ms)")
    print("scaling (plantuml, 5 transitions per state): parse+validate best of 3")
    for factor in (1, 2, 4, 8):
        n_states, n_trans = 500 * factor, 2500 * factor
        text = generate_plantuml(n_states, n_trans)
        best = min(timed(lambda t=text: parse(t), 3))
        print(
            f"  {n_states:6d} states {n_trans:6d} transitions: {best * 1000:7.1f} ms "
            f"({best * 1e6 / n_trans:.2f} us per transition)"
        )


if __name__ == "__main__":
    main()

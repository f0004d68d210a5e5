"""What ``finitomata demo`` shows: a header, a ``rich`` progress bar, the state diagram as a
tree annotated with where the orders ended, and the summary tables.

Importing this module imports ``rich``; ``_demo.py`` imports it lazily so the rest of the
CLI works without the ``[demo]`` extra.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.tree import Tree

from .._spec.model import Spec, Transition
from ._demo_fleet import FleetReport

__all__ = ["DemoView", "diagram"]


def _name(state: str, star: str) -> str:
    return "[*]" if state == star else state


def diagram(spec: Spec, star: str, counts: dict[str, int] | None = None) -> Tree:
    """The state diagram as a tree from ``[*]``: each edge ``--event--> target``; a state
    already drawn is referred to (``↺``) instead of drawn again. ``counts`` (state name ->
    orders resting there) annotates the states."""
    counts = counts or {}
    by_source: dict[str, list[Transition]] = {}
    for t in sorted(spec.transitions, key=lambda t: (t.line, t.source, t.event)):
        by_source.setdefault(t.source, []).append(t)

    def label(state: str, *, count: bool = True) -> str:
        shown = _name(state, star)
        n = counts.get(shown) if count else None
        style = "bold green" if state == star else "bold cyan"
        return f"[{style}]{shown}[/]" + (f"  [dim]({n:,} here at the end)[/]" if n else "")

    root = Tree(label(star))
    drawn: set[str] = {star}

    def grow(node: Tree, state: str) -> None:
        for t in by_source.get(state, []):
            suffix = spec.kind(t.event).suffix
            edge = f"[yellow]--{t.event}{suffix}-->[/] "
            if t.target in drawn:
                node.add(edge + f"↺ {label(t.target, count=False)}")
                continue
            drawn.add(t.target)
            grow(node.add(edge + label(t.target)), t.target)

    grow(root, star)
    return root


class DemoView:
    """The demo's terminal output (stdout through a ``rich`` console)."""

    def __init__(self, *, fsms: int, store: str, seed: int, supervisor_id: str) -> None:
        self.console = Console()
        self.fsms = fsms
        self.store = store
        self.seed = seed
        self.supervisor_id = supervisor_id
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def header(self) -> None:
        self.console.print(
            Panel.fit(
                f"[bold]finitomata demo[/]: {self.fsms:,} order FSMs on [bold]{self.store}[/]\n"
                f"seed {self.seed} · supervisor {self.supervisor_id!r}\n"
                "payments (some refused first) · cancellations · payment windows expired "
                "by timers · delayed deliveries · crashes on purpose · full restart from "
                "the store, verified",
                border_style="cyan",
            )
        )

    @contextlib.contextmanager
    def progress(self) -> Iterator[None]:
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as progress:
            self._progress = progress
            self._tasks = {
                "run": progress.add_task("orders run", total=self.fsms),
                "restart": progress.add_task(
                    "restarted and verified", total=self.fsms, start=False
                ),
            }
            try:
                yield
            finally:
                self._progress = None

    def advance(self, phase: str, count: int) -> None:
        """Progress callback of :func:`run_fleet`."""
        progress = self._progress
        if progress is None:
            return
        task = self._tasks[phase]
        if not progress.tasks[task].started:
            progress.start_task(task)
        progress.advance(task, count)

    def summary(self, report: FleetReport, spec: Spec, star: str) -> None:
        console = self.console
        for line in report.crash_samples:
            console.print(f"[magenta]crash → resume[/] {line}")
        console.print()
        console.print(Panel(diagram(spec, star, dict(report.final_states)), title="OrderFSM"))
        table = Table(title="summary", show_header=True, header_style="bold")
        table.add_column("what")
        table.add_column("value", justify="right")
        rows = [
            ("FSMs", f"{report.fsms:,}"),
            ("transitions committed", f"{report.transitions:,}"),
            ("failed events (refused payments)", f"{report.failures:,}"),
            ("payment windows expired by timers", f"{report.expired:,}"),
            ("deliveries by delayed transitions", f"{report.delayed:,}"),
            ("crashes on purpose", f"{report.crashes:,}"),
            ("restarts (each resumed its snapshot)", f"{report.restarts:,}"),
            ("live FSMs resumed after the full restart", f"{report.resumed_after_restart:,}"),
            ("throughput", f"{report.throughput:,.0f} transitions/s"),
            ("store", self.store),
            ("time: run", f"{report.run_seconds:.2f} s"),
            ("time: restart + verification", f"{report.restart_seconds:.2f} s"),
        ]
        for what, value in rows:
            table.add_row(what, value)
        console.print(table)
        if report.ok:
            console.print(
                f"[bold green]verified[/]: all {report.verified:,} orders have the state and "
                "version their script says, in the store and after the restart"
            )
            return
        console.print(
            f"[bold red]verification failed[/]: {len(report.mismatches):,} problem(s), "
            f"{report.verified:,} of {report.fsms:,} orders verified"
        )
        for line in report.mismatches[:20]:
            console.print(f"  [red]✗[/] {line}")

    def hint(self, command: str) -> None:
        self.console.print(f"[dim]look at what was stored: {command}[/]")

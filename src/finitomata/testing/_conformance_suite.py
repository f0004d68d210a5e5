"""``check_store``: run every conformance check against one store factory."""

from __future__ import annotations

from ._conformance import (
    DURABLE_STORE_CHECKS,
    STORE_LEVEL_CHECKS,
    StoreCheck,
    StoreConformanceError,
    StoreFactory,
    Wrap,
    _identity,
)
from ._conformance_runtime import RUNTIME_CHECKS

__all__ = ["STORE_CHECKS", "check_store", "run_check"]

STORE_CHECKS: tuple[tuple[str, StoreCheck], ...] = STORE_LEVEL_CHECKS + RUNTIME_CHECKS
"""Every check a store must pass (the store-level ones, then the ones run through a real
``Supervisor``), ``(name, async check(make_store, *, wrap=...))``, in the
order :func:`check_store` runs them. Parametrise a test over it to see each rule apart."""


async def run_check(
    name: str, check: StoreCheck, make_store: StoreFactory, *, wrap: Wrap = _identity
) -> None:
    """Run one check, turning any failure into :class:`StoreConformanceError` naming it.

    Raises:
        StoreConformanceError: the store broke the rule, or raised where it must not (the
            store's exception is chained as ``__cause__``).
    """
    try:
        await check(make_store, wrap=wrap)
    except StoreConformanceError:
        raise
    except AssertionError as exc:
        raise StoreConformanceError(name, str(exc)) from exc
    except Exception as exc:
        raise StoreConformanceError(
            name, f"the store raised {type(exc).__name__} unexpectedly: {exc}"
        ) from exc


async def check_store(
    make_store: StoreFactory, *, wrap: Wrap | None = None, durable: bool = False
) -> None:
    """Check a persistency adapter against every rule of the contract.

    Runs :data:`STORE_CHECKS` in order: the store-level rules (load of nothing, store then
    load, version compare-and-set, ``store_error``, delete, terminal then reuse, 100
    concurrent writers, payload round trips, copies, per-supervisor keys, lifecycle), then
    the runtime-level ones through a real :class:`~finitomata.runtime.Supervisor` (reload
    after a crash, resume in a new supervisor, a store raising on ``store`` or ``load``,
    failures recorded, commits stored before they are announced, terminal then reuse, an
    unstarted class-level store). Each check uses keys of its own (fresh supervisor ids).

    Args:
        make_store: a zero-argument callable returning a store that nobody has started yet
            (or an awaitable of one); it is called several times, and stores it returns
            may share their data (same file, same table) or not.
        wrap: turns a plain value into a payload the store accepts (for ``ProtocolStore``,
            your ``Persistable`` class holding the value); identity by default. Wrapped
            payloads must compare equal when their values do.
        durable: also run the checks for stores that keep data across processes
            (:data:`DURABLE_STORE_CHECKS`).

    Raises:
        StoreConformanceError: (an ``AssertionError``) on the first broken rule, naming it.
    """
    checks = STORE_CHECKS + (DURABLE_STORE_CHECKS if durable else ())
    for name, check in checks:
        await run_check(name, check, make_store, wrap=wrap or _identity)

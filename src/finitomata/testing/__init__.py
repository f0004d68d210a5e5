"""finitomata's public test kit.

Store conformance: :func:`check_store` checks any persistency adapter (the built-in ones
and yours) against the contract; :data:`STORE_CHECKS` lists the individual checks so a
test suite can parametrise over them. Importable without pytest.

FSM tests (the counterpart of ``Finitomata.ExUnit``): :func:`assert_transition` and
:func:`assert_no_transition`, the :class:`Recorder` listener (``await
recorder.wait_for(name, state)``), :class:`FakeClock`, :func:`paths` for generated tests,
and hypothesis support (:func:`event_sequences`, :func:`event_sequence_test`; hypothesis is
imported only when used). The pytest plugin (:mod:`finitomata.testing.pytest_plugin`,
registered by entry point) provides the ``supervisor``, ``recorder``, ``fake_clock`` and
``finitomata_store`` fixtures.
"""

from ..runtime import FakeClock
from ._assertions import assert_no_transition, assert_transition, payload_mismatches
from ._conformance import (
    DURABLE_STORE_CHECKS,
    ConformanceFSM,
    StoreCheck,
    StoreConformanceError,
    StoreFactory,
    Wrap,
)
from ._conformance_suite import STORE_CHECKS, check_store, run_check
from ._paths import Path, Step, paths
from ._recorder import Recorder
from ._strategies import (
    UNDECLARED_EVENT,
    SequenceRun,
    event_sequence_test,
    event_sequences,
    run_event_sequence,
)

__all__ = [
    "ConformanceFSM",
    "DURABLE_STORE_CHECKS",
    "FakeClock",
    "Path",
    "Recorder",
    "STORE_CHECKS",
    "SequenceRun",
    "Step",
    "StoreCheck",
    "StoreConformanceError",
    "StoreFactory",
    "UNDECLARED_EVENT",
    "Wrap",
    "assert_no_transition",
    "assert_transition",
    "check_store",
    "event_sequence_test",
    "event_sequences",
    "paths",
    "payload_mismatches",
    "run_check",
    "run_event_sequence",
]

"""finitomata's public test kit.

Store conformance: :func:`check_store` checks any persistency adapter (the built-in ones
and yours) against the contract; :data:`STORE_CHECKS` lists the individual checks so a
test suite can parametrise over them. Importable without pytest.
"""

from ._conformance import (
    DURABLE_STORE_CHECKS,
    ConformanceFSM,
    StoreCheck,
    StoreConformanceError,
    StoreFactory,
    Wrap,
)
from ._conformance_suite import STORE_CHECKS, check_store, run_check

__all__ = [
    "ConformanceFSM",
    "DURABLE_STORE_CHECKS",
    "STORE_CHECKS",
    "StoreCheck",
    "StoreConformanceError",
    "StoreFactory",
    "Wrap",
    "check_store",
    "run_check",
]

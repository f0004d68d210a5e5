"""Lazy access to Ray: ``import finitomata`` never imports it, ``finitomata.cluster`` only
when a cluster is used.

Ray must stay on loopback on machines like the test machine: before the first ``import ray``
we default ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, ``RAY_AUTH_MODE=disabled`` and
``RAY_USAGE_STATS_ENABLED=0`` (values already in the environment win).
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["RAY_ENV_DEFAULTS", "import_ray"]

RAY_ENV_DEFAULTS: dict[str, str] = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
}


def import_ray() -> ModuleType:
    """Return the ``ray`` module, importing it on first use.

    Raises:
        ImportError: Ray is not installed; the message names the extra to install.
    """
    for key, value in RAY_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "finitomata.cluster needs Ray: install the extra with `pip install 'finitomata[ray]'`"
        ) from exc
    return ray

"""Puts ``examples/`` on ``sys.path`` so the product tests import the examples as their
users do (payload classes must be importable by ``module:qualname`` for durable stores)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

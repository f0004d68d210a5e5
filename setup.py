"""Build of the optional C extension; everything else is in pyproject.toml.

``finitomata.persistency._memory_fast`` is MemoryStore's commit path without a Python
frame. It is optional: when it cannot be compiled (no C compiler, no Python headers) the
build goes on without it and MemoryStore uses its pure-Python path, with the same contract.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "finitomata.persistency._memory_fast",
            ["src/finitomata/persistency/_memory_fast.c"],
            optional=True,
        )
    ]
)

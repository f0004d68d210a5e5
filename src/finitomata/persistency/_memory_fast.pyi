# Types of the optional C extension built from _memory_fast.c.
from collections.abc import Callable
from typing import Any, final

@final
class TableLock:
    def acquire(self) -> None: ...
    def release(self) -> None: ...
    def locked(self) -> bool: ...
    def __enter__(self) -> None: ...
    def __exit__(self, *exc: object) -> None: ...

@final
class Layout:
    def __new__(
        cls,
        store_type: type,
        table_type: type,
        snapshot_type: type,
        key_type: type,
        atoms: frozenset[type],
        shareable: dict[type, tuple[str, ...]],
    ) -> Layout: ...

@final
class Committer:
    def __new__(
        cls, layout: Layout, store: object, slow: Callable[[Any, Any, int], None]
    ) -> Committer: ...
    def __call__(self, key: Any, snapshot: Any, expected_version: int, /) -> None: ...

def copy_tree(
    value: Any, atoms: frozenset[type], shareable: dict[type, tuple[str, ...]], /
) -> Any: ...

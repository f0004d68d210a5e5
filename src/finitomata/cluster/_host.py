"""The shard host: a long-lived Ray actor running the local runtime over many FSMs.

A host owns a fixed set of shards. It keeps the live names of its shards (loaded from
``cluster_names`` when it starts, so a restarted or moved host knows them all), activates an
FSM lazily on its first request (loading its snapshot from the shared store), and serialises
every request for one FSM in arrival order through a per-name queue (an asyncio task exists
only while that queue is not empty). Commits go through :class:`~._dedup.DedupStore`, which
writes the de-duplication rows; the store's version compare-and-set fences a host that was
cut off while another one took its shards over.

This module does not import Ray at import time: the Ray actor class is made from
:class:`ShardHost` by :mod:`._actors`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import os
from typing import Any

from .._snapshot import FSMKey, Snapshot
from ..errors import DuplicateName, FSMNotFound, TransitionFailed
from ..fsm import FSM
from ..persistency._protocol import Created
from ._control import Control
from ._dedup import Claim, DedupStore, DedupWindow
from ._ray import import_ray
from ._stats import HostStatistics
from ._wire import Op, Outcome, encode_error

__all__ = ["HostConfig", "HostInfo", "ShardHost", "fsm_key"]

log = logging.getLogger("finitomata.cluster")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class HostConfig:
    """What a shard host needs to start (sent once, when the actor is created).

    Attributes:
        supervisor: the cluster id (the supervisor id of every FSM key).
        host: this host's index.
        shards: the shards it owns.
        store: the pickled (unstarted) durable store; each host opens its own copy.
        dsn: where the cluster tables live (the store's database).
        schema: the PostgreSQL schema of those tables.
        dedup_window: event ids kept per FSM for de-duplication.
        restart_intensity: passed to the local runtime.
        restart_period: passed to the local runtime.
    """

    supervisor: str
    host: int
    shards: frozenset[int]
    store: bytes
    dsn: str
    schema: str = "finitomata"
    dedup_window: int = 32
    restart_intensity: int = 3
    restart_period: float = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class HostInfo:
    """Who answered: host index, incarnation epoch, process id and Ray node id."""

    host: int
    epoch: int
    pid: int
    node_id: str


def fsm_key(cls: type[FSM]) -> str:
    """The key an FSM class is stored under: ``module:qualname#definition hash``."""
    return f"{cls.__module__}:{cls.__qualname__}#{cls.definition_hash}"


class _Terminations:
    """Listener of the local runtime: a name reaching ``[*]`` leaves the cluster."""

    def __init__(self, host: ShardHost) -> None:
        self._host = host

    def after_transition(self, name: str, snapshot: Snapshot) -> None:
        if snapshot.state == "*":
            self._host._spawn(self._host._forget_ended(name))


class ShardHost:
    """One shard host. Every public method is a coroutine (a Ray async actor).

    Ordering: requests of one :meth:`submit` call are queued per FSM name before the call
    awaits anything, so one caller that waits for each batch before sending the next gets
    its requests to one FSM applied in its order.
    """

    def __init__(self, config: HostConfig) -> None:
        self.config = config
        self._boot: asyncio.Task[None] | None = None
        self._queues: dict[str, collections.deque[tuple[Op, asyncio.Future[Outcome]]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._index: dict[str, str] = {}  # live name -> fsm key
        self._active: set[str] = set()
        self._classes: dict[str, type[FSM]] = {}
        self._counts = collections.Counter[str]()
        self._closing = False
        self.epoch = 0

    # ------------------------------------------------------------------ lifecycle
    async def _ready(self) -> None:
        """Start once; a start that failed (database down) is tried again by the next
        request."""
        boot = self._boot
        if boot is None or (boot.done() and not boot.cancelled() and boot.exception()):
            boot = self._boot = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(boot)

    async def _start(self) -> None:
        from ..runtime import Supervisor

        ray = import_ray()
        cfg = self.config
        control = Control(cfg.dsn, cfg.schema)
        inner: Any = None
        try:
            # The store first: it creates the schema (under its own lock), so the cluster
            # tables created next never race it for the schema.
            inner = ray.cloudpickle.loads(cfg.store)
            await inner.start()
            await control.start()
            self.epoch = await control.next_epoch(cfg.supervisor, cfg.host)
            window = DedupWindow(control, cfg.supervisor, self.epoch, cfg.dedup_window)
            store = DedupStore(inner, window)
            sup = Supervisor(
                cfg.supervisor,
                persistency=store,
                restart_intensity=cfg.restart_intensity,
                restart_period=cfg.restart_period,
                listeners=(_Terminations(self),),
            )
            await sup.__aenter__()
            names = await control.live_names(cfg.supervisor, cfg.shards)
        except BaseException:
            if inner is not None:
                await inner.aclose()
            await control.aclose()
            raise
        self._control, self._inner, self._window, self._store = control, inner, window, store
        self._sup = sup
        self._index.update((name, key) for name, shard, key in names if shard in cfg.shards)
        self._node_id = str(ray.get_runtime_context().get_node_id())
        log.info(
            "cluster %s: host %d epoch %d up with %d live name(s) in %d shard(s)",
            cfg.supervisor,
            cfg.host,
            self.epoch,
            len(self._index),
            len(cfg.shards),
        )

    async def ready(self) -> Outcome:
        """Start (once) and say who answered: an :class:`Outcome` holding a
        :class:`HostInfo`, or the error that kept the host from starting."""
        try:
            await self._ready()
        except Exception as exc:
            return Outcome(error=encode_error(exc))
        return Outcome(HostInfo(self.config.host, self.epoch, os.getpid(), self._node_id))

    async def shutdown(self) -> None:
        """Stop the local runtime (snapshots stay in the store) and close the store and the
        control pool. Idempotent; requests after it fail."""
        boot = self._boot
        if boot is None or self._closing:
            return
        self._closing = True
        try:
            await asyncio.shield(boot)
        except Exception:
            return  # never started: nothing to close
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._sup.aclose()
        await self._inner.aclose()
        await self._control.aclose()

    # ------------------------------------------------------------------ requests
    async def submit(self, ops: list[Op]) -> list[Outcome]:
        """Run a batch of requests; results in the same order.

        Requests for one FSM run one at a time in batch order; different FSMs run
        concurrently. Errors are returned as data (see :mod:`._wire`), never raised.
        """
        try:
            await self._ready()
        except Exception as exc:
            error = encode_error(exc)
            return [Outcome(error=error) for _ in ops]
        futures = [self._enqueue(op) for op in ops]
        return list(await asyncio.gather(*futures))

    def _enqueue(self, op: Op) -> asyncio.Future[Outcome]:
        fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(op.name)
        if queue is None:
            queue = self._queues[op.name] = collections.deque()
            queue.append((op, fut))
            self._spawn(self._drain(op.name, queue))
        else:
            queue.append((op, fut))
        return fut

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(
        self, name: str, queue: collections.deque[tuple[Op, asyncio.Future[Outcome]]]
    ) -> None:
        try:
            while queue:
                op, fut = queue[0]
                try:
                    out = Outcome(await self._run(op))
                except Exception as exc:
                    out = Outcome(error=encode_error(exc))
                queue.popleft()
                if not fut.done():
                    fut.set_result(out)
        finally:
            if self._queues.get(name) is queue:
                del self._queues[name]
            for _, fut in queue:
                fut.cancel()

    async def _run(self, op: Op) -> Any:
        if self._closing:
            raise FSMNotFound(op.name, supervisor=self.config.supervisor)
        if op.shard not in self.config.shards:
            raise ValueError(
                f"host {self.config.host} does not own shard {op.shard} (FSM {op.name!r}); "
                "the client's placement table is stale"
            )
        if op.kind == "transition":
            return await self._transition(op)
        if op.kind == "start":
            return await self._start_fsm(op)
        if op.kind == "state":
            return await self._state(op.name)
        if op.kind == "alive":
            return op.name in self._index
        if op.kind == "stop":
            return await self._stop(op)
        raise ValueError(f"unknown request kind {op.kind!r}")

    # ------------------------------------------------------------------ activation
    def _not_found(self, name: str) -> FSMNotFound:
        return FSMNotFound(name, supervisor=self.config.supervisor)

    async def _class(self, key: str, blob: bytes | None = None) -> type[FSM]:
        cls = self._classes.get(key)
        if cls is None:
            if blob is None:
                blob = (await self._control.classes(self.config.supervisor, [key]))[key]
            cls = self._classes[key] = import_ray().cloudpickle.loads(blob)
        return cls

    async def _activate(self, name: str) -> None:
        """Make sure ``name`` runs here: rehydrate it from the store on first use.

        Raises:
            FSMNotFound: ``name`` is not live (a start that never completed counts as
                never started: its reservation is dropped).
        """
        if name in self._active:
            if self._sup.alive(name):
                return
            await self._forget(name)  # ended here: failed or reached [*]
            raise self._not_found(name)
        if name not in self._index:
            raise self._not_found(name)
        sid = self.config.supervisor
        row = await self._control.name_row(sid, name)
        if row is None:
            self._index.pop(name, None)
            raise self._not_found(name)
        cls = await self._class(self._index[name], row[0])
        loaded = await self._inner.load(FSMKey(sid, name), cls, None)
        if isinstance(loaded, Created):
            log.info("cluster %s: %r has no live snapshot; it never started", sid, name)
            await self._forget(name)
            raise self._not_found(name)
        self._counts["rehydrations"] += 1
        if self._sup.alive(name):
            await self._admit(name, loaded.snapshot.version)
            return
        self._store.preload(name, loaded)
        try:
            await self._sup.start_fsm(cls, name, None)
        finally:
            self._store.drop_preload(name)
            if self._sup.alive(name):  # also after a crash on resume: it was restarted
                await self._admit(name, loaded.snapshot.version)

    async def _forget(self, name: str) -> None:
        """``name`` left the cluster (reached ``[*]``, or failed for good)."""
        if self._index.pop(name, None) is None:
            return
        self._active.discard(name)
        await self._window.drop(name)
        await self._control.release(self.config.supervisor, name)

    async def _forget_ended(self, name: str) -> None:
        """After a termination seen by the listener: forget ``name`` unless it was started
        again in the meantime (the request that saw the end usually forgot it already)."""
        if name in self._active and not self._sup.alive(name):
            await self._forget(name)

    def _deactivate(self, name: str) -> None:
        self._active.discard(name)
        self._window.deactivate(name)

    # ------------------------------------------------------------------ operations
    async def _start_fsm(self, op: Op) -> Snapshot:
        name, sid = op.name, self.config.supervisor
        cls = op.fsm
        if not (isinstance(cls, type) and issubclass(cls, FSM) and hasattr(cls, "spec")):
            raise TypeError(f"start_fsm needs an FSM subclass with a definition, not {cls!r}")
        if name in self._index:
            answer = await self._restart_or_duplicate(op)
            if answer is not None:
                return answer
        key = fsm_key(cls)
        blob = import_ray().cloudpickle.dumps(cls)
        if not await self._control.reserve(sid, name, op.shard, key, blob, op.event_id):
            self._index[name] = key  # reserved by a start this index had not seen
            answer = await self._restart_or_duplicate(op)
            if answer is not None:
                return answer
            if not await self._control.reserve(sid, name, op.shard, key, blob, op.event_id):
                raise DuplicateName(name, supervisor=sid)
        self._classes.setdefault(key, cls)
        self._store.watch_load(name)
        try:
            snap = await self._sup.start_fsm(cls, name, op.payload)
        except BaseException:
            loaded = self._store.loaded_version(name)
            if self._sup.alive(name):  # crashed after its entry commit: live, restarted
                self._index[name] = key
                await self._admit(name, loaded)
            else:
                await self._control.release(sid, name)
            raise
        self._index[name] = key
        await self._admit(name, self._store.loaded_version(name))
        if not self._sup.alive(name):
            await self._forget(name)
        self._counts["starts"] += 1
        return snap

    async def _admit(self, name: str, loaded_version: int) -> None:
        """``name`` runs here now: load its de-duplication window."""
        self._active.add(name)
        await self._window.activate(name, loaded_version)

    async def _restart_or_duplicate(self, op: Op) -> Snapshot | None:
        """A start of a name this host lists as live: ``None`` when the listing was a start
        that never completed (its reservation is dropped; the caller starts afresh), the
        snapshot when ``op`` is the same start delivered again, else ``DuplicateName``."""
        row = await self._control.name_row(self.config.supervisor, op.name)
        snap = await self._state(op.name)  # rehydrates; forgets a start never completed
        if snap is None:
            return None
        if row is not None and op.event_id is not None and row[1] == op.event_id:
            self._counts["duplicates"] += 1
            return snap
        raise DuplicateName(op.name, supervisor=self.config.supervisor)

    async def _transition(self, op: Op) -> Snapshot:
        name = op.name
        assert op.event is not None
        await self._activate(name)
        if op.event_id is not None:
            if self._window.seen(name, op.event_id) is not None:
                self._counts["duplicates"] += 1
                snap = await self._sup.state(name)
                if snap is None:
                    raise self._not_found(name)
                return snap
            self._store.claim(name, Claim(op.event_id, op.event, op.payload))
        try:
            snap = await self._sup.transition(name, op.event, op.payload)
        except TransitionFailed as exc:
            if exc.failure.stage == "persistency" and exc.failure.exception == "StaleSnapshot":
                await self._fenced(name)
            raise
        finally:
            self._store.unclaim(name)
        if snap.terminated or not self._sup.alive(name):
            await self._forget(name)
        return snap

    async def _fenced(self, name: str) -> None:
        """Another writer committed ``name`` after we loaded it: this copy is stale. Drop it;
        the next request reloads it from the store if this host still owns it."""
        self._counts["fenced"] += 1
        log.warning(
            "cluster %s: host %d epoch %d was fenced on FSM %r (a newer snapshot is stored)",
            self.config.supervisor,
            self.config.host,
            self.epoch,
            name,
        )
        if self._sup.alive(name):
            await self._sup.stop_fsm(name)
        self._deactivate(name)

    async def _state(self, name: str) -> Snapshot | None:
        if name not in self._index:
            return None
        try:
            await self._activate(name)
        except FSMNotFound:
            return None
        return await self._sup.state(name)

    async def _stop(self, op: Op) -> None:
        """Stop ``op.name``; its event id is recorded first, so that a re-sent stop whose
        first delivery succeeded answers success instead of ``FSMNotFound``."""
        name, sid = op.name, self.config.supervisor
        if name not in self._index:
            if op.event_id is not None and any(
                row[0] == op.event_id for row in await self._control.window(sid, name)
            ):
                self._counts["duplicates"] += 1
                return
            raise self._not_found(name)
        if op.event_id is not None:
            snap = await self._state(name)
            await self._window.record(name, op.event_id, snap.version if snap else 0)
        if name in self._active and self._sup.alive(name):
            await self._sup.stop_fsm(name)
        self._index.pop(name, None)
        self._deactivate(name)
        await self._control.release(sid, name)

    # ------------------------------------------------------------------ views
    async def live(self) -> dict[str, type[FSM]]:
        """Every live name of this host's shards with its FSM class."""
        await self._ready()
        for name in [n for n in self._active if not self._sup.alive(n)]:
            await self._forget(name)  # ended here (reached [*] or marked failed)
        missing = {key for key in self._index.values() if key not in self._classes}
        if missing:
            blobs = await self._control.classes(self.config.supervisor, missing)
            for key, blob in blobs.items():
                await self._class(key, blob)
        return {name: self._classes[key] for name, key in self._index.items()}

    async def statistics(self) -> HostStatistics:
        """This host's counters."""
        await self._ready()
        local = self._sup.statistics()
        return HostStatistics(
            host=self.config.host,
            epoch=self.epoch,
            pid=os.getpid(),
            node_id=self._node_id,
            shards=len(self.config.shards),
            live=len(self._index),
            active=len(self._active),
            resident=local.resident,
            transitions=local.transitions,
            failures=local.failures,
            restarts=local.restarts,
            crashes=local.crashes,
            failed=local.failed,
            passivations=local.passivations,
            rehydrations=self._counts["rehydrations"],
            duplicates=self._counts["duplicates"],
            fenced=self._counts["fenced"],
        )

    async def memory(self) -> int:
        """Resident set size of this host process in bytes (for benchmarks)."""
        with open("/proc/self/statm") as f:  # noqa: ASYNC230 - procfs never blocks
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")

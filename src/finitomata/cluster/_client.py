"""``ClusterSupervisor``: the :class:`~finitomata.runtime.Supervisor` API over a Ray cluster."""

from __future__ import annotations

import asyncio
import logging
import sys
import types
from collections.abc import Mapping
from typing import Any

from .._snapshot import Snapshot
from ..errors import SupervisorClosed, TransitionFailed
from ..fsm import FSM
from ._lane import Lane
from ._placement import shard_of
from ._ray import import_ray
from ._registry import NAMESPACE, ClusterSpec, open_registry
from ._stats import ClusterStatistics, HostStatistics
from ._wire import Op, decode_error, new_event_id

__all__ = ["ClusterSupervisor", "DelayedTransition"]

log = logging.getLogger("finitomata.cluster")


class DelayedTransition:
    """What :meth:`ClusterSupervisor.transition_later` returns: an event sent later (with
    ``transition_nowait``) by the client that scheduled it, unless cancelled first. Closing
    that client cancels it."""

    __slots__ = ("_handle", "_on_done", "_state", "event", "event_payload", "name", "when")

    def __init__(self, name: str, event: str, event_payload: Any, when: float) -> None:
        self.name = name
        self.event = event
        self.event_payload = event_payload
        self.when = when
        """Loop time (``loop.time()``) at which it fires."""
        self._handle: asyncio.TimerHandle | None = None
        self._state = "pending"

    def cancel(self) -> bool:
        """Cancel it; True if it was still pending (it will not fire), False otherwise."""
        if self._state != "pending":
            return False
        self._state = "cancelled"
        if self._handle is not None:
            self._handle.cancel()
        return True

    def cancelled(self) -> bool:
        """True once :meth:`cancel` succeeded."""
        return self._state == "cancelled"

    def __repr__(self) -> str:
        return f"<DelayedTransition {self.name!r}:{self.event!r} at {self.when:.3f} {self._state}>"


def _store_location(store: Any, dsn: str | None) -> tuple[str, str]:
    """Where the cluster tables go: the store's database and schema."""
    schema = getattr(store, "schema", "finitomata")
    if dsn is None:
        dsn = getattr(store, "dsn", None)
    if not isinstance(dsn, str) or not isinstance(schema, str):
        raise TypeError(
            "ClusterSupervisor needs a shared PostgreSQL store (persistency=PostgresStore(dsn)) "
            f"or control_dsn=...; cannot tell the database of {store!r}"
        )
    return dsn, schema


def _check_importable(fsm: object) -> None:
    """Shard hosts import FSM classes by ``module:qualname``: refuse one they cannot."""
    if not (isinstance(fsm, type) and issubclass(fsm, FSM) and hasattr(fsm, "spec")):
        raise TypeError(f"start_fsm needs an FSM subclass with a definition, not {fsm!r}")
    module = sys.modules.get(fsm.__module__)
    target: object = module
    for part in fsm.__qualname__.split("."):
        target = getattr(target, part, None)
    if fsm.__module__ == "__main__" or target is not fsm:
        raise TypeError(
            f"FSM class {fsm.__module__}.{fsm.__qualname__} is not importable by the shard "
            "hosts: define it at the top level of a module they can import (not __main__, "
            "not inside a function)"
        )


class ClusterSupervisor:
    """Runs FSMs on a Ray cluster with the API of :class:`~finitomata.runtime.Supervisor`.

    A fixed set of virtual ``shards`` is spread over ``hosts`` long-lived Ray actors
    (shard hosts), each running the local runtime over many FSMs. A name's shard is a
    stable hash of the name; the shard -> host table is kept by a named detached registry
    actor. The shared durable store (``PostgresStore``) is the truth: a host that restarts,
    or moves to another node, rehydrates its FSMs lazily from their snapshots.

    Guarantees:
        - one activation per name in the cluster: ``start_fsm`` of a name live anywhere
          raises :class:`~finitomata.DuplicateName`; ``all()`` and ``alive()`` are exact
          (read from the hosts, which hold the durable list of live names);
        - one caller's events to one FSM are applied in the caller's order;
        - every ``start_fsm``/``transition`` carries an event id (given or generated): a
          call delivered twice (Ray re-sends calls in flight when a host restarts) is
          applied once, the second delivery answering with the current snapshot;
        - a host that was cut off but still runs cannot overwrite a newer snapshot: the
          store's version compare-and-set refuses it (``TransitionFailed``, stage
          ``persistency``) and the host drops its stale copy.

    Usage::

        async with ClusterSupervisor("shop", persistency=PostgresStore(dsn), hosts=2) as cs:
            await cs.start_fsm(OrderFSM, "order-1", Order("order-1", 10))
            snap = await cs.transition("order-1", "pay", {"amount": 10})

    Args:
        id: the cluster id: namespaces names and snapshots like a supervisor id; clients
            with the same id (in any driver of the same Ray cluster) share the cluster.
        persistency: the shared durable store, unstarted and picklable; each host opens its
            own copy. The cluster tables (names, host epochs, de-duplication window) are
            created in the same database and schema.
        shards: number of virtual shards (fixed for the life of the cluster).
        hosts: number of shard hosts.
        ray_address: passed to ``ray.init`` when Ray is not initialised yet: ``None`` starts
            a new local Ray instance (never one found on the machine), ``"auto"`` joins the
            running cluster, or a ``host:port``; the supervisor then disconnects (and stops
            the instance it started) on exit.
        control_dsn: the database of the cluster tables when the store does not tell it.
        dedup_window: committed event ids remembered per FSM (a re-sent call older than
            that many commits of its FSM would be applied again; Ray re-sends only the calls
            in flight when a host died).
        max_pending: requests queued per host (not yet sent) before ``transition_nowait``
            raises :class:`~finitomata.MailboxFull` and ``transition`` waits.
        max_batch: most requests per call to a host.
        restart_intensity, restart_period: restart policy of the hosts' local runtimes.
        host_options: extra Ray actor options for the hosts (``runtime_env``, ...).

    The client that creates a cluster owns it: on exit it stops the hosts and the registry
    (the store keeps every snapshot and the list of live names, so a later cluster with the
    same id answers for them). Other clients only detach.

    ``alive``, ``all`` and ``statistics`` keep the synchronous signatures of
    ``Supervisor``; here each waits for one round trip to the hosts.
    """

    def __init__(
        self,
        id: str = "default",
        persistency: Any = None,
        *,
        shards: int = 64,
        hosts: int = 2,
        ray_address: str | None = None,
        control_dsn: str | None = None,
        dedup_window: int = 32,
        max_pending: int = 10_000,
        max_batch: int = 512,
        restart_intensity: int = 3,
        restart_period: float = 5.0,
        host_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(id, str) or not id:
            raise TypeError(f"ClusterSupervisor id must be a non-empty str, not {id!r}")
        if persistency is None or isinstance(persistency, type):
            raise TypeError("ClusterSupervisor(persistency=...) takes a durable store object")
        for label, value in (
            ("shards", shards),
            ("hosts", hosts),
            ("dedup_window", dedup_window),
            ("max_pending", max_pending),
            ("max_batch", max_batch),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be an int >= 1, not {value!r}")
        if hosts > shards:
            raise ValueError(f"hosts ({hosts}) cannot exceed shards ({shards})")
        self.id = id
        self.persistency = persistency
        self.shards = shards
        self._dsn, self._schema = _store_location(persistency, control_dsn)
        self._hosts_wanted = hosts
        self._ray_address = ray_address
        self._dedup_window = dedup_window
        self._max_pending = max_pending
        self._max_batch = max_batch
        self._restart = (restart_intensity, float(restart_period))
        self._host_options = dict(host_options or {})
        self._state = "new"
        self._owns_ray = False
        self._owner = False
        self._registry: Any = None
        self._handles: list[Any] = []
        self._table: tuple[int, ...] = ()
        self._lanes: list[Lane] = []
        self._delayed: set[DelayedTransition] = set()
        self._dropped = 0

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> ClusterSupervisor:
        if self._state != "new":
            raise SupervisorClosed(f"cluster supervisor {self.id!r} can be entered only once")
        ray = import_ray()
        spec = self.cluster_spec()
        if not ray.is_initialized():
            ray.init(address=self._ray_address or "local", namespace=NAMESPACE, log_to_driver=False)
            self._owns_ray = True
        try:
            self._registry = open_registry(self.id)
            _, self._table, self._handles, self._owner = await self._registry.ensure.remote(spec)
            for outcome in await asyncio.gather(*(h.ready.remote() for h in self._handles)):
                if outcome.error is not None:
                    raise decode_error(outcome.error)
        except BaseException:
            await self._teardown()
            raise
        self._lanes = [
            Lane(
                i,
                h,
                max_pending=self._max_pending,
                max_batch=self._max_batch,
                on_dropped=self._dropped_op,
            )
            for i, h in enumerate(self._handles)
        ]
        self._state = "open"
        return self

    def cluster_spec(self) -> ClusterSpec:
        """The shape of the cluster this client creates or attaches to.

        Raises:
            TypeError: the store cannot be pickled (give an unstarted store).
        """
        ray = import_ray()
        try:
            store_blob = ray.cloudpickle.dumps(self.persistency)
        except Exception as exc:
            raise TypeError(
                f"the store {self.persistency!r} cannot be sent to the shard hosts ({exc}); "
                "give an unstarted store: each host opens its own copy"
            ) from exc
        return ClusterSpec(
            supervisor=self.id,
            shards=self.shards,
            hosts=self._hosts_wanted,
            store=store_blob,
            dsn=self._dsn,
            schema=self._schema,
            dedup_window=self._dedup_window,
            restart_intensity=self._restart[0],
            restart_period=self._restart[1],
            host_options=tuple(sorted(self._host_options.items())),
        )

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel delayed transitions, deliver queued requests, detach; the owner also stops
        the hosts and the registry. Idempotent."""
        if self._state == "closed":
            return
        self._state = "closed"
        for handle in list(self._delayed):
            handle.cancel()
        self._delayed.clear()
        try:
            await asyncio.gather(*(lane.aclose() for lane in self._lanes))
        finally:
            for lane in self._lanes:
                lane.cancel()
            await self._teardown()

    async def _teardown(self) -> None:
        ray = import_ray()
        if self._owner:
            self._owner = False
            try:
                await asyncio.gather(*(h.shutdown.remote() for h in self._handles))
            except Exception as exc:  # a host that is already gone has nothing to close
                log.warning("cluster %s: closing a shard host failed: %r", self.id, exc)
            for handle in self._handles:
                ray.kill(handle, no_restart=True)
            if self._registry is not None:
                ray.kill(self._registry, no_restart=True)
        self._registry = None
        self._handles = []
        if self._owns_ray:
            self._owns_ray = False
            ray.shutdown()

    def _check_open(self) -> None:
        if self._state != "open":
            raise SupervisorClosed(f"cluster supervisor {self.id!r} is not open")

    # ------------------------------------------------------------------ routing
    def _route(self, name: str) -> tuple[int, Lane]:
        self._check_open()
        if not isinstance(name, str):
            raise TypeError(f"FSM names are str, not {type(name).__name__}")
        shard = shard_of(name, self.shards)
        return shard, self._lanes[self._table[shard]]

    def _dropped_op(self, op: Op, error: BaseException) -> None:
        if isinstance(error, TransitionFailed):
            log.debug("cluster %s: %s of %r failed: %s", self.id, op.event, op.name, error)
            return
        self._dropped += 1
        log.warning(
            "cluster %s: %s %r for %r dropped: %s", self.id, op.kind, op.event, op.name, error
        )

    def host_of(self, name: str) -> int:
        """The index of the shard host that owns ``name`` (its shard's host)."""
        self._check_open()
        return self._table[shard_of(name, self.shards)]

    @property
    def hosts(self) -> tuple[Any, ...]:
        """The Ray actor handles of the shard hosts, by index."""
        return tuple(self._handles)

    # ------------------------------------------------------------------ API
    async def start_fsm(
        self, fsm: type[FSM], name: str, payload: Any = None, *, event_id: str | None = None
    ) -> Snapshot:
        """Start FSM ``name`` of class ``fsm`` on the host owning its shard; returns once it
        is ready (same contract as ``Supervisor.start_fsm``).

        ``event_id`` makes the call idempotent: a retried start with the same id answers
        with the FSM's snapshot instead of ``DuplicateName``.

        Raises:
            DuplicateName: ``name`` is live anywhere in the cluster.
            TransitionFailed: the entry transition failed; the name is not registered.
            SupervisorClosed: this client is not open, or the host is gone for good.
        """
        shard, lane = self._route(name)
        _check_importable(fsm)
        op = Op("start", name, shard, payload=payload, fsm=fsm, event_id=event_id or new_event_id())
        snap: Snapshot = await lane.push(op)
        return snap

    async def transition(
        self, name: str, event: str, event_payload: Any = None, *, event_id: str | None = None
    ) -> Snapshot:
        """Send ``event`` to FSM ``name`` and await its outcome (same contract as
        ``Supervisor.transition``).

        ``event_id`` (generated when omitted) makes delivery idempotent: a second delivery
        of an id that committed is not applied again and returns the current snapshot.

        Raises:
            FSMNotFound: no live FSM has that name in the cluster.
            TransitionFailed: refused, not allowed, or the store failed (stage
                ``persistency``, also when a newer snapshot fenced this write).
            FSMCrashed: a callback raised after the commit.
            SupervisorClosed: this client is not open, or the host is gone for good.
        """
        shard, lane = self._route(name)
        op = Op(
            "transition", name, shard, event, event_payload, event_id=event_id or new_event_id()
        )
        snap: Snapshot = await lane.push(op)
        return snap

    def transition_nowait(
        self, name: str, event: str, event_payload: Any = None, *, event_id: str | None = None
    ) -> None:
        """Queue ``event`` for FSM ``name`` without waiting. Its failure is recorded in the
        FSM (``last_error``) and logged here; a failed delivery counts as ``dropped`` in
        :meth:`statistics`.

        Raises:
            MailboxFull: ``max_pending`` requests already wait to be sent to that host.
            SupervisorClosed: this client is not open.
        """
        shard, lane = self._route(name)
        lane.push_nowait(
            Op("transition", name, shard, event, event_payload, event_id=event_id or new_event_id())
        )

    def transition_later(
        self, name: str, event: str, event_payload: Any = None, *, delay: float
    ) -> DelayedTransition:
        """Send ``event`` to ``name`` after ``delay`` seconds (``transition_nowait`` then),
        unless the returned handle is cancelled first. Needs a running loop; owned by this
        client and cancelled when it closes."""
        self._check_open()
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise ValueError(f"delay must be a number of seconds >= 0, not {delay!r}")
        loop = asyncio.get_running_loop()
        handle = DelayedTransition(name, event, event_payload, loop.time() + delay)
        event_id = new_event_id()

        def fire() -> None:
            self._delayed.discard(handle)
            if handle._state != "pending":
                return
            handle._state = "fired"
            try:
                self.transition_nowait(name, event, event_payload, event_id=event_id)
            except Exception as exc:
                self._dropped += 1
                log.warning("cluster %s: delayed %r for %r dropped: %s", self.id, event, name, exc)

        handle._handle = loop.call_at(handle.when, fire)
        self._delayed.add(handle)
        return handle

    async def state(self, name: str) -> Snapshot | None:
        """The current snapshot of ``name`` (after this client's earlier requests to it), or
        ``None`` when it is not live. Rehydrates it on its host if needed."""
        shard, lane = self._route(name)
        snap: Snapshot | None = await lane.push(Op("state", name, shard))
        return snap

    async def stop_fsm(self, name: str, *, event_id: str | None = None) -> None:
        """Stop ``name`` (its snapshot stays in the store; it leaves ``all()``).

        ``event_id`` (generated when omitted) makes a re-sent stop answer success.

        Raises:
            FSMNotFound: no live FSM has that name in the cluster.
        """
        shard, lane = self._route(name)
        await lane.push(Op("stop", name, shard, event_id=event_id or new_event_id()))

    def alive(self, name: str) -> bool:
        """Whether ``name`` is live in the cluster (exact; one blocking round trip)."""
        shard, lane = self._route(name)
        outcome = import_ray().get(lane.handle.submit.remote([Op("alive", name, shard)]))[0]
        return bool(outcome.value)

    def all(self) -> Mapping[str, type[FSM]]:
        """A read-only mapping of every live name in the cluster to its FSM class (exact;
        one blocking round trip to every host)."""
        self._check_open()
        ray = import_ray()
        merged: dict[str, type[FSM]] = {}
        for part in ray.get([h.live.remote() for h in self._handles]):
            merged.update(part)
        return types.MappingProxyType(merged)

    def statistics(self) -> ClusterStatistics:
        """Per-host counters and their totals (one blocking round trip to every host)."""
        self._check_open()
        ray = import_ray()
        hosts: tuple[HostStatistics, ...] = tuple(
            ray.get([h.statistics.remote() for h in self._handles])
        )
        return ClusterStatistics.total(self.shards, hosts, dropped=self._dropped)

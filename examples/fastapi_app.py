"""The README's orders over HTTP with FastAPI: one FSM per order, persisted in SQLite.

The app's lifespan enters a :class:`finitomata.Supervisor` (its store is started there
and closed on shutdown); handlers call it directly, since they run on the same event
loop. Finitomata's errors map to HTTP statuses: ``FSMNotFound`` 404, ``DuplicateName``
409, ``TransitionFailed`` 409 with the failure's stage and reason.

Run it (``pip install fastapi uvicorn``), from ``examples/``::

    uvicorn fastapi_app:app

then ``curl -X POST localhost:8000/orders -H 'content-type: application/json'
-d '{"id": "o-1", "total": 10}'`` and ``curl -X POST localhost:8000/orders/o-1/events/pay
-H 'content-type: application/json' -d '{"amount": 10}'``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Request
from orders import Order, OrderFSM
from pydantic import BaseModel

import finitomata as fm
from finitomata.persistency import Persistency, SQLiteStore


class NewOrder(BaseModel):
    id: str
    total: int


def _json(snap: fm.Snapshot) -> dict[str, Any]:
    error = snap.last_error
    return {
        "name": snap.name,
        "state": "[*]" if snap.state == "*" else snap.state,
        "version": snap.version,
        "payload": dataclasses.asdict(snap.payload),
        "last_error": None if error is None else {"stage": error.stage, "reason": error.reason},
    }


def create_app(store: Persistency | None = None) -> FastAPI:
    """The app; ``store`` defaults to ``SQLiteStore($ORDERS_DB or orders.db)``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        persistency = store or SQLiteStore(os.environ.get("ORDERS_DB", "orders.db"))
        async with fm.Supervisor("shop", persistency=persistency) as sup:
            app.state.sup = sup
            yield

    app = FastAPI(title="orders", lifespan=lifespan)

    def sup_of(request: Request) -> fm.Supervisor:
        supervisor: fm.Supervisor = request.app.state.sup
        return supervisor

    @app.post("/orders", status_code=201)
    async def create(order: NewOrder, request: Request) -> dict[str, Any]:
        try:
            snap = await sup_of(request).start_fsm(
                OrderFSM, order.id, Order(id=order.id, total=order.total)
            )
        except fm.DuplicateName as exc:
            raise HTTPException(409, str(exc)) from exc
        return _json(snap)

    @app.get("/orders")
    async def live(request: Request) -> list[str]:
        return sorted(sup_of(request).all())

    @app.get("/orders/{name}")
    async def show(name: str, request: Request) -> dict[str, Any]:
        snap = await sup_of(request).state(name)
        if snap is None:
            raise HTTPException(404, f"no live order {name!r}")
        return _json(snap)

    @app.post("/orders/{name}/events/{event}")
    async def send(
        name: str, event: str, request: Request, payload: Annotated[Any, Body()] = None
    ) -> dict[str, Any]:
        try:
            snap = await sup_of(request).transition(name, event, payload)
        except fm.FSMNotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        except fm.TransitionFailed as exc:
            failure = exc.failure
            raise HTTPException(
                409, {"stage": failure.stage, "state": failure.state, "reason": failure.reason}
            ) from exc
        return _json(snap)

    return app


app = create_app()

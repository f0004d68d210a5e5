"""Row encoding shared by the durable stores (SQLite and PostgreSQL).

A committed :class:`~finitomata.Snapshot` becomes a :class:`SnapshotRow` (payload encoded by
the store's codec, the codec's name kept beside it so each row decodes with the codec that
wrote it), a :class:`~finitomata.FailureInfo` becomes a JSON text, a
:class:`~finitomata.TransitionInfo` a :class:`JournalRow`. Decoding turns rows back into
``Loaded``/``Created`` with the checks every durable store owes its users: a stored state
that the FSM's definition no longer has is :class:`~finitomata.DefinitionMismatch`, data that
cannot be decoded is :class:`~finitomata.SerializationError` naming the FSM and the store
(never a silent fresh start).

Event payloads inside failures and journal entries are informational: when the codec cannot
encode one, its ``repr`` is kept instead (marked as such) so that recording a failure or a
journal line never fails a transition. The snapshot payload itself is never degraded.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import TYPE_CHECKING, Any, NamedTuple

from .._snapshot import STAGES, FailureInfo, FSMKey, Snapshot, TransitionInfo
from ..errors import DefinitionMismatch, SerializationError
from ._protocol import Created, Loaded
from .codecs import Codec, get_codec

if TYPE_CHECKING:
    from ..fsm import FSM

__all__ = [
    "ErrorRow",
    "JournalEntry",
    "JournalRow",
    "SnapshotRow",
    "StoredFSM",
    "decode_event_payload",
    "decode_failure",
    "decode_history",
    "decode_load",
    "decode_snapshot",
    "decode_stored",
    "encode_error",
    "encode_failure",
    "encode_history",
    "encode_journal",
    "encode_snapshot",
]

TERMINAL = "*"


class SnapshotRow(NamedTuple):
    """One row of the snapshots table (the key is kept by the caller), its fields in the
    column order of the stores' statements.

    A named tuple, not a dataclass: one is built for every commit on the event loop, and
    building it with ``tuple.__new__`` (``_make``) then unpacking it into a statement's
    parameters cost a fifth of a slotted dataclass's ``__init__`` plus reading its eight
    fields back.
    """

    state: str
    payload: bytes
    codec: str
    version: int
    definition_hash: str
    history: str
    last_error: str | None
    updated_at: float


_make_row = SnapshotRow._make


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorRow:
    """One row of the errors table: the latest failure of an FSM at snapshot ``version``."""

    version: int
    stage: str
    state: str
    event: str
    reason: str
    failure: str
    at: float


@dataclasses.dataclass(frozen=True, slots=True)
class JournalRow:
    """One append-only journal line: the commit that produced ``version``."""

    version: int
    source: str
    target: str
    event: str
    event_payload: bytes
    codec: str
    at: float


@dataclasses.dataclass(frozen=True, slots=True)
class JournalEntry:
    """A decoded journal line, as ``finitomata inspect`` and ``journal()`` give it back.

    ``event_payload`` is the decoded payload, or the text ``"<undecodable: ...>"`` when it
    cannot be decoded in this process (inspection never fails on a payload).
    """

    version: int
    source: str
    target: str
    event: str
    event_payload: Any
    at: float


@dataclasses.dataclass(frozen=True, slots=True)
class StoredFSM:
    """What a durable store holds about one FSM, without decoding its payload.

    Attributes:
        supervisor: the supervisor id of the key.
        name: the FSM name.
        state: the stored state (``"*"`` once the FSM reached ``[*]``).
        version: the stored version.
        codec: the name of the codec the payload was written with.
        definition_hash: the hash of the FSM spec that wrote the snapshot.
        updated_at: seconds since the epoch of the last commit.
        history: previous states, oldest first.
        last_error: the latest recorded failure, or ``None``.
    """

    supervisor: str
    name: str
    state: str
    version: int
    codec: str
    definition_hash: str
    updated_at: float
    history: tuple[str, ...]
    last_error: FailureInfo | None


# --------------------------------------------------------------------------- encoding


def _type_name(value: object) -> str:
    cls = type(value)
    return f"{cls.__module__}:{cls.__qualname__}"


def encode_snapshot(
    snapshot: Snapshot, info: TransitionInfo, codec: Codec, *, store: str, key: FSMKey
) -> SnapshotRow:
    """Encode ``snapshot`` for the row written by the commit described by ``info``.

    Raises:
        SerializationError: the payload cannot be encoded (names the type, the FSM and the
            store); nothing is written then.
    """
    try:
        payload = codec.encode(snapshot.payload)
    except SerializationError as exc:
        raise SerializationError(
            f"{store}: cannot encode the payload of FSM {str(key)!r} with codec "
            f"{codec.name!r}: {exc}",
            type_name=exc.type_name or _type_name(snapshot.payload),
            store=store,
            name=key.name,
        ) from exc
    except Exception as exc:
        raise SerializationError(
            f"{store}: cannot encode the payload of FSM {str(key)!r} "
            f"({_type_name(snapshot.payload)}) with codec {codec.name!r}: {exc!r}",
            type_name=_type_name(snapshot.payload),
            store=store,
            name=key.name,
        ) from exc
    last_error = snapshot.last_error
    return _make_row(
        (
            snapshot.state,
            payload,
            codec.name,
            snapshot.version,
            info.definition_hash,
            encode_history(snapshot.history),
            None if last_error is None else encode_failure(last_error, codec),
            info.at,
        )
    )


_HISTORY_CACHE_SIZE = 1024
_history_texts: dict[tuple[str, ...], str] = {}


def encode_history(history: tuple[str, ...]) -> str:
    """The JSON text (a list of state names, oldest first) stored for ``history``.

    An FSM's history takes few distinct values (the last states of a cycle repeat), so the
    texts are kept in a small cache keyed by the tuple itself: a hit costs a tuple hash
    instead of a ``json.dumps``. The cache is emptied when it holds
    ``_HISTORY_CACHE_SIZE`` texts; a race between threads only computes a text twice.
    """
    text = _history_texts.get(history)
    if text is None:
        text = json.dumps(list(history))
        if len(_history_texts) >= _HISTORY_CACHE_SIZE:
            _history_texts.clear()
        _history_texts[history] = text
    return text


_history_tuples: dict[str, tuple[str, ...]] = {}


def decode_history(text: str) -> tuple[str, ...]:
    """The history stored as ``text`` by :func:`encode_history` (cached the same way).

    Raises:
        ValueError: ``text`` is not JSON.
        TypeError: ``text`` is JSON but not a list.
    """
    history = _history_tuples.get(text)
    if history is None:
        items = json.loads(text)
        if not isinstance(items, list):
            raise TypeError(f"a stored history must be a JSON list, not {type(items).__name__}")
        history = tuple(str(s) for s in items)
        if len(_history_tuples) >= _HISTORY_CACHE_SIZE:
            _history_tuples.clear()
        _history_tuples[text] = history
    return history


def _encode_informational(value: object, codec: Codec) -> tuple[bytes, str]:
    """Encode an event payload; fall back to its repr (codec ``"repr"``) when it cannot be."""
    try:
        return codec.encode(value), codec.name
    except Exception:
        return repr(value).encode("utf-8", "replace"), "repr"


def encode_failure(failure: FailureInfo, codec: Codec) -> str:
    """A JSON text holding ``failure``; its event payload is codec-encoded (or its repr)."""
    data, codec_name = _encode_informational(failure.event_payload, codec)
    return json.dumps(
        {
            "stage": failure.stage,
            "state": failure.state,
            "event": failure.event,
            "reason": failure.reason,
            "exception": failure.exception,
            "event_payload": base64.b64encode(data).decode("ascii"),
            "codec": codec_name,
        }
    )


def encode_error(snapshot: Snapshot, failure: FailureInfo, codec: Codec, *, at: float) -> ErrorRow:
    """The errors-table row recording ``failure`` while the FSM stands at ``snapshot``."""
    return ErrorRow(
        version=snapshot.version,
        stage=failure.stage,
        state=failure.state,
        event=failure.event,
        reason=failure.reason,
        failure=encode_failure(failure, codec),
        at=at,
    )


def encode_journal(snapshot: Snapshot, info: TransitionInfo, codec: Codec) -> JournalRow:
    """The journal line of the commit ``info`` that produced ``snapshot``."""
    data, codec_name = _encode_informational(info.event_payload, codec)
    return JournalRow(
        version=snapshot.version,
        source=info.source,
        target=info.target,
        event=info.event,
        event_payload=data,
        codec=codec_name,
        at=info.at,
    )


# --------------------------------------------------------------------------- decoding


def decode_event_payload(data: bytes, codec_name: str) -> Any:
    """Decode an informational payload; never raises (gives a marker text instead)."""
    if codec_name == "repr":
        return f"<unencodable: {bytes(data).decode('utf-8', 'replace')}>"
    try:
        return get_codec(codec_name).decode(bytes(data))
    except Exception as exc:
        return f"<undecodable ({codec_name}): {exc}>"


def decode_failure(text: str) -> FailureInfo:
    """Decode a failure written by :func:`encode_failure`.

    Raises:
        SerializationError: the text is not a failure record.
    """
    try:
        doc = json.loads(text)
        stage = doc["stage"]
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        payload = decode_event_payload(base64.b64decode(doc["event_payload"]), doc["codec"])
        return FailureInfo(
            stage=stage,
            state=str(doc["state"]),
            event=str(doc["event"]),
            reason=str(doc["reason"]),
            event_payload=payload,
            exception=doc.get("exception"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SerializationError(f"malformed failure record: {exc}") from exc


def decode_snapshot(key: FSMKey, row: SnapshotRow, *, store: str) -> Snapshot:
    """The :class:`Snapshot` held by ``row`` (payload decoded with the row's codec), exactly
    as it was committed (failures recorded later by ``store_error`` live in the errors table).

    Raises:
        SerializationError: the payload (or the failure) cannot be decoded; names the FSM,
            the codec and the store.
    """
    try:
        codec = get_codec(row.codec)
        payload = codec.decode(bytes(row.payload))
        history = decode_history(row.history)
        last_error = None if row.last_error is None else decode_failure(row.last_error)
    except SerializationError as exc:
        raise SerializationError(
            f"{store}: the stored snapshot of FSM {str(key)!r} (version {row.version}, codec "
            f"{row.codec!r}) cannot be decoded: {exc}",
            type_name=exc.type_name,
            store=store,
            name=key.name,
        ) from exc
    except Exception as exc:
        raise SerializationError(
            f"{store}: the stored snapshot of FSM {str(key)!r} (version {row.version}, codec "
            f"{row.codec!r}) cannot be decoded: {exc!r}",
            store=store,
            name=key.name,
        ) from exc
    return Snapshot(
        name=key.name,
        state=row.state,
        payload=payload,
        version=row.version,
        history=history,
        last_error=last_error,
    )


def decode_load(
    key: FSMKey,
    row: SnapshotRow | None,
    fsm: type[FSM],
    payload: object,
    *,
    store: str,
) -> Loaded | Created:
    """Turn what ``load`` read into ``Loaded``/``Created`` (DESIGN section 5).

    Nothing stored gives ``Created(payload)``; a terminal row at version N gives
    ``Created(payload, version=N)`` (its payload is not even decoded); a live row gives
    ``Loaded``.

    Raises:
        DefinitionMismatch: the stored state is not a state of ``fsm``'s definition (names
            the state, the FSM, both definition hashes and the store).
        SerializationError: the stored data cannot be decoded.
    """
    if row is None:
        return Created(payload, version=0)
    if row.state == TERMINAL:
        return Created(payload, version=row.version)
    states = fsm.spec.states
    if row.state not in states:
        raise DefinitionMismatch(
            f"{store}: FSM {str(key)!r} is stored in state {row.state!r} (version "
            f"{row.version}, definition {row.definition_hash or '?'}), which the current "
            f"definition of {fsm.__qualname__} (definition {fsm.definition_hash}) does not "
            f"have; its states are: {', '.join(states)}. Migrate or delete the snapshot.",
            store=store,
            name=key.name,
        )
    return Loaded(decode_snapshot(key, row, store=store))


def decode_stored(key: FSMKey, row: SnapshotRow, error: ErrorRow | None) -> StoredFSM:
    """A :class:`StoredFSM` summary of ``row`` (the payload is not decoded). Never raises on
    bad data: an unreadable failure or history is shown as such (this serves inspection)."""
    last_error = None
    if error is not None:
        try:
            last_error = decode_failure(error.failure)
        except SerializationError:
            last_error = None
    try:
        history = decode_history(row.history)
    except (ValueError, TypeError):  # inspection shows what it can
        history = ("<unreadable history>",)
    return StoredFSM(
        supervisor=key.supervisor,
        name=key.name,
        state=row.state,
        version=row.version,
        codec=row.codec,
        definition_hash=row.definition_hash,
        updated_at=row.updated_at,
        history=history,
        last_error=last_error,
    )

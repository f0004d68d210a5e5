"""PostgresStore's public attributes."""

from __future__ import annotations

from finitomata.persistency.postgres import PostgresStore


def test_dsn_is_public_and_kept_out_of_repr() -> None:
    store = PostgresStore("postgresql://postgres:secret@127.0.0.1:5432/test", schema="x")
    assert store.dsn == "postgresql://postgres:secret@127.0.0.1:5432/test"
    assert "secret" not in repr(store)

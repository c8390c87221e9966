"""Rows that must land together or not at all (#21: a booking and its "booked" mark).

Stores that share a `UnitOfWork` take their sessions from it: outside `atomic()` every write is
its own transaction (committed at once, as before); inside it every write and read of those
stores goes through one session, committed when the block ends and rolled back if it raises.
A process that dies inside the block leaves none of its rows (the database never saw a commit).
The block must not await: nothing else may write through the same connection meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlmodel import Session


class UnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._open: Session | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The open unit's session, or a fresh one committed when the block ends."""
        if self._open is not None:
            yield self._open
            self._open.flush()  # ids and constraints now; the unit commits at its end
            return
        with Session(self.engine, expire_on_commit=False) as session:
            yield session
            session.commit()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Every write of the sharing stores in this block commits together, or none does."""
        if self._open is not None:
            yield  # already inside a unit: part of it
            return
        with Session(self.engine, expire_on_commit=False) as session:
            self._open = session
            try:
                yield
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                self._open = None

"""The few statements every submission and status request runs, on the database driver's own
connection (issue 31).

SQLAlchemy's execution of a statement already compiled and cached costs several times what
SQLite takes to answer it: an execution context, parameter processing, a result object and its
rows. Timed in the process on SQLite with 300 jobs stored, a status request's read of its job took
60 µs through SQLAlchemy and 26 µs here (10 µs of it SQLite's), a submission's read of its inputs
165 µs and 80 µs. On the service's hottest paths that was the largest part of a request's own
time. A ``DriverStatement`` is a Core statement compiled once per dialect, with the dialect's own
conversions of its parameters and columns (SQLAlchemy's bind and result processors, so that a
value reads and writes as it does everywhere else), run with the driver's ``execute``.

Errors keep one path: a statement the driver refuses is run again through SQLAlchemy, whose
handling then applies as it does to every other statement (a unique key violated is an
``IntegrityError``; a connection the database dropped is invalidated and answered with a 503).
Running it again is safe: the driver ran nothing (a refused insert wrote no row).
"""
from __future__ import annotations

import threading
import weakref
from collections import namedtuple
from typing import Any, Callable

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.expression import Executable


class _Compiled:
    """One statement compiled for one dialect: its SQL, how its parameters are sent and how its
    columns are read."""

    def __init__(self, statement, dialect: Dialect, column_keys: list[str] | None):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = compiled.string
        #: the driver's parameter style: positional (SQLite's ``?``) or by name (psycopg's ``%(x)s``)
        self.order = tuple(compiled.positiontup) if compiled.positional else None
        binds = compiled.binds
        #: values the statement carries itself (literals SQLAlchemy made parameters of)
        self.constants = {name: bind.effective_value for name, bind in binds.items()
                          if not bind.required and bind.callable is None}
        self.encoders: dict[str, Callable] = {}
        for name, bind in binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.encoders[name] = process
        self.constants = {name: self.encoders.get(name, _same)(value) for name, value in self.constants.items()}
        if statement.is_select:
            columns = list(statement.selected_columns)
            self.row = namedtuple("Row", [c.key for c in columns], rename=True)
            self.decoders = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
            if not any(self.decoders):
                self.decoders = None
        else:
            self.row, self.decoders = None, None

    def parameters(self, values: dict[str, Any]):
        merged = dict(self.constants)
        encoders = self.encoders
        for name, value in values.items():
            process = encoders.get(name)
            merged[name] = value if process is None or value is None else process(value)
        if self.order is None:
            return merged
        return tuple(merged[name] for name in self.order)

    def read(self, found: tuple):
        decoders = self.decoders
        if decoders is None:
            return self.row._make(found)
        return self.row._make([value if decode is None else decode(value) for decode, value in zip(decoders, found)])


def _same(value):
    return value


class DriverStatement:
    """A Core ``statement`` run on the driver's connection under a SQLAlchemy ``Connection``
    (which must be in autocommit: nothing here begins or ends a transaction). ``column_keys``:
    for an insert, the columns every execution gives."""

    def __init__(self, statement: Executable, column_keys: list[str] | None = None):
        self.statement = statement
        self.column_keys = column_keys
        #: by dialect object: an engine's, alive as long as it is
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, _Compiled] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect)
        if found is None:
            with self._lock:
                found = self._by_dialect.get(dialect)
                if found is None:
                    found = self._by_dialect[dialect] = _Compiled(self.statement, dialect, self.column_keys)
        return found

    def first(self, connection: Connection, values: dict[str, Any]):
        """The first row (attributes by column name), or None."""
        compiled = self._compiled(connection.dialect)
        driver = connection.connection.driver_connection
        try:
            cursor = driver.execute(compiled.sql, compiled.parameters(values))
            found = cursor.fetchone()
            cursor.close()  # on SQLite, a statement not finished holds its read snapshot
        except connection.dialect.loaded_dbapi.Error:
            found = connection.execute(self.statement, values).first()
            return None if found is None else compiled.row._make(found)
        return None if found is None else compiled.read(found)

    def run(self, connection: Connection, values: dict[str, Any]) -> None:
        """Run a statement that returns no rows (an insert), committed as it runs."""
        compiled = self._compiled(connection.dialect)
        driver = connection.connection.driver_connection
        try:
            driver.execute(compiled.sql, compiled.parameters(values))
        except connection.dialect.loaded_dbapi.Error:
            connection.execute(self.statement, values)

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

Errors keep SQLAlchemy's form: a connection the database dropped is handed to SQLAlchemy, which
runs the statement again, finds the connection gone and invalidates it (the request is a 503, the
thread's next request takes a new connection); any other error the driver raises is raised as
SQLAlchemy would raise it (a unique key violated is an ``IntegrityError``, a locked database an
``OperationalError``), without running the statement a second time.
"""
from __future__ import annotations

import threading
import weakref
from collections import namedtuple
from typing import Any, Callable

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable


class _Compiled:
    """One statement compiled for one dialect: its SQL, how its parameters are sent and how its
    columns are read."""

    def __init__(self, statement, dialect: Dialect, column_keys: list[str] | None):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        # the SQL is sent as compiled: nothing may be left for SQLAlchemy to fill in at execution
        # (an IN list, a literal rendered per call) or renamed for the driver
        if compiled.literal_execute_params or compiled.post_compile_params or compiled.escaped_bind_names:
            raise ValueError(f"not a statement the driver can run as compiled: {compiled.string[:80]}")
        self.sql = compiled.string
        #: the driver's parameter style: positional (SQLite's ``?``) or by name (psycopg's ``%(x)s``)
        self.order = tuple(compiled.positiontup) if compiled.positional else None
        self.encoders: dict[str, Callable] = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.encoders[name] = process
        #: values the statement carries itself (literals SQLAlchemy made parameters of), encoded once
        self.constants = {name: self._encoded(name, bind.effective_value) for name, bind in compiled.binds.items()
                          if not bind.required and bind.callable is None}
        if statement.is_select:
            columns = list(statement.selected_columns)
            keys = [c.key for c in columns]
            if len(set(keys)) != len(keys):
                raise ValueError(f"two columns share a name: {keys}")
            self.row = namedtuple("Row", keys)
            self.decoders = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
            if not any(self.decoders):
                self.decoders = None
        else:
            self.row, self.decoders = None, None

    def _encoded(self, name: str, value):
        process = self.encoders.get(name)
        # None too: a JSON column stores None as JSON null, as SQLAlchemy writes it
        return value if process is None else process(value)

    def parameters(self, values: dict[str, Any]):
        """The driver's parameters: ``values`` encoded, with the statement's own constants, in
        the driver's order when it takes them by position."""
        merged = dict(self.constants)
        for name, value in values.items():
            merged[name] = self._encoded(name, value)
        if self.order is None:
            return merged
        return tuple(merged[name] for name in self.order)

    def read(self, found: tuple):
        decoders = self.decoders
        if decoders is None:
            return self.row._make(found)
        return self.row._make([value if decode is None else decode(value) for decode, value in zip(decoders, found)])


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
        parameters = compiled.parameters(values)
        try:
            cursor = driver.execute(compiled.sql, parameters)
            try:
                found = cursor.fetchone()
            finally:
                cursor.close()  # on SQLite, a statement not finished holds its read snapshot
        except connection.dialect.loaded_dbapi.Error as error:
            _raise_unless_dropped(connection, compiled, parameters, error, driver)
            found = connection.execute(self.statement, values).first()
            return None if found is None else compiled.row._make(found)
        return None if found is None else compiled.read(found)

    def run(self, connection: Connection, values: dict[str, Any]) -> None:
        """Run a statement that returns no rows (an insert), committed as it runs."""
        compiled = self._compiled(connection.dialect)
        driver = connection.connection.driver_connection
        parameters = compiled.parameters(values)
        try:
            driver.execute(compiled.sql, parameters).close()
        except connection.dialect.loaded_dbapi.Error as error:
            _raise_unless_dropped(connection, compiled, parameters, error, driver)
            connection.execute(self.statement, values)


def _raise_unless_dropped(connection: Connection, compiled: _Compiled, parameters, error: Exception, driver) -> None:
    """Raise the driver's ``error`` as SQLAlchemy raises it, unless the database dropped the
    connection: then return, and the caller runs the statement through SQLAlchemy, which
    invalidates the connection."""
    dialect = connection.dialect
    if dialect.is_disconnect(error, driver, None):
        return
    raise DBAPIError.instance(compiled.sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect) from error

"""What the Python client tests share: a throwaway database with the
extension, a row lock that makes concurrent requests meet in the database,
a WSGI app served on a real socket, and a small HTTP client.

Connection parameters come from the environment as libpq reads them
(PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE), as pg_virtualenv sets them.
"""

import contextlib
import http.client
import json
import os
import threading
import time

import psycopg2


def connect(dbname):
    """A psycopg2 connection to dbname, in autocommit mode."""
    conn = psycopg2.connect(dbname=dbname)
    conn.autocommit = True
    return conn


@contextlib.contextmanager
def throwaway_database(name):
    """Creates database `name` (dropping a leftover one) with the extension
    installed, yields its name, and drops it again."""
    maintenance = os.environ.get("PGDATABASE") or "postgres"
    admin = connect(maintenance)
    try:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cur.execute(f'CREATE DATABASE "{name}"')
        with contextlib.closing(connect(name)) as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION rowversion")
        yield name
    finally:
        with admin.cursor() as cur:
            # (Django and SQLAlchemy pools may still hold connections)
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def execute(dbname, sql, params=None):
    """Runs one statement in its own connection (another client, raw SQL)
    and returns its rows, if any."""
    with contextlib.closing(connect(dbname)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


def rows_containing(dbname, marker):
    """How many rows of all user tables contain `marker` anywhere in their
    text form: proof that a losing write left nothing behind."""
    with contextlib.closing(connect(dbname)) as conn, conn.cursor() as cur:
        cur.execute("""SELECT format('%I.%I', schemaname, tablename)
                       FROM pg_tables
                       WHERE schemaname NOT IN ('pg_catalog', 'information_schema',
                                                'rowversion')""")
        total = 0
        for (table,) in cur.fetchall():
            cur.execute(f"SELECT count(*) FROM {table} t WHERE strpos(t::text, %s) > 0",
                        (marker,))
            total += cur.fetchone()[0]
        return total


@contextlib.contextmanager
def row_locked(dbname, lock_sql, params=None):
    """Holds the row lock that `lock_sql` (a SELECT ... FOR UPDATE) takes, in
    an open transaction of its own connection, until the block ends.
    Writers of that row queue up behind it and so run truly concurrently
    when it is released."""
    conn = psycopg2.connect(dbname=dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(lock_sql, params)
            if cur.rowcount != 1:
                raise AssertionError(f"lock statement locked {cur.rowcount} rows")
        yield
    finally:
        conn.rollback()
        conn.close()


def wait_for_lock_waiters(dbname, count, timeout=30):
    """Waits until `count` sessions of dbname wait for a lock."""
    deadline = time.monotonic() + timeout
    with contextlib.closing(connect(dbname)) as conn, conn.cursor() as cur:
        while True:
            cur.execute("SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = %s AND wait_event_type = 'Lock'", (dbname,))
            waiting = cur.fetchone()[0]
            if waiting >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{waiting} of {count} writers waiting for the row lock")
            time.sleep(0.02)


def concurrently(dbname, lock_sql, lock_params, requests):
    """Runs the callables in `requests` in threads of their own while
    lock_sql holds the row they write, releases the lock once every one of
    them waits for it, and returns their results in order."""
    results = [None] * len(requests)
    errors = []

    def run(i, fn):
        try:
            results[i] = fn()
        except BaseException as e:  # reported below
            errors.append(e)

    with row_locked(dbname, lock_sql, lock_params):
        threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(requests)]
        for t in threads:
            t.start()
        wait_for_lock_waiters(dbname, len(requests))
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


class Server:
    """A WSGI server on 127.0.0.1 and a free port, serving in a thread of
    its own and handling each request in a new thread."""

    def __init__(self, make_server):
        """make_server(host, port) returns a server with serve_forever(),
        shutdown() and server_port."""
        self.server = make_server("127.0.0.1", 0)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def request(self, method, path, body=None, headers=None):
        """Sends one request; returns (status, headers, parsed JSON or None)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            hdrs = dict(headers or {})
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            payload = None
            if raw and resp.getheader("Content-Type", "").startswith("application/json"):
                payload = json.loads(raw)
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
        finally:
            conn.close()

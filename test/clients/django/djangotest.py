"""What the Django API tests share: Django set up for a database of their
own, that database created with the schema, the project under a real HTTP
server, two rows in the table under test before each test, and helpers to
read the database and send requests.  A test module calls setup_django()
before importing anything of Django's; its test class names the table
(table) and, if it needs to, runs more SQL once the schema exists
(after_schema)."""

import os
import unittest
from contextlib import ExitStack

import clienttest


def setup_django(dbname, **environ):
    """Points the rvdjango project at dbname (and sets environ, read by its
    settings) and sets Django up."""
    os.environ.update(environ, RV_DJANGO_DB=dbname,
                      DJANGO_SETTINGS_MODULE="rvdjango.settings")
    import django

    django.setup()


def make_server(host, port):
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    server = ThreadedWSGIServer((host, port), WSGIRequestHandler, allow_reuse_address=False)
    server.set_app(get_wsgi_application())
    return server


class DjangoServerTestCase(unittest.TestCase):
    table = None

    @classmethod
    def after_schema(cls, cursor):
        """Runs once the schema exists, before the server starts."""

    @classmethod
    def setUpClass(cls):
        from django.db import connection, connections
        from rvdjango.models import SCHEMA_SQL, Article, Note

        cls.dbname = os.environ["RV_DJANGO_DB"]
        cls.stack = ExitStack()
        cls.stack.enter_context(clienttest.throwaway_database(cls.dbname))
        with connection.schema_editor() as editor:
            editor.create_model(Article)
            editor.create_model(Note)
        with connection.cursor() as cur:
            cur.execute(SCHEMA_SQL)
            cls.after_schema(cur)
        cls.stack.callback(connections.close_all)
        cls.server = clienttest.Server(make_server)
        cls.stack.callback(cls.server.close)

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def setUp(self):
        self.sql(f"TRUNCATE {self.table} RESTART IDENTITY; "
                 f"INSERT INTO {self.table} (title, body, row_version) "
                 "VALUES ('Draft', 'first', 0), ('Other', 'second', 0)")

    def sql(self, query, params=None):
        return clienttest.execute(self.dbname, query, params)

    def request(self, method, path, body=None, **headers):
        return self.server.request(method, path, body,
                                   {k.replace("_", "-"): v for k, v in headers.items()})

    def row(self, pk):
        rows = self.sql(f"SELECT title, body, row_version FROM {self.table} WHERE id = %s",
                        (pk,))
        return rows[0] if rows else None

"""What the Flask API tests share: a throwaway database with the schema,
the app under a real HTTP server, the fixtures loaded before each test, and
helpers to read the database and send requests.  A test class names its
database (dbname) and builds its app (make_app)."""

import unittest
from contextlib import ExitStack

from werkzeug.serving import make_server

import clienttest
from models import FIXTURES_SQL, create_schema, db


class FlaskServerTestCase(unittest.TestCase):
    dbname = None

    @classmethod
    def make_app(cls, database_uri):
        """The Flask app under test, for the database at database_uri."""
        raise NotImplementedError

    @classmethod
    def after_schema(cls):
        """Runs once the schema exists, before the server starts."""

    @classmethod
    def setUpClass(cls):
        cls.stack = ExitStack()
        cls.stack.enter_context(clienttest.throwaway_database(cls.dbname))
        cls.app = cls.make_app(f"postgresql+psycopg2:///{cls.dbname}")
        with cls.app.app_context():
            create_schema()
        cls.after_schema()
        cls.stack.callback(cls.dispose_engine)
        cls.server = clienttest.Server(
            lambda host, port: make_server(host, port, cls.app, threaded=True))
        cls.stack.callback(cls.server.close)

    @classmethod
    def dispose_engine(cls):
        with cls.app.app_context():
            db.engine.dispose()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def setUp(self):
        clienttest.execute(self.dbname, FIXTURES_SQL)

    def sql(self, query, params=None):
        return clienttest.execute(self.dbname, query, params)

    def request(self, method, path, body=None, **headers):
        return self.server.request(method, path, body,
                                   {k.replace("_", "-"): v for k, v in headers.items()})

    def doc(self, doc_id):
        rows = self.sql("SELECT title, body, row_version FROM documents WHERE id = %s", (doc_id,))
        return rows[0] if rows else None

    def etag(self, path):
        status, headers, _ = self.request("GET", path)
        self.assertEqual(status, 200)
        return headers["etag"]

#!/usr/bin/python3
"""The Flask API whose handlers are plain ORM code (api_orm_hook.py), with
one request hook registering If-Match through rowversion.expect_match():
GET gives an ETag; a stale If-Match gets 412 on PUT, PATCH and DELETE,
also after a change by raw SQL; If-Match: * and lists per RFC 9110; a
missing one gets 428 on the require_version table; and of two truly
concurrent PUTs (or a PUT and a DELETE) with one tag exactly one wins, and
the loser's body is nowhere in the database.

HOOK=0 runs the same tests against the app without its hook, and with
require_version off (it would refuse every unclaimed write with 428): they
must fail, the concurrent PUTs with both succeeding -- a lost update.
"""

import logging
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.join(here, "..", "lib")]

import api_orm_hook  # noqa: E402
import clienttest  # noqa: E402
from flasktest import FlaskServerTestCase  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.ERROR)

HOOK = os.environ.get("HOOK", "1") != "0"


class FlaskHookTests(FlaskServerTestCase):
    dbname = "rv_client_flask_hook"

    @classmethod
    def make_app(cls, database_uri):
        return api_orm_hook.create_app(database_uri, hook=HOOK)

    @classmethod
    def after_schema(cls):
        if not HOOK:
            clienttest.execute(cls.dbname, "SELECT rowversion.enable('documents')")

    def test_get_gives_the_etag(self):
        status, headers, body = self.request("GET", "/documents/1")
        self.assertEqual((status, body["title"]), (200, "Minutes"))
        self.assertEqual(headers["etag"], '"%d"' % self.doc(1)[2])

    def test_put_with_the_current_etag(self):
        etag = self.etag("/documents/1")
        status, headers, body = self.request("PUT", "/documents/1",
                                             {"title": "Minutes", "body": "second"}, If_Match=etag)
        self.assertEqual((status, body["body"]), (200, "second"))
        self.assertEqual(headers["etag"], '"%d"' % self.doc(1)[2])
        self.assertNotEqual(headers["etag"], etag)

    def test_stale_put_patch_delete_are_412(self):
        etag = self.etag("/documents/1")
        self.assertEqual(self.request("PATCH", "/documents/1", {"body": "winner"},
                                      If_Match=etag)[0], 200)
        self.assertEqual(self.request("PUT", "/documents/1", {"title": "t", "body": "stale-put"},
                                      If_Match=etag)[0], 412)
        self.assertEqual(self.request("PATCH", "/documents/1", {"body": "stale-patch"},
                                      If_Match=etag)[0], 412)
        self.assertEqual(self.request("DELETE", "/documents/1", If_Match=etag)[0], 412)
        self.assertEqual(self.doc(1)[:2], ("Minutes", "winner"))
        self.assertEqual(clienttest.rows_containing(self.dbname, "stale-p"), 0)

    def test_stale_after_raw_sql(self):
        etag = self.etag("/documents/2")
        self.sql("UPDATE documents SET body = 'raw sql', row_version = row_version WHERE id = 2")
        self.assertEqual(self.request("PUT", "/documents/2", {"title": "t", "body": "lost"},
                                      If_Match=etag)[0], 412)
        self.assertEqual(self.doc(2)[1], "raw sql")

    def test_star_and_lists(self):
        etag = self.etag("/documents/1")
        self.assertEqual(self.request("PATCH", "/documents/1", {"body": "weak"},
                                      If_Match="W/" + etag)[0], 412)
        self.assertEqual(self.request("PATCH", "/documents/1", {"body": "listed"},
                                      If_Match='"1", ' + etag)[0], 200)
        self.assertEqual(self.request("PATCH", "/documents/1", {"body": "star"},
                                      If_Match="*")[0], 200)
        self.assertEqual(self.doc(1)[1], "star")

    def test_missing_if_match_is_428(self):
        # documents requires a version: an ORM update with no precondition
        # registered claims none, and the database refuses it (RV002)
        self.assertEqual(self.request("PATCH", "/documents/1", {"body": "blind"})[0], 428)
        self.assertEqual(self.doc(1)[1], "first draft")

    def test_delete_with_the_current_etag(self):
        etag = self.etag("/documents/2")
        self.assertEqual(self.request("DELETE", "/documents/2", If_Match=etag)[0], 204)
        self.assertIsNone(self.doc(2))

    def test_concurrent_puts_with_one_etag(self):
        for round_ in range(3):
            etag = self.etag("/documents/2")
            bodies = [{"title": "t", "body": f"hook-{round_}-{who}"} for who in ("a", "b")]
            results = clienttest.concurrently(
                self.dbname, "SELECT 1 FROM documents WHERE id = 2 FOR UPDATE", None,
                [lambda b=b: self.request("PUT", "/documents/2", b, If_Match=etag)
                 for b in bodies])
            statuses = [r[0] for r in results]
            self.assertEqual(sorted(statuses), [200, 412], f"round {round_}")
            winner = statuses.index(200)
            self.assertEqual(self.doc(2)[1], bodies[winner]["body"])
            self.assertEqual(results[winner][1]["etag"], '"%d"' % self.doc(2)[2])
            self.assertEqual(clienttest.rows_containing(
                self.dbname, bodies[1 - winner]["body"]), 0)

    def test_concurrent_put_and_delete_with_one_etag(self):
        """Either may win; the other is 412 (a PUT that finds its row deleted
        under it too), and what the loser wrote is nowhere."""
        for round_ in range(4):
            self.setUp()
            etag = self.etag("/documents/1")
            body = f"put-vs-delete-{round_}"
            results = clienttest.concurrently(
                self.dbname, "SELECT 1 FROM documents WHERE id = 1 FOR UPDATE", None,
                [lambda: self.request("PUT", "/documents/1", {"title": "t", "body": body},
                                      If_Match=etag),
                 lambda: self.request("DELETE", "/documents/1", If_Match=etag)])
            statuses = [r[0] for r in results]
            self.assertIn(statuses, ([200, 412], [412, 204]), f"round {round_}")
            if statuses[0] == 200:
                self.assertEqual(self.doc(1)[1], body)
            else:
                self.assertIsNone(self.doc(1))
                self.assertEqual(clienttest.rows_containing(self.dbname, body), 0)

if __name__ == "__main__":
    unittest.main(verbosity=2 if os.environ.get("VERBOSE") else 1)

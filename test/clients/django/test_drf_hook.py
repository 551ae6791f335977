#!/usr/bin/python3
"""Django + DRF with a ModelViewSet left as DRF generates it (hook_api.py)
and one middleware (middleware.py) that registers the request's If-Match
through rowversion.expect_match() under ATOMIC_REQUESTS: GET gives an
ETag; a stale If-Match gets a JSON 412 on PUT, PATCH and DELETE, also after
a change by raw SQL; a missing one gets 428 on the require_version table;
and of two truly concurrent PUTs with one tag exactly one wins, and the
loser's body is nowhere in the database.

HOOK=0 runs the same tests with the middleware registering nothing, and
with require_version off (it would refuse every unclaimed write with 428):
they must fail, the concurrent PUTs with both succeeding -- a lost update.
"""

import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.join(here, "..", "lib")]
DBNAME = "rv_client_django_hook"
HOOK = os.environ.get("HOOK", "1")

from djangotest import DjangoServerTestCase, setup_django  # noqa: E402

setup_django(DBNAME, RV_DJANGO_HOOK=HOOK)

import clienttest  # noqa: E402

PREFIX = "/hook/notes/"


class DrfHookTests(DjangoServerTestCase):
    table = "notes"

    @classmethod
    def after_schema(cls, cursor):
        if HOOK == "0":
            cursor.execute("SELECT rowversion.enable('notes')")

    def etag(self, pk):
        status, headers, _ = self.request("GET", f"{PREFIX}{pk}/")
        self.assertEqual(status, 200)
        return headers["etag"]

    def test_get_gives_the_etag(self):
        status, headers, note = self.request("GET", f"{PREFIX}1/")
        self.assertEqual((status, note["title"]), (200, "Draft"))
        self.assertEqual(headers["etag"], '"%d"' % self.row(1)[2])

    def test_put_with_the_current_etag(self):
        etag = self.etag(1)
        status, headers, note = self.request("PUT", f"{PREFIX}1/",
                                             {"title": "Draft", "body": "edited"}, If_Match=etag)
        self.assertEqual((status, note["body"]), (200, "edited"))
        self.assertEqual(headers["etag"], '"%d"' % self.row(1)[2])
        self.assertNotEqual(headers["etag"], etag)

    def test_stale_put_patch_delete_are_412(self):
        etag = self.etag(1)
        self.assertEqual(self.request("PATCH", f"{PREFIX}1/", {"body": "winner"},
                                      If_Match=etag)[0], 200)
        status, headers, answer = self.request("PUT", f"{PREFIX}1/",
                                               {"title": "t", "body": "stale-put"}, If_Match=etag)
        self.assertEqual(status, 412)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertEqual(answer["code"], "row_version_conflict")
        self.assertIn("Expected If-Match: " + etag, answer["database_detail"])
        self.assertEqual(self.request("PATCH", f"{PREFIX}1/", {"body": "stale-patch"},
                                      If_Match=etag)[0], 412)
        self.assertEqual(self.request("DELETE", f"{PREFIX}1/", If_Match=etag)[0], 412)
        self.assertEqual(self.row(1)[:2], ("Draft", "winner"))
        self.assertEqual(clienttest.rows_containing(DBNAME, "stale-p"), 0)

    def test_stale_after_raw_sql(self):
        etag = self.etag(2)
        self.sql("UPDATE notes SET body = 'raw sql', row_version = row_version WHERE id = 2")
        self.assertEqual(self.request("PATCH", f"{PREFIX}2/", {"body": "lost"},
                                      If_Match=etag)[0], 412)
        self.assertEqual(self.row(2)[1], "raw sql")

    def test_missing_if_match_is_428(self):
        status, _, answer = self.request("PATCH", f"{PREFIX}1/", {"body": "blind"})
        self.assertEqual((status, answer["code"]), (428, "row_version_required"))
        self.assertEqual(self.row(1)[1], "first")

    def test_delete_with_the_current_etag(self):
        etag = self.etag(2)
        self.assertEqual(self.request("DELETE", f"{PREFIX}2/", If_Match=etag)[0], 204)
        self.assertIsNone(self.row(2))

    def test_concurrent_puts_one_wins(self):
        for round_ in range(3):
            etag = self.etag(1)
            bodies = [f"hook-{round_}-{who}" for who in ("a", "b")]
            results = clienttest.concurrently(
                DBNAME, "SELECT 1 FROM notes WHERE id = 1 FOR UPDATE", None,
                [lambda b=b: self.request("PUT", f"{PREFIX}1/", {"title": "t", "body": b},
                                          If_Match=etag)
                 for b in bodies])
            statuses = [r[0] for r in results]
            self.assertEqual(sorted(statuses), [200, 412], f"round {round_}")
            winner = statuses.index(200)
            self.assertEqual(self.row(1)[1], bodies[winner])
            self.assertEqual(results[winner][1]["etag"], '"%d"' % self.row(1)[2])
            self.assertEqual(clienttest.rows_containing(DBNAME, bodies[1 - winner]), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2 if os.environ.get("VERBOSE") else 1)

#!/usr/bin/python3
"""The Flask + Flask-SQLAlchemy REST API against a real server and database:
ETags from rowversion.etag, If-Match evaluated in the write's statement,
412/428/304, If-Match: * and lists per RFC 9110, two truly concurrent PUTs
with one tag (one wins, the other's body is nowhere), and the orders/lines
aggregate whose ETag covers its lines (propagate).

The server, the fixtures and the request helpers are flasktest's.
"""

import logging
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.join(here, "..", "lib")]

import api_in_statement  # noqa: E402
import clienttest  # noqa: E402
from flasktest import FlaskServerTestCase  # noqa: E402


logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request


class FlaskApiTests(FlaskServerTestCase):
    dbname = "rv_client_flask"

    @classmethod
    def make_app(cls, database_uri):
        return api_in_statement.create_app(database_uri)

    # helpers

    def version(self, table, where):
        return self.sql(f"SELECT row_version FROM {table} WHERE {where}")[0][0]

    # reads

    def test_get_returns_the_row_versions_etag(self):
        status, headers, body = self.request("GET", "/documents/1")
        self.assertEqual(status, 200)
        self.assertEqual(body, {"id": 1, "title": "Minutes", "body": "first draft"})
        self.assertEqual(headers["etag"], '"%d"' % self.version("documents", "id = 1"))
        self.assertEqual(self.request("GET", "/documents/99")[0], 404)

    def test_post_answers_the_new_rows_etag(self):
        status, headers, body = self.request("POST", "/documents", {"title": "T", "body": "B"})
        self.assertEqual(status, 201)
        self.assertEqual(headers["location"], "/documents/%d" % body["id"])
        self.assertEqual(headers["etag"], '"%d"' % self.doc(body["id"])[2])
        self.assertEqual(self.request("POST", "/documents", {"title": "T"})[0], 400)
        self.assertEqual(self.request("PUT", "/documents/1", {"title": "T", "bogus": 1},
                                      If_Match="*")[0], 400)

    def test_conditional_get(self):
        etag = self.etag("/documents/1")
        status, headers, body = self.request("GET", "/documents/1", If_None_Match=etag)
        self.assertEqual((status, headers["etag"], body), (304, etag, None))
        # weak comparison: W/ of the current tag is a match too; a list
        self.assertEqual(self.request("GET", "/documents/1", If_None_Match="W/" + etag)[0], 304)
        self.assertEqual(self.request("GET", "/documents/1",
                                      If_None_Match='"1", ' + etag)[0], 304)
        # another tag, or the current one after a change: the representation
        self.assertEqual(self.request("GET", "/documents/1", If_None_Match='"1"')[0], 200)
        self.sql("UPDATE documents SET title = 'changed', row_version = row_version WHERE id = 1")
        status, headers, body = self.request("GET", "/documents/1", If_None_Match=etag)
        self.assertEqual((status, body["title"]), (200, "changed"))
        self.assertNotEqual(headers["etag"], etag)

    # PUT

    def test_put_with_current_etag(self):
        etag = self.etag("/documents/1")
        status, headers, body = self.request(
            "PUT", "/documents/1", {"title": "Minutes", "body": "second draft"}, If_Match=etag)
        self.assertEqual(status, 200)
        title, text, version = self.doc(1)
        self.assertEqual(text, "second draft")
        self.assertEqual(headers["etag"], '"%d"' % version)
        self.assertNotEqual(headers["etag"], etag)

    def test_put_with_stale_etag_is_412(self):
        etag = self.etag("/documents/1")
        self.assertEqual(self.request("PUT", "/documents/1", {"title": "A", "body": "winner"},
                                      If_Match=etag)[0], 200)
        status, _, _ = self.request("PUT", "/documents/1", {"title": "B", "body": "stale-loser"},
                                    If_Match=etag)
        self.assertEqual(status, 412)
        self.assertEqual(self.doc(1)[:2], ("A", "winner"))
        self.assertEqual(clienttest.rows_containing(self.dbname, "stale-loser"), 0)

    def test_stale_after_a_change_by_another_client(self):
        etag = self.etag("/documents/1")
        self.sql("UPDATE documents SET body = 'raw sql', row_version = row_version WHERE id = 1")
        status, _, _ = self.request("PUT", "/documents/1", {"title": "x", "body": "y"},
                                    If_Match=etag)
        self.assertEqual(status, 412)
        self.assertEqual(self.doc(1)[1], "raw sql")

    def test_put_without_if_match_is_428(self):
        before = self.doc(1)
        status, _, body = self.request("PUT", "/documents/1", {"title": "x", "body": "blind"})
        self.assertEqual(status, 428)
        self.assertIn("row version required", body["error"])
        self.assertEqual(self.doc(1), before)
        # ...but a new resource needs no precondition
        status, headers, _ = self.request("PUT", "/documents/7", {"title": "new", "body": "n"})
        self.assertEqual(status, 201)
        self.assertEqual(headers["etag"], '"%d"' % self.doc(7)[2])

    def test_if_match_star(self):
        # "*": true for an existing row -- a write, and a new version
        old = self.doc(1)[2]
        status, headers, _ = self.request("PUT", "/documents/1", {"title": "t", "body": "star"},
                                          If_Match="*")
        self.assertEqual(status, 200)
        self.assertEqual(self.doc(1)[1], "star")
        self.assertGreater(self.doc(1)[2], old)
        # false when there is no current representation: nothing is created
        status, _, _ = self.request("PUT", "/documents/8", {"title": "t", "body": "star"},
                                    If_Match="*")
        self.assertEqual(status, 412)
        self.assertIsNone(self.doc(8))

    def test_if_match_lists_compare_strongly(self):
        etag = self.etag("/documents/1")
        status, _, _ = self.request("PUT", "/documents/1", {"title": "t", "body": "weak"},
                                    If_Match="W/" + etag)
        self.assertEqual(status, 412)
        status, _, _ = self.request("PUT", "/documents/1", {"title": "t", "body": "listed"},
                                    If_Match='"1", ' + etag + ' ,"2"')
        self.assertEqual(status, 200)
        self.assertEqual(self.doc(1)[1], "listed")
        status, _, _ = self.request("PUT", "/documents/1", {"title": "t", "body": "garbage"},
                                    If_Match=etag[1:])
        self.assertEqual(status, 412)

    # PATCH and DELETE

    def test_patch(self):
        etag = self.etag("/documents/1")
        self.assertEqual(self.request("PATCH", "/documents/1", {"body": "x"})[0], 428)
        status, headers, body = self.request("PATCH", "/documents/1", {"body": "patched"},
                                             If_Match=etag)
        self.assertEqual((status, body["title"], body["body"]), (200, "Minutes", "patched"))
        self.assertEqual(headers["etag"], '"%d"' % self.doc(1)[2])
        self.assertEqual(self.request("PATCH", "/documents/1", {"title": "stale"},
                                      If_Match=etag)[0], 412)
        self.assertEqual(self.doc(1)[:2], ("Minutes", "patched"))
        self.assertEqual(self.request("PATCH", "/documents/99", {"title": "x"},
                                      If_Match=etag)[0], 404)

    def test_delete(self):
        etag = self.etag("/documents/1")
        self.assertEqual(self.request("DELETE", "/documents/1")[0], 428)
        self.sql("UPDATE documents SET title = 'moved on', row_version = row_version WHERE id = 1")
        self.assertEqual(self.request("DELETE", "/documents/1", If_Match=etag)[0], 412)
        self.assertIsNotNone(self.doc(1))
        etag = self.etag("/documents/1")
        self.assertEqual(self.request("DELETE", "/documents/1", If_Match=etag)[0], 204)
        self.assertIsNone(self.doc(1))
        self.assertEqual(self.request("DELETE", "/documents/1", If_Match=etag)[0], 404)

    # concurrency

    def test_concurrent_puts_with_one_etag(self):
        """Both PUTs carry the same tag and wait behind a row lock until both
        are in the database; then exactly one may win."""
        for round_ in range(3):
            etag = self.etag("/documents/2")
            bodies = [{"title": "t", "body": f"body-{round_}-{who}"} for who in ("a", "b")]
            results = clienttest.concurrently(
                self.dbname, "SELECT 1 FROM documents WHERE id = 2 FOR UPDATE", None,
                [lambda b=b: self.request("PUT", "/documents/2", b, If_Match=etag)
                 for b in bodies])
            statuses = [r[0] for r in results]
            self.assertEqual(sorted(statuses), [200, 412], f"round {round_}")
            winner = statuses.index(200)
            _, text, version = self.doc(2)
            self.assertEqual(text, bodies[winner]["body"])
            self.assertEqual(results[winner][1]["etag"], '"%d"' % version)
            self.assertEqual(clienttest.rows_containing(
                self.dbname, bodies[1 - winner]["body"]), 0)

    # the orders/lines aggregate

    def test_order_etag_covers_its_lines(self):
        e1 = self.etag("/orders/1")
        status, _, order = self.request("GET", "/orders/1")
        self.assertEqual([li["qty"] for li in order["lines"]], [10, 2])
        # a line changed by another client (plain SQL) changes the order's ETag
        self.sql("UPDATE order_lines SET qty = 11 WHERE order_id = 1 AND line = 1")
        e2 = self.etag("/orders/1")
        self.assertNotEqual(e2, e1)
        self.assertEqual(self.request("GET", "/orders/1", If_None_Match=e1)[0], 200)
        # a line PUT carrying the order's stale ETag is refused, and changes nothing
        status, _, _ = self.request("PUT", "/orders/1/lines/2", {"product": "paper", "qty": 99},
                                    If_Match=e1)
        self.assertEqual(status, 412)
        self.assertEqual(self.sql("SELECT qty FROM order_lines WHERE order_id = 1 "
                                  "ORDER BY line"), [(11,), (2,)])
        self.assertEqual(self.etag("/orders/1"), e2)
        # with the current one it is done, and answers the order's new ETag
        status, headers, line = self.request("PUT", "/orders/1/lines/2",
                                             {"product": "paper", "qty": 5}, If_Match=e2)
        self.assertEqual((status, line["qty"]), (200, 5))
        self.assertNotEqual(headers["etag"], e2)
        self.assertEqual(headers["etag"], self.etag("/orders/1"))
        # other orders are not touched; a missing If-Match is 428
        self.assertEqual(self.request("PUT", "/orders/2/lines/1",
                                      {"product": "ink", "qty": 3})[0], 428)

    def test_concurrent_line_puts_under_one_order_etag(self):
        """Two clients change different lines of one order, both holding the
        same order ETag: the aggregate's precondition lets one through."""
        etag = self.etag("/orders/1")
        results = clienttest.concurrently(
            self.dbname, "SELECT 1 FROM orders WHERE id = 1 FOR UPDATE", None,
            [lambda n=n: self.request("PUT", f"/orders/1/lines/{n}",
                                      {"product": f"line-{n}-edit", "qty": 7}, If_Match=etag)
             for n in (1, 2)])
        statuses = [r[0] for r in results]
        self.assertEqual(sorted(statuses), [200, 412])
        loser = statuses.index(412) + 1
        self.assertEqual(clienttest.rows_containing(self.dbname, f"line-{loser}-edit"), 0)
        self.assertEqual(results[statuses.index(200)][1]["etag"], self.etag("/orders/1"))


if __name__ == "__main__":
    unittest.main(verbosity=2 if os.environ.get("VERBOSE") else 1)

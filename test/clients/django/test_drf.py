#!/usr/bin/python3
"""Django + Django REST framework against a real server and database: the
serializer round-trips row_version, save() writes it back as a claim, a
stale PUT is a JSON 409 mapped from SQLSTATE RV001 (not a 500), and of two
truly concurrent PUTs of one version exactly one wins.

The tests take the API's URL prefix; the server, the fixtures and the
request helpers are djangotest's.
"""

import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.join(here, "..", "lib")]
DBNAME = "rv_client_django"

from djangotest import DjangoServerTestCase, setup_django  # noqa: E402

setup_django(DBNAME)

import clienttest  # noqa: E402


class DrfClaimTests(DjangoServerTestCase):
    prefix = "/claim/articles/"
    table = "articles"

    def read(self, pk):
        status, _, article = self.request("GET", f"{self.prefix}{pk}/")
        self.assertEqual(status, 200)
        return article

    def test_serializer_carries_the_row_version(self):
        article = self.read(1)
        self.assertEqual(article, {"id": 1, "title": "Draft", "body": "first",
                                   "row_version": self.row(1)[2]})
        status, _, created = self.request("POST", self.prefix, {"title": "New", "body": "b"})
        self.assertEqual(status, 201)
        self.assertEqual(created["row_version"], self.row(created["id"])[2])
        self.assertGreater(created["row_version"], 0)

    def test_put_round_trips_the_version(self):
        article = self.read(1)
        article["body"] = "edited"
        status, _, saved = self.request("PUT", f"{self.prefix}1/", article)
        self.assertEqual(status, 200)
        self.assertEqual(self.row(1)[1:], ("edited", saved["row_version"]))
        self.assertGreater(saved["row_version"], article["row_version"])
        # the answer is the next form: it saves again
        saved["title"] = "Final"
        self.assertEqual(self.request("PUT", f"{self.prefix}1/", saved)[0], 200)

    def test_stale_put_is_a_json_409(self):
        article = self.read(1)
        first = dict(article, body="winner")
        self.assertEqual(self.request("PUT", f"{self.prefix}1/", first)[0], 200)
        status, headers, answer = self.request("PUT", f"{self.prefix}1/",
                                               dict(article, body="stale-loser"))
        self.assertEqual(status, 409)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertEqual(answer["code"], "row_version_conflict")
        self.assertIn("changed this record", answer["detail"])
        self.assertIn("row version conflict", answer["database"])
        self.assertIn("Expected version %d" % article["row_version"], answer["database_detail"])
        self.assertEqual(self.row(1)[1], "winner")
        self.assertEqual(clienttest.rows_containing(DBNAME, "stale-loser"), 0)

    def test_stale_after_raw_sql_and_patch(self):
        article = self.read(2)
        self.sql("UPDATE articles SET title = 'by sql', row_version = row_version WHERE id = 2")
        status, _, answer = self.request("PATCH", f"{self.prefix}2/",
                                         {"body": "x", "row_version": article["row_version"]})
        self.assertEqual((status, answer["code"]), (409, "row_version_conflict"))
        status, _, answer = self.request("PATCH", f"{self.prefix}2/",
                                         {"body": "y", "row_version": self.row(2)[2]})
        self.assertEqual((status, answer["body"], answer["title"]), (200, "y", "by sql"))

    def test_update_without_version_is_400(self):
        status, _, answer = self.request("PUT", f"{self.prefix}1/", {"title": "t", "body": "b"})
        self.assertEqual(status, 400)
        self.assertIn("row_version", answer)
        self.assertEqual(self.row(1)[:2], ("Draft", "first"))

    def test_concurrent_puts_one_wins(self):
        for round_ in range(3):
            article = self.read(1)
            bodies = [f"body-{round_}-{who}" for who in ("a", "b")]
            results = clienttest.concurrently(
                DBNAME, "SELECT 1 FROM articles WHERE id = 1 FOR UPDATE", None,
                [lambda b=b: self.request("PUT", f"{self.prefix}1/", dict(article, body=b))
                 for b in bodies])
            statuses = [r[0] for r in results]
            self.assertEqual(sorted(statuses), [200, 409], f"round {round_}")
            winner = statuses.index(200)
            self.assertEqual(self.row(1)[1:], (bodies[winner], results[winner][2]["row_version"]))
            self.assertEqual(results[1 - winner][2]["code"], "row_version_conflict")
            self.assertEqual(clienttest.rows_containing(DBNAME, bodies[1 - winner]), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2 if os.environ.get("VERBOSE") else 1)

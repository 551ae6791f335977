#!/usr/bin/python3
"""The Flask API's bulk PATCH (api_bulk.py, one rowversion.conditional_write
call per request) against a real server and database: a batch whose ETags
all hold is written, 200, with each row's new ETag; one stale and one
missing row among current ones is 412 naming both, the stale one with its
current representation, and nothing is written; malformed batches are 400
(428 without an ETag) and write nothing; atomic=false writes what holds,
207; and two truly concurrent batches over the same rows, in opposite
orders, with the same ETags: one is written whole, the other is 412 with
the winner's rows, no deadlock, and nothing of the loser is anywhere.

BULK=naive runs the same tests against the endpoint done as
read-compare-then-update in Python, with require_version off (its updates
claim no version): the concurrent batches must then both succeed -- a lost
update -- and the test must fail.
"""

import logging
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.join(here, "..", "lib")]

import api_bulk  # noqa: E402
import clienttest  # noqa: E402
from flasktest import FlaskServerTestCase  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.ERROR)

NAIVE = os.environ.get("BULK") == "naive"

MORE_DOCUMENTS = """
INSERT INTO documents (id, title, body) VALUES (3, 'Budget', 'numbers'),
                                               (4, 'Roadmap', 'plans');
"""


class FlaskBulkTests(FlaskServerTestCase):
    dbname = "rv_client_flask_bulk"

    @classmethod
    def make_app(cls, database_uri):
        return api_bulk.create_app(database_uri, naive=NAIVE)

    @classmethod
    def after_schema(cls):
        if NAIVE:
            clienttest.execute(cls.dbname, "SELECT rowversion.enable('documents')")

    def setUp(self):
        super().setUp()
        self.sql(MORE_DOCUMENTS)

    # helpers

    def documents(self):
        """Every document as (id, title, body, row_version), by id."""
        return self.sql("SELECT id, title, body, row_version FROM documents ORDER BY id")

    def etags(self, *ids):
        return {i: self.etag(f"/documents/{i}") for i in ids}

    def patch(self, entries, query=""):
        return self.request("PATCH", "/documents" + query, entries)

    def assert_unchanged(self, before, status, expected_status, marker=None):
        self.assertEqual(status, expected_status)
        self.assertEqual(self.documents(), before)
        if marker is not None:
            self.assertEqual(clienttest.rows_containing(self.dbname, marker), 0)

    # all current

    def test_a_current_batch_is_written(self):
        tags = self.etags(1, 2, 3)
        status, _, body = self.patch([
            {"id": 2, "etag": tags[2], "changes": {"body": "items, revised"}},
            {"id": 3, "etag": tags[3], "delete": True},
            {"id": 1, "etag": tags[1], "changes": {"title": "Minutes (final)",
                                                   "body": "second draft"}}])
        self.assertEqual(status, 200)
        rows = {r[0]: r[1:] for r in self.documents()}
        self.assertEqual([r["id"] for r in body["results"]], [2, 3, 1])  # items' order
        self.assertEqual(body["results"][1], {"id": 3, "status": "deleted"})
        for result in (body["results"][0], body["results"][2]):
            doc_id = result["id"]
            self.assertEqual(result["status"], "updated")
            self.assertEqual(result["etag"], '"%d"' % rows[doc_id][2])
            self.assertNotEqual(result["etag"], tags[doc_id])     # the version moved
            self.assertEqual(self.etag(f"/documents/{doc_id}"), result["etag"])
        self.assertEqual(rows[1][:2], ("Minutes (final)", "second draft"))
        self.assertEqual(rows[2][:2], ("Agenda", "items, revised"))
        self.assertNotIn(3, rows)
        # the new ETags are the ones to send next
        status, _, body = self.patch([{"id": 1, "etag": body["results"][2]["etag"],
                                       "changes": {"body": "third draft"}}])
        self.assertEqual((status, body["results"][0]["status"]), (200, "updated"))

    # stale and missing: 412, nothing written

    def test_stale_and_missing_rows_are_412_and_nothing_is_written(self):
        tags = self.etags(1, 2, 3, 4)
        self.sql("UPDATE documents SET body = 'changed by raw sql', row_version = row_version "
                 "WHERE id = 2")
        before = self.documents()
        status, _, body = self.patch([
            {"id": 1, "etag": tags[1], "changes": {"body": "bulk-412"}},
            {"id": 2, "etag": tags[2], "changes": {"body": "bulk-412"}},
            {"id": 99, "etag": tags[1], "changes": {"body": "bulk-412"}},
            {"id": 3, "etag": tags[3], "delete": True},
            {"id": 4, "etag": tags[4], "changes": {"title": "bulk-412"}}])
        self.assert_unchanged(before, status, 412, marker="bulk-412")
        self.assertEqual([(r["id"], r["status"]) for r in body["results"]],
                         [(1, "not_written"), (2, "conflict"), (99, "not_found"),
                          (3, "not_written"), (4, "not_written")])
        conflict = body["results"][1]
        self.assertEqual(conflict["current"],
                         {"id": 2, "title": "Agenda", "body": "changed by raw sql"})
        self.assertEqual(conflict["etag"], self.etag("/documents/2"))
        self.assertNotEqual(conflict["etag"], tags[2])
        # the rows were only locked: the next batch with the current tag passes
        status, _, _ = self.patch([{"id": 2, "etag": conflict["etag"],
                                    "changes": {"body": "after the conflict"}}])
        self.assertEqual(status, 200)
        self.assertEqual(self.doc(2)[1], "after the conflict")

    # malformed: 400 (428 without a tag), nothing written

    def test_malformed_batches_are_400_and_write_nothing(self):
        tags = self.etags(1, 2)
        good = {"id": 1, "etag": tags[1], "changes": {"body": "bulk-400"}}
        before = self.documents()
        for entries in ({"id": 1}, [], [good, "not an object"],
                        [good, {"id": 2, "etag": tags[2], "chnages": {"body": "x"}}],
                        [good, {"id": 2, "etag": tags[2], "changes": {"row_version": 1}}],
                        [good, {"id": 2, "etag": tags[2], "changes": {}}],
                        [good, {"etag": tags[2], "changes": {"body": "x"}}],
                        [good, {"id": 2, "etag": "W/" + tags[2], "changes": {"body": "x"}}],
                        [good, {"id": 2, "etag": tags[2][1:-1], "changes": {"body": "x"}}]):
            status, _, _ = self.patch(entries)
            self.assert_unchanged(before, status, 400, marker="bulk-400")
        status, _, _ = self.patch([good, {"id": 2, "changes": {"body": "x"}}])
        self.assert_unchanged(before, status, 428, marker="bulk-400")
        status, _, _ = self.patch([good], "?atomic=perhaps")
        self.assert_unchanged(before, status, 400, marker="bulk-400")

    @unittest.skipIf(NAIVE, "the database's checks")
    def test_what_the_database_refuses_is_400(self):
        """Refused by conditional_write before any row is touched; the
        answer carries the database's message, which names the item."""
        tags = self.etags(1, 2)
        good = {"id": 1, "etag": tags[1], "changes": {"body": "bulk-400"}}
        before = self.documents()
        for entries, words in (
                # 21000: two items for one row ("1" is the integer key 1)
                ([good, {"id": "1", "etag": tags[1], "delete": True}], "same key"),
                # 22023: both changes and delete; a delete that is not true
                ([good, {"id": 2, "etag": tags[2], "changes": {"body": "x"}, "delete": True}],
                 "item 2"),
                ([good, {"id": 2, "etag": tags[2], "delete": False}], "item 2"),
                # 22P02: not an integer key
                ([good, {"id": "two", "etag": tags[2], "changes": {"body": "x"}}],
                 "invalid input syntax"),
                ([good, {"id": 2.5, "etag": tags[2], "changes": {"body": "x"}}],
                 "invalid input syntax")):
            status, _, body = self.patch(entries)
            self.assert_unchanged(before, status, 400, marker="bulk-400")
            self.assertIn(words, body["error"])
        # 23502: a NULL for a NOT NULL column, when the items hold
        status, _, body = self.patch([good, {"id": 2, "etag": tags[2],
                                             "changes": {"title": None}}])
        self.assert_unchanged(before, status, 400, marker="bulk-400")
        self.assertIn("conditional_write item 2", body["context"])

    # atomic=false

    @unittest.skipIf(NAIVE, "the control covers atomic mode")
    def test_not_atomic_writes_what_holds_207(self):
        tags = self.etags(1, 2, 3)
        self.sql("UPDATE documents SET body = 'moved on', row_version = row_version WHERE id = 2")
        status, _, body = self.patch([
            {"id": 1, "etag": tags[1], "changes": {"body": "partly"}},
            {"id": 2, "etag": tags[2], "changes": {"body": "stale"}},
            {"id": 98, "etag": tags[3], "delete": True},
            {"id": 3, "etag": tags[3], "delete": True}], "?atomic=false")
        self.assertEqual(status, 207)
        self.assertEqual([(r["id"], r["status"]) for r in body["results"]],
                         [(1, "updated"), (2, "conflict"), (98, "not_found"), (3, "deleted")])
        self.assertEqual(body["results"][0]["etag"], self.etag("/documents/1"))
        self.assertEqual(body["results"][1]["current"]["body"], "moved on")
        self.assertEqual([r[:3] for r in self.documents()],
                         [(1, "Minutes", "partly"), (2, "Agenda", "moved on"),
                          (4, "Roadmap", "plans")])
        tags = self.etags(1, 2)
        status, _, body = self.patch([{"id": 2, "etag": tags[2], "changes": {"body": "all"}},
                                      {"id": 1, "etag": tags[1], "delete": True}],
                                     "?atomic=false")
        self.assertEqual((status, [r["status"] for r in body["results"]]),
                         (200, ["updated", "deleted"]))

    # concurrency

    def test_concurrent_overlapping_batches(self):
        """Two batches share rows 2 and 3, name them in opposite orders and
        carry the same ETags; both wait behind a lock on a shared row until
        both are in the database.  Exactly one is written, whole; the other
        is 412 with the winner's rows as they are now, and no deadlock."""
        for round_ in range(4):
            self.setUp()
            tags = self.etags(1, 2, 3, 4)
            batches = {
                "a": [1, 2, 3],
                "b": [4, 3, 2],
            }
            bodies = {who: [{"id": i, "etag": tags[i],
                             "changes": {"body": f"batch-{round_}-{who}-{i}"}} for i in ids]
                      for who, ids in batches.items()}
            locked = 2 + round_ % 2     # rows 2 and 3 in turn
            results = clienttest.concurrently(
                self.dbname, "SELECT 1 FROM documents WHERE id = %s FOR UPDATE", (locked,),
                [lambda b=b: self.patch(b) for b in bodies.values()])
            statuses = [r[0] for r in results]
            self.assertEqual(sorted(statuses), [200, 412], f"round {round_}")
            winner, loser = ("a", "b") if statuses[0] == 200 else ("b", "a")
            won, lost = results[statuses.index(200)][2], results[statuses.index(412)][2]
            rows = {r[0]: r[1:] for r in self.documents()}
            # the winner's batch is in the database, whole, at the ETags it was told
            for result in won["results"]:
                doc_id = result["id"]
                self.assertEqual(rows[doc_id][1], f"batch-{round_}-{winner}-{doc_id}")
                self.assertEqual(result["etag"], '"%d"' % rows[doc_id][2])
            # the loser is told the shared rows as the winner left them
            for result in lost["results"]:
                doc_id = result["id"]
                if doc_id in batches[winner]:
                    self.assertEqual(result["status"], "conflict")
                    self.assertEqual(result["current"]["body"],
                                     f"batch-{round_}-{winner}-{doc_id}")
                    self.assertEqual(result["etag"], '"%d"' % rows[doc_id][2])
                else:
                    self.assertEqual(result["status"], "not_written")
            for doc_id in batches[loser]:
                self.assertEqual(clienttest.rows_containing(
                    self.dbname, f"batch-{round_}-{loser}-{doc_id}"), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2 if os.environ.get("VERBOSE") else 1)

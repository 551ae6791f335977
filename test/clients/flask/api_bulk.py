"""The Flask API's bulk PATCH: many documents changed or deleted in one
request, each under the ETag the client read, with a result per row.

    PATCH /documents[?atomic=false]
    [{"id": 1, "etag": "\\"601\\"", "changes": {"title": "..."}},
     {"id": 2, "etag": "\\"598\\"", "delete": true}]

One call of rowversion.conditional_write() in the request's transaction
does the writes: the database locks the rows in key order and compares
their versions under the locks, so two overlapping batches wait for each
other (in whatever order their items come) and the second finds the
first's versions.  Nothing is compared in Python.

    200  every item written: {"results": [{"id", "status": "updated" with
         the new "etag" | "deleted"}, ...]} in the items' order
    412  (atomic, the default) some item failed and nothing was written:
         every item's result, "conflict" with the row's current "etag" and
         representation ("current"), "not_found" for a missing row (its ETag
         cannot match: RFC 9110 13.1.1), "not_written" for the items that
         held
    207  (atomic=false) the items that held were written, the others were
         not; the same results
    400  not a non-empty array of {"id", "etag", "changes" | "delete"},
         changes naming other fields than title and body, an ETag that
         rowversion.etag() did not make, and what the database refuses as
         malformed: an item's shape or value (22023, 22P02, 23502), two
         items for one row (21000); nothing written
    428  an item without an ETag, as a write without If-Match

BULK=naive (create_app(..., naive=True)) builds the same endpoint the way
it goes wrong: read the versions, compare them in Python, then update --
the negative control of the concurrent-batches test, which loses an update.
"""

import re

from flask import abort, jsonify, request
from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError

from common import create_base_app, etag_of, fields_of
from models import Document, db

# What the database refuses as malformed input, answered 400: an item's
# shape (22023), a value its column cannot take (22P02, 23502), two items
# for one row (21000).  README "conditional_write", Errors.
MALFORMED = {"22023", "22P02", "23502", "21000"}

ENTRY_FIELDS = {"id", "etag", "changes", "delete"}

WRITE = text("""
    SELECT w.key AS id, w.status, rowversion.etag(w.version) AS etag, w.current
    FROM rowversion.conditional_write('documents', :items, :atomic) AS w
    ORDER BY w.ordinality""").bindparams(bindparam("items", type_=JSONB))


def version_of(etag):
    """The version in an entity tag as rowversion.etag() makes it ("601"),
    as a string (conditional_write takes one: no precision lost in JSON)."""
    match = re.fullmatch(r'"([0-9]+)"', etag) if isinstance(etag, str) else None
    if match is None:
        abort(400)
    return match.group(1)


def item_of(entry):
    """One entry of the body as conditional_write's item.  Its key and
    "delete" go as they are: the database checks their types."""
    if not isinstance(entry, dict) or "id" not in entry or set(entry) - ENTRY_FIELDS:
        abort(400)
    if "etag" not in entry:
        abort(428)
    item = {"key": entry["id"], "version": version_of(entry["etag"])}
    if "changes" in entry:
        item["changes"] = fields_of(Document, entry["changes"], partial=True)
    if "delete" in entry:
        item["delete"] = entry["delete"]
    return item


def atomic_of(args):
    value = args.get("atomic", "true")
    if value not in ("true", "false"):
        abort(400)
    return value == "true"


def result_of(row):
    """One row's result: "current" (a conflict's row as it is now) rendered
    as GET renders it, with its ETag beside it."""
    result = {"id": row.id, "status": row.status}
    if row.etag is not None:
        result["etag"] = row.etag
    if row.current is not None:
        result["current"] = {k: row.current[k] for k in ("id", "title", "body")}
    return result


def malformed(e):
    db.session.rollback()
    diag = e.orig.diag
    return jsonify(error=diag.message_primary, detail=diag.message_detail,
                   context=diag.context), 400


def create_app(database_uri, naive=False):
    app = create_base_app(database_uri)

    @app.patch("/documents")
    def patch_documents():
        entries = request.get_json(silent=True)
        if not isinstance(entries, list) or not entries:
            abort(400)
        items = [item_of(entry) for entry in entries]
        atomic = atomic_of(request.args)
        if naive:
            return naive_patch(items, atomic)
        try:
            rows = db.session.execute(WRITE, {"items": items, "atomic": atomic}).all()
        except DBAPIError as e:
            if getattr(e.orig, "pgcode", None) not in MALFORMED:
                raise               # RV001..3 and the rest: common.py's handler
            return malformed(e)
        results = [result_of(row) for row in rows]
        if all(r["status"] in ("updated", "deleted") for r in results):
            db.session.commit()
            return jsonify(results=results), 200
        if atomic:
            db.session.rollback()   # nothing was written; ends the row locks
            return jsonify(error="precondition failed", results=results), 412
        db.session.commit()         # the items that held
        return jsonify(results=results), 207

    return app


def naive_patch(items, atomic):
    """The negative control: the versions read and compared in Python, then
    the writes (in key order, so two batches do not deadlock).  Between the
    read and the write another batch can commit, and this one overwrites it
    -- a lost update the concurrent-batches test must catch.  (On a
    require_version table the database would refuse these unclaimed
    updates, so the test turns require_version off for it.)"""
    if not atomic:
        abort(400)  # the control covers the default, atomic mode
    keys = [item["key"] for item in items]
    current = dict(db.session.execute(
        select(Document.id, Document.row_version).where(Document.id.in_(keys))).all())
    failed = [k for item in items
              for k in [item["key"]] if current.get(k) != int(item["version"])]
    if failed:
        db.session.rollback()
        return jsonify(error="precondition failed",
                       results=[{"id": k, "status": "conflict" if k in current
                                 else "not_found"} for k in failed]), 412
    etags = {}
    for item in sorted(items, key=lambda i: i["key"]):
        if item.get("delete"):
            db.session.execute(delete(Document).where(Document.id == item["key"])
                               .execution_options(synchronize_session=False))
            continue
        etags[item["key"]] = db.session.execute(
            update(Document).where(Document.id == item["key"])
            .values(**item["changes"])
            .returning(etag_of(Document.row_version))
            .execution_options(synchronize_session=False)).scalar()
    db.session.commit()
    return jsonify(results=[
        {"id": k, "status": "updated", "etag": etags[k]} if k in etags
        else {"id": k, "status": "deleted"} for k in keys]), 200

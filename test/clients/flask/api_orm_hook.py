"""The Flask API whose writes are plain ORM code -- load the row, assign,
commit -- with no version anywhere in the handlers, as a framework or a
generated CRUD layer writes them.  One request hook registers the client's
If-Match with rowversion.expect_match() in the request's transaction
(README "expect_match"); the row trigger then checks it on the UPDATE or DELETE that the
ORM sends, under the row lock.  A stale or concurrent write fails there
with RV001, which common.py answers 412.
"""

from flask import abort, jsonify, request
from sqlalchemy import select, text
from sqlalchemy.orm.exc import StaleDataError

from common import as_dict, create_base_app, etag_of, fields_of
from models import Document, db

# the tables the API's paths name: /documents/<id> -> documents
TABLES = {"documents": Document.__tablename__}


def register_if_match():
    """before_request: PUT, PATCH and DELETE with an If-Match header
    register it for the table the path names.  The session's transaction
    begins here and is the one the handler commits."""
    header = request.headers.get("If-Match")
    if request.method not in ("PUT", "PATCH", "DELETE") or header is None:
        return
    table = TABLES.get(request.path.strip("/").split("/")[0])
    if table is not None:
        db.session.execute(text("SELECT rowversion.expect_match(:tbl, :header)"),
                           {"tbl": table, "header": header})


def create_app(database_uri, hook=True):
    app = create_base_app(database_uri)
    if hook:
        app.before_request(register_if_match)

    @app.errorhandler(StaleDataError)
    def row_gone(e):
        """The row the handler loaded was deleted before its write: the
        client's If-Match names a representation that no longer exists."""
        db.session.rollback()
        return jsonify(error="the row no longer exists"), 412

    @app.teardown_request
    def end_transaction(exc):
        # whatever the handler did not commit ends here, with its precondition
        db.session.remove()

    def answer(doc):
        etag = db.session.execute(
            select(etag_of(Document.row_version)).where(Document.id == doc.id)).scalar()
        return jsonify(as_dict(doc, "id", "title", "body")), 200, {"ETag": etag}

    @app.route("/documents/<int:doc_id>", methods=["PUT", "PATCH"])
    def write_document(doc_id):
        values = fields_of(Document, request.get_json(silent=True),
                           partial=request.method == "PATCH")
        doc = db.session.get(Document, doc_id) or abort(404)
        for name, value in values.items():
            setattr(doc, name, value)
        db.session.commit()
        return answer(doc)

    @app.delete("/documents/<int:doc_id>")
    def delete_document(doc_id):
        doc = db.session.get(Document, doc_id) or abort(404)
        db.session.delete(doc)
        db.session.commit()
        return "", 204

    return app

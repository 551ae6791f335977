"""What every variant of the Flask API shares: the app with its database,
the reads (GET with ETag and If-None-Match, POST), and the mapping of the
extension's SQLSTATEs to HTTP statuses.  A variant adds the writes."""

from flask import Flask, abort, jsonify, request
from sqlalchemy import Boolean, func, insert, select
from sqlalchemy.exc import DBAPIError

from models import Document, Order, OrderLine, db

# The errors (README "Errors"): conflict, version required, not found
STATUS_BY_SQLSTATE = {"RV001": 412, "RV002": 428, "RV003": 404}


def etag_of(version_col):
    """rowversion.etag(col): the entity tag, made by the database."""
    return func.rowversion.etag(version_col)


def if_match(header, version_col):
    """rowversion.if_match(header, col), to put in the write's WHERE."""
    return func.rowversion.if_match(header, version_col, type_=Boolean)


def if_none_match(header, version_col):
    return func.rowversion.if_none_match(header, version_col, type_=Boolean)


def fields_of(model, payload, partial):
    """The writable fields of a JSON body: all of them (PUT) or some (PATCH)."""
    if not isinstance(payload, dict):
        abort(400)
    unknown = set(payload) - set(model.fields)
    missing = set(model.fields) - set(payload)
    if unknown or (missing and not partial) or not payload:
        abort(400)
    return {k: payload[k] for k in model.fields if k in payload}


def as_dict(row, *names):
    return {n: getattr(row, n) for n in names}


def create_base_app(database_uri):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri
    db.init_app(app)

    @app.errorhandler(DBAPIError)
    def database_error(e):
        """RV001/RV002/RV003 from the database become 412/428/404."""
        db.session.rollback()
        status = STATUS_BY_SQLSTATE.get(getattr(e.orig, "pgcode", None))
        if status is None:
            app.logger.exception("database error")
            return jsonify(error="internal error"), 500
        diag = e.orig.diag
        return jsonify(error=diag.message_primary, detail=diag.message_detail), status

    def conditional_get(query, version_col, render):
        """GET: the representation with its ETag, or 304 when If-None-Match
        names the current version (compared by the database)."""
        row = db.session.execute(
            query.add_columns(etag_of(version_col),
                              if_none_match(request.headers.get("If-None-Match"),
                                            version_col))).one_or_none()
        if row is None:
            abort(404)
        *entity, etag, not_modified = row
        if not_modified:
            return "", 304, {"ETag": etag}
        return jsonify(render(*entity)), 200, {"ETag": etag}

    @app.get("/documents/<int:doc_id>")
    def get_document(doc_id):
        return conditional_get(
            select(Document).where(Document.id == doc_id), Document.row_version,
            lambda d: as_dict(d, "id", "title", "body"))

    @app.post("/documents")
    def create_document():
        values = fields_of(Document, request.get_json(silent=True), partial=False)
        doc_id, etag = db.session.execute(
            insert(Document).values(**values)
            .returning(Document.id, etag_of(Document.row_version))).one()
        db.session.commit()
        return jsonify(id=doc_id, **values), 201, {
            "ETag": etag, "Location": f"/documents/{doc_id}"}

    @app.get("/orders/<int:order_id>")
    def get_order(order_id):
        def render(order):
            lines = db.session.execute(
                select(OrderLine).where(OrderLine.order_id == order.id)
                .order_by(OrderLine.line)).scalars()
            return dict(as_dict(order, "id", "customer"),
                        lines=[as_dict(li, "line", "product", "qty") for li in lines])
        return conditional_get(select(Order).where(Order.id == order_id),
                               Order.row_version, render)

    return app

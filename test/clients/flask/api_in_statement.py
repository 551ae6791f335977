"""The Flask API whose writes carry the client's If-Match into the write
itself: `UPDATE ... WHERE id = :id AND rowversion.if_match(:h, row_version)`,
evaluated by the database under the row lock, after PostgreSQL has re-read a
row that a concurrent request changed.  Nothing is checked in Python first.

A write that matches no row is 412 when the row exists (or, for PUT, which
could create it, always), else 404: the follow-up SELECT only picks the
status, it decides nothing about the write.
"""

from flask import abort, jsonify, request
from sqlalchemy import Boolean, delete, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from common import as_dict, create_base_app, etag_of, fields_of, if_match
from models import Document, Order, OrderLine, db


def exists(model, *criteria):
    return db.session.execute(select(select(model).where(*criteria).exists())).scalar()


def create_app(database_uri):
    app = create_base_app(database_uri)

    @app.put("/documents/<int:doc_id>")
    def put_document(doc_id):
        values = fields_of(Document, request.get_json(silent=True), partial=False)
        header = request.headers.get("If-Match")
        if header is None:
            # No precondition: create, or overwrite. documents is a
            # require_version table, so the database refuses the overwrite
            # (RV002, 428); a new id is created.
            stmt = pg_insert(Document).values(id=doc_id, **values)
            stmt = stmt.on_conflict_do_update(index_elements=[Document.id], set_=values)
            etag, created = db.session.execute(stmt.returning(
                etag_of(Document.row_version),
                literal_column("xmax = 0", Boolean))).one()
            db.session.commit()
            return jsonify(id=doc_id, **values), 201 if created else 200, {"ETag": etag}
        # The precondition and the write in one statement; the version
        # column written with itself is If-Match's claim.
        etag = db.session.execute(
            update(Document)
            .where(Document.id == doc_id, if_match(header, Document.row_version))
            .values(**values, row_version=Document.row_version)
            .returning(etag_of(Document.row_version))
            .execution_options(synchronize_session=False)).scalar()
        if etag is None:
            # PUT could have created the row, so a failed precondition is
            # 412 whether the row exists or not (RFC 9110 §13.1.1: "*" is
            # false without a current representation).
            abort(412)
        db.session.commit()
        return jsonify(id=doc_id, **values), 200, {"ETag": etag}

    @app.patch("/documents/<int:doc_id>")
    def patch_document(doc_id):
        values = fields_of(Document, request.get_json(silent=True), partial=True)
        header = request.headers.get("If-Match")
        stmt = update(Document).where(Document.id == doc_id)
        if header is None:
            # no claim: the database refuses it (RV002, 428)
            stmt = stmt.values(**values)
        else:
            stmt = stmt.where(if_match(header, Document.row_version)) \
                .values(**values, row_version=Document.row_version)
        row = db.session.execute(
            stmt.returning(Document.id, Document.title, Document.body,
                           etag_of(Document.row_version))
            .execution_options(synchronize_session=False)).one_or_none()
        if row is None:
            abort(412 if exists(Document, Document.id == doc_id) else 404)
        db.session.commit()
        return jsonify(id=row.id, title=row.title, body=row.body), 200, {"ETag": row[-1]}

    @app.delete("/documents/<int:doc_id>")
    def delete_document(doc_id):
        header = request.headers.get("If-Match")
        if header is None:
            # require_version covers UPDATE; a DELETE without a precondition
            # is refused here.
            return jsonify(error="If-Match required"), 428
        deleted = db.session.execute(
            delete(Document)
            .where(Document.id == doc_id, if_match(header, Document.row_version))
            .returning(Document.id)
            .execution_options(synchronize_session=False)).scalar()
        if deleted is None:
            abort(412 if exists(Document, Document.id == doc_id) else 404)
        db.session.commit()
        return "", 204

    @app.put("/orders/<int:order_id>/lines/<int:line>")
    def put_order_line(order_id, line):
        """A line is changed under the order's ETag (aggregate If-Match):
        touch the order with the version the client holds, then
        change the line, in one transaction.  propagate() bumps the order
        again for the line, so the answer's ETag is the order's new one."""
        values = fields_of(OrderLine, request.get_json(silent=True), partial=False)
        header = request.headers.get("If-Match")
        if header is None:
            return jsonify(error="If-Match of the order required"), 428
        touched = db.session.execute(
            update(Order)
            .where(Order.id == order_id, if_match(header, Order.row_version))
            .values(row_version=Order.row_version)
            .returning(Order.id)
            .execution_options(synchronize_session=False)).scalar()
        if touched is None:
            db.session.rollback()
            abort(412 if exists(Order, Order.id == order_id) else 404)
        changed = db.session.execute(
            update(OrderLine)
            .where(OrderLine.order_id == order_id, OrderLine.line == line)
            .values(**values)
            .returning(OrderLine.line, OrderLine.product, OrderLine.qty)
            .execution_options(synchronize_session=False)).one_or_none()
        if changed is None:
            db.session.rollback()
            abort(404)
        etag = db.session.execute(
            select(etag_of(Order.row_version)).where(Order.id == order_id)).scalar()
        db.session.commit()
        return jsonify(as_dict(changed, "line", "product", "qty")), 200, {"ETag": etag}

    return app

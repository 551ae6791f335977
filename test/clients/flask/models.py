"""The Flask apps' models and schema, shared by every variant of the API.

documents: a plain resource; require_version, so an update that names no
version is refused by the database (RV002, answered 428).
orders and order_lines: an aggregate; propagate() makes every change of a
line bump its order's version, so the order's ETag covers its lines.
"""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import FetchedValue

db = SQLAlchemy()


def version_column():
    """The row version: written by the database's trigger, never by us."""
    return db.Column(db.BigInteger, nullable=False,
                     server_default=FetchedValue(), server_onupdate=FetchedValue())


class Document(db.Model):
    __tablename__ = "documents"
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.Text, nullable=False)
    body = db.Column(db.Text, nullable=False)
    row_version = version_column()

    fields = ("title", "body")


class Order(db.Model):
    __tablename__ = "orders"
    id = db.Column(db.Integer, primary_key=True)
    customer = db.Column(db.Text, nullable=False)
    row_version = version_column()


class OrderLine(db.Model):
    __tablename__ = "order_lines"
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), primary_key=True)
    line = db.Column(db.Integer, primary_key=True)
    product = db.Column(db.Text, nullable=False)
    qty = db.Column(db.Integer, nullable=False)
    row_version = version_column()

    fields = ("product", "qty")


SCHEMA_SQL = """
SELECT rowversion.enable('documents', require_version => true);
SELECT rowversion.enable('orders');
SELECT rowversion.enable('order_lines');
SELECT rowversion.propagate('order_lines', 'orders');
"""

FIXTURES_SQL = """
TRUNCATE documents, order_lines, orders;
INSERT INTO documents (id, title, body) VALUES (1, 'Minutes', 'first draft'),
                                               (2, 'Agenda', 'items');
SELECT setval(pg_get_serial_sequence('documents', 'id'), 100);
INSERT INTO orders (id, customer) VALUES (1, 'Ada'), (2, 'Grace');
INSERT INTO order_lines (order_id, line, product, qty)
VALUES (1, 1, 'pencil', 10), (1, 2, 'paper', 2), (2, 1, 'ink', 1);
"""


def create_schema():
    """Creates the tables and makes the database keep their versions (in
    an app context)."""
    db.create_all()
    with db.engine.begin() as conn:
        conn.exec_driver_sql(SCHEMA_SQL)

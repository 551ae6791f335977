#!/usr/bin/python3
"""SQLAlchemy's version_id_col with version_id_generator=False: the database
assigns every version (the extension's trigger), the ORM only guards its
UPDATE and DELETE with `WHERE row_version = <the version it loaded>` and
reads the new version back with RETURNING.  A stale flush raises
StaleDataError -- also when the row was changed by raw SQL from another
connection, which an ORM-side counter would never see.
"""

import os
import sys
import unittest
from contextlib import ExitStack

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "lib"))

import clienttest  # noqa: E402
from sqlalchemy import BigInteger, Column, FetchedValue, Integer, Text, create_engine  # noqa: E402
from sqlalchemy.orm import Session, declarative_base  # noqa: E402
from sqlalchemy.orm.exc import StaleDataError  # noqa: E402

Base = declarative_base()


class Account(Base):
    __tablename__ = "accounts"
    id = Column(Integer, primary_key=True)
    owner = Column(Text, nullable=False)
    balance = Column(Integer, nullable=False)
    row_version = Column(BigInteger, nullable=False,
                         server_default=FetchedValue(), server_onupdate=FetchedValue())
    __mapper_args__ = {"version_id_col": row_version, "version_id_generator": False}


class VersionIdColTests(unittest.TestCase):
    dbname = "rv_client_sqlalchemy"

    @classmethod
    def setUpClass(cls):
        cls.stack = ExitStack()
        cls.stack.enter_context(clienttest.throwaway_database(cls.dbname))
        cls.engine = create_engine(f"postgresql+psycopg2:///{cls.dbname}", future=True)
        cls.stack.callback(cls.engine.dispose)
        Base.metadata.create_all(cls.engine)
        with cls.engine.begin() as conn:
            # the classic guard needs no claim: require_version stays off
            conn.exec_driver_sql("SELECT rowversion.enable('accounts')")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def setUp(self):
        with Session(self.engine) as s, s.begin():
            s.query(Account).delete()
            s.add_all([Account(id=1, owner="ada", balance=100),
                       Account(id=2, owner="grace", balance=50)])

    def db_row(self, account_id):
        return clienttest.execute(
            self.dbname, "SELECT balance, row_version FROM accounts WHERE id = %s",
            (account_id,))[0]

    def test_versions_come_from_the_database(self):
        with Session(self.engine) as s:
            acct = s.get(Account, 1)
            self.assertEqual(acct.row_version, self.db_row(1)[1])
            before = acct.row_version
            acct.balance = 90
            s.commit()
            # read back from the database on flush, not computed by the ORM
            self.assertGreater(acct.row_version, before)
            self.assertEqual(self.db_row(1), (90, acct.row_version))

    def test_stale_flush_after_another_session(self):
        with Session(self.engine) as a, Session(self.engine) as b:
            mine, theirs = a.get(Account, 1), b.get(Account, 1)
            theirs.balance = 120
            b.commit()
            mine.balance = 80
            with self.assertRaises(StaleDataError):
                a.flush()
            a.rollback()
        self.assertEqual(self.db_row(1)[0], 120)

    def test_stale_flush_after_raw_sql(self):
        """Another application changes the row with plain SQL that knows
        nothing of versions; the trigger still moves the version, so the
        ORM's guard catches it."""
        with Session(self.engine) as s:
            acct = s.get(Account, 1)
            clienttest.execute(self.dbname,
                               "UPDATE accounts SET balance = balance + 1 WHERE id = 1")
            acct.balance = 0
            with self.assertRaises(StaleDataError):
                s.commit()
        self.assertEqual(self.db_row(1)[0], 101)

    def test_stale_delete_after_raw_sql(self):
        with Session(self.engine) as s:
            acct = s.get(Account, 2)
            clienttest.execute(self.dbname, "UPDATE accounts SET owner = 'hopper' WHERE id = 2")
            s.delete(acct)
            with self.assertRaises(StaleDataError):
                s.commit()
        self.assertEqual(self.db_row(2)[0], 50)


if __name__ == "__main__":
    unittest.main(verbosity=2 if os.environ.get("VERBOSE") else 1)

-- Claims: an UPDATE that writes the version column claims the version it
-- read; the trigger compares under the row lock and raises RV001 when the
-- row is elsewhere.
CREATE TABLE rvtest.account (id int PRIMARY KEY, owner text, balance int);
SELECT rowversion.enable('rvtest.account', mode => 'counter');
INSERT INTO rvtest.account VALUES (1, 'ann', 100), (2, 'bob', 50), (3, 'cy', 0);
SELECT id, row_version FROM rvtest.account ORDER BY id;

-- A claim of the current version succeeds and assigns the next one.
UPDATE rvtest.account SET balance = 90, row_version = 1 WHERE id = 1 RETURNING row_version;

-- A stale claim raises RV001 with the expected and current versions.
SELECT * FROM rvtest.error($$UPDATE rvtest.account SET balance = 0, row_version = 1 WHERE id = 1$$);
-- The error names the table, its schema and the version column.
SELECT * FROM rvtest.error_fields($$UPDATE rvtest.account SET balance = 0, row_version = 1 WHERE id = 1$$);
SELECT balance, row_version FROM rvtest.account WHERE id = 1;

-- A claim equal to the current value counts although it changes nothing
-- in the column: a claim is told from an UPDATE that does not write the
-- column by the SET list, not by the value.
UPDATE rvtest.account SET row_version = 2 WHERE id = 1 RETURNING row_version;

-- "If-Match: *": claim whatever the row is at.
UPDATE rvtest.account SET owner = 'ann2', row_version = row_version WHERE id = 1 RETURNING row_version;

-- A claim of NULL is refused (22004).
SELECT * FROM rvtest.error($$UPDATE rvtest.account SET row_version = NULL WHERE id = 1$$);

-- One stale row fails the whole statement: nothing changes.
SELECT * FROM rvtest.error($$UPDATE rvtest.account SET balance = balance + 1, row_version = 1$$);
SELECT id, balance, row_version FROM rvtest.account ORDER BY id;

-- A claim in INSERT ... ON CONFLICT DO UPDATE: claim the version read,
-- never EXCLUDED's (the INSERT trigger already assigned that).
INSERT INTO rvtest.account VALUES (2, 'bob', 60)
ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance, row_version = 1
RETURNING balance, row_version;
SELECT * FROM rvtest.error($$INSERT INTO rvtest.account VALUES (2, 'bob', 70)
  ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance, row_version = 1$$);

-- Other BEFORE triggers fire first (their names sort before zz_rowversion):
-- one that rewrites the version column cannot override the version the
-- trigger assigns.
CREATE FUNCTION rvtest.meddle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.row_version := 1000;
  RETURN NEW;
END $$;
CREATE TRIGGER a_meddle BEFORE INSERT OR UPDATE ON rvtest.account
  FOR EACH ROW EXECUTE FUNCTION rvtest.meddle();
UPDATE rvtest.account SET balance = 1 WHERE id = 3 RETURNING row_version;
DROP TRIGGER a_meddle ON rvtest.account;

-- Mode xact: the same rules; numbers are transaction IDs, so only the
-- SQLSTATE and the relation of the versions are shown.
CREATE TABLE rvtest.note (id int PRIMARY KEY, body text);
SELECT rowversion.enable('rvtest.note');
INSERT INTO rvtest.note VALUES (1, 'a');
SELECT row_version AS read_version FROM rvtest.note \gset
UPDATE rvtest.note SET body = 'b', row_version = :read_version;
SELECT row_version > :read_version AS bumped FROM rvtest.note;
SELECT code FROM rvtest.error(format('UPDATE rvtest.note SET body = %L, row_version = %s', 'c', :read_version));
-- in xact mode old + 1 is no claim
SELECT code FROM rvtest.error('UPDATE rvtest.note SET body = ''c'', row_version = row_version + 1');
SELECT body FROM rvtest.note;

-- The classic guard (path 4) needs nothing from the trigger: a stale
-- WHERE updates 0 rows.
UPDATE rvtest.note SET body = 'stale' WHERE id = 1 AND row_version = :read_version;
SELECT body FROM rvtest.note;

DROP TABLE rvtest.account, rvtest.note;
DROP FUNCTION rvtest.meddle();

-- enable() warns about a BEFORE row trigger whose name starts with a
-- non-ASCII letter: names are compared byte by byte, and such a name's
-- first byte sorts after every ASCII letter, so the trigger fires after
-- zz_rowversion.  The names here are written in UTF-8.

/* skip test if not UTF8 server encoding */
SELECT getdatabaseencoding() <> 'UTF8' AS skip_test \gset
\if :skip_test
\quit
\endif

CREATE FUNCTION rvtest.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.note := 'saw version ' || NEW.row_version;
  RETURN NEW;
END
$$;
CREATE TABLE rvtest.konto (id int PRIMARY KEY, note text);
CREATE TRIGGER "überwachung" BEFORE UPDATE ON rvtest.konto
  FOR EACH ROW EXECUTE FUNCTION rvtest.stamp();
SELECT rowversion.enable('rvtest.konto', mode => 'counter');
-- it fires last: it sees the version the row trigger assigned
INSERT INTO rvtest.konto VALUES (1, 'a');
UPDATE rvtest.konto SET note = 'b' RETURNING note, row_version;
-- renamed to sort first, it is no longer reported, and fires first
ALTER TRIGGER "überwachung" ON rvtest.konto RENAME TO "a_überwachung";
SELECT rowversion.enable('rvtest.konto', mode => 'counter');
UPDATE rvtest.konto SET note = 'c' RETURNING note, row_version;
DROP TABLE rvtest.konto;
DROP FUNCTION rvtest.stamp();

-- conditional_write names an unknown field of an item in its message, cut
-- to 64 bytes on a character's boundary, never inside one.
CREATE TABLE rvtest.utf8_cw (id int PRIMARY KEY);
SELECT rowversion.enable('rvtest.utf8_cw');
SELECT code, message = format('item 1 of conditional_write has unknown field "%s"', repeat('a', 63)) AS clipped
FROM rvtest.error(format($$SELECT * FROM rowversion.conditional_write('rvtest.utf8_cw', '[{"key": 1, "version": 1, "changes": {}, "%s": 1}]')$$,
                         repeat('a', 63) || 'éé'));
DROP TABLE rvtest.utf8_cw;

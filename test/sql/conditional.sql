-- conditional_update() and conditional_delete(): one atomic write of the
-- row with a given primary key, only while it is at the expected version.
CREATE TABLE rvtest.customer (id int PRIMARY KEY, name text, email text);
SELECT rowversion.enable('rvtest.customer', mode => 'counter');
INSERT INTO rvtest.customer VALUES (1, 'Ada', 'ada@example.com'), (2, 'Bob', NULL);

-- Returns the new version; changes only the columns named.
SELECT rowversion.conditional_update('rvtest.customer', 1, 1, '{"name": "Ada L."}');
SELECT * FROM rvtest.customer ORDER BY id;
-- {} is a touch: a new version, nothing else.
SELECT rowversion.conditional_update('rvtest.customer', 1, 2, '{}');
-- A stale version is RV001, with both versions in DETAIL; nothing changes.
SELECT * FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.customer', 1, 2, '{"name": "stale"}')$$);
SELECT * FROM rvtest.error_fields($$SELECT rowversion.conditional_update('rvtest.customer', 1, 2, '{"name": "stale"}')$$);
-- In counter mode old + 1 is accepted from a claiming UPDATE, but the
-- expected version of a conditional write must be the current one.
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.customer', 1, 4, '{}')$$);
-- No such row is RV003, with the key in DETAIL for a caller who may see it.
SELECT * FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.customer', 42, 1, '{}')$$);
SELECT * FROM rvtest.error_fields($$SELECT rowversion.conditional_update('rvtest.customer', 42, 1, '{}')$$);
-- A version the column cannot hold is no version of the row.
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.customer', 1, 9223372036854775807, '{}')$$);
SELECT * FROM rvtest.customer ORDER BY id;

-- conditional_delete: the same rules.
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_delete('rvtest.customer', 2, 7)$$);
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_delete('rvtest.customer', 3, 1)$$);
SELECT rowversion.conditional_delete('rvtest.customer', 2, 1);
SELECT id FROM rvtest.customer ORDER BY id;

-- In postgrest style the SQLSTATEs are PT412 and PT404.
SET rowversion.sqlstate_style = postgrest;
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.customer', 1, 1, '{}')$$);
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_delete('rvtest.customer', 42, 1)$$);
RESET rowversion.sqlstate_style;

-- Keys, the way clients pass them.  Which function a call resolves to:
-- typed keys to "any", untyped parameters and text to text.
SELECT p.oid::regprocedure
FROM pg_proc p WHERE p.proname IN ('conditional_update', 'conditional_delete')
  AND p.pronamespace = 'rowversion'::regnamespace ORDER BY p.oid::regprocedure::text COLLATE "C";
PREPARE untyped_update AS SELECT rowversion.conditional_update($1, $2, $3, $4);
PREPARE untyped_delete AS SELECT rowversion.conditional_delete($1, $2, $3);
SELECT name, parameter_types FROM pg_prepared_statements ORDER BY name;
EXECUTE untyped_update('rvtest.customer', '1', '3', '{"email": "ada@lovelace.org"}');
-- a bigint, a text and a varchar key are converted through their text form
SELECT rowversion.conditional_update('rvtest.customer', 1::bigint, 4, '{}');
SELECT rowversion.conditional_update('rvtest.customer', '1'::text, 5, '{}');
SELECT rowversion.conditional_update('rvtest.customer', '1'::varchar, 6, '{}');
SELECT rowversion.conditional_update('rvtest.customer', 1::smallint, 7, '{}');
-- ...so nothing is rounded away: 1.5, and even 1.0, is no integer key
SELECT code, message FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.customer', 1.5, 8, '{}')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.customer', 1.0, 8, '{}')$$);
-- a jsonb object names the key columns, and a bare jsonb scalar is the key
SELECT rowversion.conditional_update('rvtest.customer', '{"id": 1}'::jsonb, 8, '{}');
SELECT rowversion.conditional_update('rvtest.customer', '1'::jsonb, 9, '{}');
EXECUTE untyped_delete('rvtest.customer', '1', '10');
SELECT count(*) FROM rvtest.customer;

-- Composite keys, uuid keys, text keys; a table in a partitioned hierarchy.
CREATE TABLE rvtest.line_item (order_id uuid, line int, qty int,
  PRIMARY KEY (order_id, line)) PARTITION BY HASH (order_id);
CREATE TABLE rvtest.line_item_0 PARTITION OF rvtest.line_item FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE rvtest.line_item_1 PARTITION OF rvtest.line_item FOR VALUES WITH (MODULUS 2, REMAINDER 1);
SELECT rowversion.enable('rvtest.line_item', mode => 'counter');
INSERT INTO rvtest.line_item VALUES
  ('8c6a3f5e-8d6b-4f1e-9a55-0a3c5e1f2b7d', 1, 1), ('8c6a3f5e-8d6b-4f1e-9a55-0a3c5e1f2b7d', 2, 1);
SELECT rowversion.conditional_update('rvtest.line_item',
  '{"order_id": "8c6a3f5e-8d6b-4f1e-9a55-0a3c5e1f2b7d", "line": 2}'::jsonb, 1, '{"qty": 5}');
SELECT line, qty, row_version FROM rvtest.line_item ORDER BY line;
-- a composite key needs the object form, with every column
SELECT * FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.line_item', 1, 1, '{}')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.line_item',
  '{"order_id": "8c6a3f5e-8d6b-4f1e-9a55-0a3c5e1f2b7d"}'::jsonb, 1, '{}')$$);
SELECT rowversion.conditional_delete('rvtest.line_item',
  '{"line": 1, "order_id": "8c6a3f5e-8d6b-4f1e-9a55-0a3c5e1f2b7d"}'::jsonb, 1);
SELECT line FROM rvtest.line_item;

-- A key is not rounded or cut to the key column's typmod: 1.005 is not the
-- numeric(5,2) key 1.01, nor 'abc  ' the varchar(3) key 'abc'.
CREATE TABLE rvtest.priced (price numeric(5,2), code varchar(3), note text,
  PRIMARY KEY (price, code));
SELECT rowversion.enable('rvtest.priced', mode => 'counter');
INSERT INTO rvtest.priced VALUES (1.01, 'abc', 'x');
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.priced',
  '{"price": 1.005, "code": "abc"}'::jsonb, 1, '{"note": "rounded"}')$$);
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.priced',
  '{"price": 1.01, "code": "abc  "}'::jsonb, 1, '{"note": "cut"}')$$);
SELECT rowversion.conditional_update('rvtest.priced', '{"price": 1.01, "code": "abc"}'::jsonb, 1, '{"note": "exact"}');
-- a json or jsonb key column reads the JSON value itself, as changes do;
-- the object form may also arrive as json
CREATE TABLE rvtest.tagged (id int, tag jsonb, PRIMARY KEY (id, tag));
SELECT rowversion.enable('rvtest.tagged', mode => 'counter');
INSERT INTO rvtest.tagged VALUES (1, '"blue"'), (1, '{"c": "red"}');
SELECT rowversion.conditional_update('rvtest.tagged', '{"id": 1, "tag": "blue"}'::jsonb, 1, '{}');
SELECT rowversion.conditional_update('rvtest.tagged', '{"id": 1, "tag": {"c": "red"}}'::json, 1, '{}');
SELECT id, tag, row_version FROM rvtest.tagged ORDER BY tag;
DROP TABLE rvtest.priced, rvtest.tagged;

CREATE TABLE rvtest.doc (slug text PRIMARY KEY, id uuid UNIQUE DEFAULT gen_random_uuid(), body text);
SELECT rowversion.enable('rvtest.doc');
INSERT INTO rvtest.doc (slug, body) VALUES ('intro', 'hello');
SELECT row_version AS v FROM rvtest.doc \gset
SELECT rowversion.conditional_update('rvtest.doc', 'intro', :v, '{"body": "hi"}') > :v AS bumped;
SELECT body FROM rvtest.doc;

-- Changes are converted with each column type's input, the way
-- jsonb_populate_record does it: domains keep their constraints.
CREATE TYPE rvtest.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN rvtest.percent AS int CHECK (VALUE BETWEEN 0 AND 100);
CREATE TABLE rvtest.everything (id int PRIMARY KEY, t text, n numeric, i int, f float8,
  b boolean, arr int[], tags text[], j json, jb jsonb, ts timestamptz, d date,
  m rvtest.mood, p rvtest.percent, short varchar(3), u uuid,
  by_default int GENERATED BY DEFAULT AS IDENTITY);
SELECT rowversion.enable('rvtest.everything', mode => 'counter');
INSERT INTO rvtest.everything (id) VALUES (1);
SELECT rowversion.conditional_update('rvtest.everything', 1, 1, $${"t": "text", "n": 1.25,
  "i": 7, "f": 2.5, "b": true, "arr": [1, 2, 3], "tags": ["a", "b c"], "j": {"k": [1]},
  "jb": {"k": null}, "ts": "2024-02-29T12:00:00Z", "d": "2024-02-29", "m": "happy",
  "p": 42, "short": "abc", "u": "8c6a3f5e-8d6b-4f1e-9a55-0a3c5e1f2b7d", "by_default": 9}$$);
SELECT t, n, i, f, b, arr, tags, j, jb, ts AT TIME ZONE 'UTC' AS ts_utc, d, m, p, short, u, by_default
FROM rvtest.everything;
-- JSON null sets NULL; strings for numbers are read by the type's input
SELECT rowversion.conditional_update('rvtest.everything', 1, 2, '{"t": null, "i": "8", "b": "false"}');
SELECT t, i, b FROM rvtest.everything;
-- json and jsonb take the JSON value itself, a string included; a
-- composite column takes an object, an array of them an array
CREATE TYPE rvtest.address AS (street text, zip int);
ALTER TABLE rvtest.everything ADD COLUMN addr rvtest.address, ADD COLUMN addrs rvtest.address[];
SELECT rowversion.conditional_update('rvtest.everything', 1, 3, $${"j": "plain", "jb": "plain",
  "addr": {"street": "Main St", "zip": 12345}, "addrs": [{"street": "A", "zip": 1}, {"street": "B"}]}$$);
SELECT j, jb, addr, addrs FROM rvtest.everything;
-- what the column type refuses, it refuses here, naming the type
SELECT code, message FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.everything', 1, 4, '{"p": 101}')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.everything', 1, 4, '{"m": "angry"}')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.everything', 1, 4, '{"short": "abcd"}')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.everything', 1, 4, '{"i": 1.5}')$$);
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.everything', 1, 4, '{"arr": "nope"}')$$);
SELECT row_version FROM rvtest.everything;

-- A require_version table: a conditional write is a claim.
CREATE TABLE rvtest.strict (id int PRIMARY KEY, x int);
SELECT rowversion.enable('rvtest.strict', mode => 'counter', require_version => true);
INSERT INTO rvtest.strict VALUES (1, 0);
SELECT rowversion.conditional_update('rvtest.strict', 1, 1, '{"x": 1}');

-- An inheritance parent: only its own row is written, not a child's.
CREATE TABLE rvtest.base (id int PRIMARY KEY, x int);
CREATE TABLE rvtest.derived (PRIMARY KEY (id)) INHERITS (rvtest.base);
SELECT rowversion.enable('rvtest.derived', mode => 'counter');
SELECT rowversion.enable('rvtest.base', mode => 'counter');
INSERT INTO rvtest.base VALUES (1, 0);
INSERT INTO rvtest.derived VALUES (1, 0);
SELECT rowversion.conditional_update('rvtest.base', 1, 1, '{"x": 1}');
SELECT tableoid::regclass, x, row_version FROM rvtest.base ORDER BY tableoid::regclass::text, x;

-- Plans are cached, and rebuilt after DDL: add, rename, drop, retype.
CREATE TABLE rvtest.evolving (id int PRIMARY KEY, a text);
SELECT rowversion.enable('rvtest.evolving', mode => 'counter');
INSERT INTO rvtest.evolving VALUES (1, 'x');
SELECT rowversion.conditional_update('rvtest.evolving', 1, 1, '{"a": "y"}');
ALTER TABLE rvtest.evolving ADD COLUMN b int;
SELECT rowversion.conditional_update('rvtest.evolving', 1, 2, '{"a": "z"}');
SELECT rowversion.conditional_update('rvtest.evolving', 1, 3, '{"b": 1}');
ALTER TABLE rvtest.evolving RENAME COLUMN a TO a2;
SELECT rowversion.conditional_update('rvtest.evolving', 1, 4, '{"a2": "w"}');
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.evolving', 1, 5, '{"a": "w"}')$$);
ALTER TABLE rvtest.evolving DROP COLUMN a2;
SELECT rowversion.conditional_update('rvtest.evolving', 1, 5, '{"b": 2}');
ALTER TABLE rvtest.evolving ALTER COLUMN b TYPE text;
SELECT rowversion.conditional_update('rvtest.evolving', 1, 6, '{"b": "two"}');
ALTER TABLE rvtest.evolving RENAME COLUMN row_version TO v;
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.evolving', 1, 7, '{}')$$);
SELECT rowversion.enable('rvtest.evolving', 'v', 'counter');
SELECT rowversion.conditional_update('rvtest.evolving', 1, 7, '{}');
ALTER TABLE rvtest.evolving DROP CONSTRAINT evolving_pkey;
SELECT code, message FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.evolving', 1, 8, '{}')$$);
ALTER TABLE rvtest.evolving ADD PRIMARY KEY (b);
SELECT rowversion.conditional_update('rvtest.evolving', 'two', 8, '{"b": "three"}');
SELECT * FROM rvtest.evolving;

DROP TABLE rvtest.line_item, rvtest.doc, rvtest.everything, rvtest.strict,
  rvtest.base CASCADE;
DROP TABLE rvtest.evolving, rvtest.customer;
DROP TYPE rvtest.mood, rvtest.address;
DROP DOMAIN rvtest.percent;
DEALLOCATE ALL;

-- Bad input to conditional_update() and conditional_delete(): each call
-- fails with a fitting SQLSTATE (never XX000), and nothing changes.
CREATE DOMAIN rvtest.small_pct AS int CHECK (VALUE BETWEEN 0 AND 100);
CREATE TABLE rvtest.acct (id int PRIMARY KEY, name text NOT NULL, qty int,
  pct rvtest.small_pct, doubled int GENERATED ALWAYS AS (qty * 2) STORED,
  serial int GENERATED ALWAYS AS IDENTITY);
SELECT rowversion.enable('rvtest.acct', mode => 'counter');
INSERT INTO rvtest.acct (id, name, qty) VALUES (1, 'one', 1), (2, 'two', 2);
CREATE TABLE rvtest.pair (a int, b text, x int, PRIMARY KEY (a, b));
SELECT rowversion.enable('rvtest.pair', mode => 'counter');
INSERT INTO rvtest.pair VALUES (1, 'x', 0);
CREATE TABLE rvtest.plain (id int PRIMARY KEY);
INSERT INTO rvtest.plain VALUES (1);
CREATE TABLE rvtest.nopk (id int);
SELECT rowversion.enable('rvtest.nopk');
INSERT INTO rvtest.nopk VALUES (1);
CREATE VIEW rvtest.acct_view AS SELECT * FROM rvtest.acct;
CREATE SEQUENCE rvtest.a_seq;
PREPARE untyped(regclass, text, bigint, jsonb) AS
  SELECT rowversion.conditional_update($1, $2, $3, $4);

CREATE TEMP TABLE checksum AS
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM rvtest.acct t) AS acct,
       (SELECT md5(string_agg(t::text, ',' ORDER BY a)) FROM rvtest.pair t) AS pair,
       (SELECT md5(string_agg(t::text, ',')) FROM rvtest.nopk t) AS nopk;

SELECT n, code, message
FROM (VALUES
  (1, $$SELECT rowversion.conditional_update(NULL, 1, 1, '{}')$$),
  (2, $$SELECT rowversion.conditional_update('rvtest.acct', NULL::int, 1, '{}')$$),
  (3, $$SELECT rowversion.conditional_update('rvtest.acct', NULL, 1, '{}')$$),
  (4, $$SELECT rowversion.conditional_update('rvtest.acct', 1, NULL, '{}')$$),
  (5, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, NULL)$$),
  (6, $$SELECT rowversion.conditional_delete(NULL, 1, 1)$$),
  (7, $$SELECT rowversion.conditional_delete('rvtest.acct', NULL, 1)$$),
  (8, $$SELECT rowversion.conditional_delete('rvtest.acct', 1, NULL)$$),
  (9, $$SELECT rowversion.conditional_update('rvtest.nope', 1, 1, '{}')$$),
  (10, $$SELECT rowversion.conditional_update(1::oid::regclass, 1, 1, '{}')$$),
  (11, $$SELECT rowversion.conditional_update('', 1, 1, '{}')$$),
  (12, $$SELECT rowversion.conditional_update('rvtest.acct_view', 1, 1, '{}')$$),
  (13, $$SELECT rowversion.conditional_delete('rvtest.a_seq', 1, 1)$$),
  (14, $$SELECT rowversion.conditional_update('rvtest.plain', 1, 1, '{}')$$),
  (15, $$SELECT rowversion.conditional_update('pg_catalog.pg_class', 1, 1, '{}')$$),
  (16, $$SELECT rowversion.conditional_update('rvtest.nopk', 1, 1, '{}')$$),
  (17, $$SELECT rowversion.conditional_update('rvtest.acct', 'abc', 1, '{}')$$),
  (18, $$SELECT rowversion.conditional_update('rvtest.acct', 1.5, 1, '{}')$$),
  (19, $$SELECT rowversion.conditional_update('rvtest.acct', 99999999999, 1, '{}')$$),
  (20, $$SELECT rowversion.conditional_update('rvtest.acct', '[1]'::jsonb, 1, '{}')$$),
  (21, $$SELECT rowversion.conditional_update('rvtest.acct', '{"id": 1, "name": "one"}'::jsonb, 1, '{}')$$),
  (22, $$SELECT rowversion.conditional_update('rvtest.acct', '{}'::jsonb, 1, '{}')$$),
  (23, $$SELECT rowversion.conditional_update('rvtest.acct', '{"id": null}'::jsonb, 1, '{}')$$),
  (24, $$SELECT rowversion.conditional_update('rvtest.acct', 'null'::jsonb, 1, '{}')$$),
  (25, $$SELECT rowversion.conditional_update('rvtest.pair', 1, 1, '{}')$$),
  (26, $$SELECT rowversion.conditional_update('rvtest.pair', '{"a": "x", "b": "x"}'::jsonb, 1, '{}')$$),
  (27, $$SELECT rowversion.conditional_update('rvtest.pair', '{"a": 1}'::jsonb, 1, '{}')$$),
  (28, $$EXECUTE untyped('rvtest.pair', '1', 1, '{}')$$),
  (29, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '[]')$$),
  (30, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '1')$$),
  (31, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '"qty"')$$),
  (32, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"qty": }')$$),
  (33, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"nope": 1}')$$),
  (34, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"": 1}')$$),
  (35, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"ctid": "(0,1)"}')$$),
  (36, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"row_version": 5}')$$),
  (37, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"doubled": 5}')$$),
  (38, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"serial": 5}')$$),
  (39, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"qty": "many"}')$$),
  (40, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"qty": 99999999999}')$$),
  (41, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"pct": 101}')$$),
  (42, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"name": null}')$$),
  (43, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{"id": 2}')$$),
  (44, $$SELECT rowversion.conditional_update('rvtest.acct', 1, 2, '{"qty": 0}')$$),
  (45, $$SELECT rowversion.conditional_update('rvtest.acct', 1, -1, '{"qty": 0}')$$),
  (46, $$SELECT rowversion.conditional_update('rvtest.acct', 3, 1, '{"qty": 0}')$$),
  (47, $$SELECT rowversion.conditional_delete('rvtest.acct', 1, 2)$$),
  (48, $$SELECT rowversion.conditional_delete('rvtest.acct', 3, 1)$$),
  (49, $$SELECT rowversion.conditional_delete('rvtest.pair', '{"b": "x"}'::jsonb, 1)$$),
  (50, $$SELECT rowversion.conditional_delete('rvtest.nopk', 1, 1)$$)
) AS c(n, sql), LATERAL rvtest.error(c.sql)
ORDER BY n;

-- A table with rules: the statement would not be what it seems (0A000).
CREATE TABLE rvtest.soft (id int PRIMARY KEY, deleted boolean DEFAULT false);
SELECT rowversion.enable('rvtest.soft', mode => 'counter');
INSERT INTO rvtest.soft VALUES (1);
CREATE RULE soft_delete AS ON DELETE TO rvtest.soft
  DO INSTEAD UPDATE rvtest.soft SET deleted = true WHERE id = old.id;
SELECT * FROM rvtest.error($$SELECT rowversion.conditional_delete('rvtest.soft', 1, 1)$$);
DROP TABLE rvtest.soft;

-- While the row trigger does not fire (replica role, or disabled by hand)
-- the version would not move, so conditional writes are refused (55000).
SET session_replication_role = replica;
SELECT * FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.acct', 1, 1, '{}')$$);
RESET session_replication_role;
ALTER TABLE rvtest.acct DISABLE TRIGGER zz_rowversion;
SELECT code, detail FROM rvtest.error($$SELECT rowversion.conditional_delete('rvtest.acct', 1, 1)$$);
ALTER TABLE rvtest.acct ENABLE TRIGGER zz_rowversion;

-- Not one internal error, and every table as it was.
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM rvtest.acct t) = acct AS acct_unchanged,
       (SELECT md5(string_agg(t::text, ',' ORDER BY a)) FROM rvtest.pair t) = pair AS pair_unchanged,
       (SELECT md5(string_agg(t::text, ',')) FROM rvtest.nopk t) = nopk AS nopk_unchanged
FROM checksum;

DEALLOCATE untyped;
DROP VIEW rvtest.acct_view;
DROP TABLE rvtest.acct, rvtest.pair, rvtest.plain, rvtest.nopk;
DROP SEQUENCE rvtest.a_seq;
DROP DOMAIN rvtest.small_pct;

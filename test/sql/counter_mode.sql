-- Mode counter: versions count a row's updates, for ORMs that increment
-- the version themselves.
CREATE TABLE rvtest.item (id int PRIMARY KEY, name text, lock_version integer);
SELECT rowversion.enable('rvtest.item', 'lock_version', 'counter');

-- The column keeps no default: the trigger decides.
SELECT column_default IS NULL AS no_default, is_nullable
FROM information_schema.columns
WHERE table_schema = 'rvtest' AND table_name = 'item' AND column_name = 'lock_version';

-- INSERT keeps the starting value the client writes (JPA writes 0, Rails
-- 0, Sequelize 0 or 1), and gives 1 to a row inserted without one.
INSERT INTO rvtest.item VALUES (1, 'zero', 0), (2, 'one', 1), (3, 'none', NULL);
INSERT INTO rvtest.item (id, name) VALUES (4, 'omitted');
SELECT id, lock_version FROM rvtest.item ORDER BY id;

-- UPDATE sets old + 1, a touch included.
UPDATE rvtest.item SET name = name;
SELECT id, lock_version FROM rvtest.item ORDER BY id;

-- A claim of the current version is accepted and bumps it.
UPDATE rvtest.item SET name = 'claimed', lock_version = 1 WHERE id = 1;
-- So is the ORM increment protocol: claim old + 1, guarded by WHERE.
UPDATE rvtest.item SET name = 'orm', lock_version = 3 WHERE id = 1 AND lock_version = 2;
SELECT id, name, lock_version FROM rvtest.item WHERE id = 1;

-- Any other claim is a conflict, old + 2 and old - 1 included; the row is
-- unchanged.
SELECT * FROM rvtest.error($$UPDATE rvtest.item SET name = 'x', lock_version = 5 WHERE id = 1$$);
SELECT * FROM rvtest.error($$UPDATE rvtest.item SET name = 'x', lock_version = 2 WHERE id = 1$$);
SELECT id, name, lock_version FROM rvtest.item WHERE id = 1;

-- The classic guard: a stale WHERE matches no row.
UPDATE rvtest.item SET name = 'stale' WHERE id = 1 AND lock_version = 2;
SELECT id, name, lock_version FROM rvtest.item WHERE id = 1;

-- The column's own range is the limit: smallint stops at 32767 (22003).
CREATE TABLE rvtest.small (id int PRIMARY KEY, v smallint);
SELECT rowversion.enable('rvtest.small', 'v', 'counter');
INSERT INTO rvtest.small VALUES (1, 32766);
UPDATE rvtest.small SET v = 32766 WHERE id = 1;
SELECT v FROM rvtest.small;
SELECT * FROM rvtest.error($$UPDATE rvtest.small SET id = id$$);
-- a claim of the current version cannot pass the limit either
SELECT * FROM rvtest.error($$UPDATE rvtest.small SET v = 32767$$);
SELECT v FROM rvtest.small;

-- bigint counters work the same way.
CREATE TABLE rvtest.big (id int PRIMARY KEY);
SELECT rowversion.enable('rvtest.big', 'version', 'counter');
INSERT INTO rvtest.big VALUES (1);
UPDATE rvtest.big SET version = 1;
SELECT pg_typeof(version), version FROM rvtest.big;

-- Counter mode has the ABA weakness of every counter: a row deleted and
-- inserted again starts over.
DELETE FROM rvtest.big WHERE id = 1;
INSERT INTO rvtest.big VALUES (1);
SELECT version FROM rvtest.big;

DROP TABLE rvtest.item, rvtest.small, rvtest.big;

-- integer counters stop at 2147483647.
CREATE TABLE rvtest.int_counter (id int PRIMARY KEY, v integer);
SELECT rowversion.enable('rvtest.int_counter', 'v', 'counter');
INSERT INTO rvtest.int_counter VALUES (1, 2147483646);
UPDATE rvtest.int_counter SET id = 1 RETURNING v;
SELECT code, message FROM rvtest.error($$UPDATE rvtest.int_counter SET id = 1$$);
DROP TABLE rvtest.int_counter;

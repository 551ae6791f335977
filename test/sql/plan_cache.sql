-- The plans of conditional writes are cached per table, statement and set
-- of changed columns, and the cache is bounded (256 statements).  Counted
-- with pg_backend_memory_contexts, which PostgreSQL 14 introduced: before
-- 14 the test stops (expected/plan_cache_1.out).
SELECT current_setting('server_version_num')::int < 140000 AS no_contexts \gset
\if :no_contexts
\quit
\endif

CREATE TABLE rvtest.wide (id int PRIMARY KEY);
SELECT format('ALTER TABLE rvtest.wide %s', string_agg(format('ADD COLUMN c%s int', g), ', '))
FROM generate_series(1, 70) g \gexec
SELECT rowversion.enable('rvtest.wide', mode => 'counter');
INSERT INTO rvtest.wide (id) VALUES (1);

-- (18 caches the statements of SQL functions too: not this one's own)
CREATE FUNCTION rvtest.cached_statements() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_backend_memory_contexts
  WHERE name = 'CachedPlanSource' AND ident LIKE '% rvtest.wide AS t%'
    AND ident NOT LIKE '%pg_backend_memory_contexts%' $$;

-- The same call again and again is planned once (plus the statement that
-- tells RV001 from RV003, once).
SELECT rvtest.cached_statements() AS before;
SELECT rowversion.conditional_update('rvtest.wide', 1, v, '{"c1": 1}')
FROM generate_series(1, 5) v;
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.wide', 1, 1, '{"c1": 1}')$$);
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.wide', 1, 1, '{"c1": 1}')$$);
SELECT rvtest.cached_statements() AS one_update_one_find;

-- 300 different sets of changed columns (every pair of c1..c25) would be
-- 300 statements; the cache keeps at most 256.
DO $$
DECLARE
  v bigint := 6;
  a int;
  b int;
BEGIN
  FOR a IN 1..24 LOOP
    FOR b IN a + 1..25 LOOP
      v := rowversion.conditional_update('rvtest.wide', 1, v,
             jsonb_build_object('c' || a, a, 'c' || b, b));
    END LOOP;
  END LOOP;
END $$;
SELECT row_version, rvtest.cached_statements() BETWEEN 1 AND 256 AS bounded FROM rvtest.wide;

-- A conditional write nested in another one's input (a domain check that
-- writes) while the cache is full: the outer call's statement stays valid.
CREATE FUNCTION rvtest.touch_wide(x int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM rowversion.conditional_update('rvtest.wide', 1,
    (SELECT row_version FROM rvtest.wide), jsonb_build_object('c' || x, x, 'c' || (x + 30), x));
  RETURN true;
END $$;
CREATE DOMAIN rvtest.checked_int AS int CHECK (rvtest.touch_wide(VALUE));
CREATE TABLE rvtest.victim (id int PRIMARY KEY, d rvtest.checked_int, e1 text, e2 text);
SELECT rowversion.enable('rvtest.victim', mode => 'counter');
INSERT INTO rvtest.victim VALUES (1, 1, 'x', 'y');
SELECT rowversion.conditional_update('rvtest.victim', 1, 1, '{"d": 2, "e1": "a", "e2": "b"}');
SELECT rowversion.conditional_update('rvtest.victim', 1, 2, '{"d": 3, "e1": "c", "e2": "d"}');
SELECT d, e1, e2, row_version FROM rvtest.victim;
DROP TABLE rvtest.victim;
DROP DOMAIN rvtest.checked_int;
DROP FUNCTION rvtest.touch_wide(int);

-- More changed columns than a cache key holds (64): planned for the call.
SELECT rowversion.conditional_update('rvtest.wide', 1, (SELECT row_version FROM rvtest.wide),
  (SELECT jsonb_object_agg('c' || g, -g) FROM generate_series(1, 70) g));
SELECT c1, c70 FROM rvtest.wide;

DROP TABLE rvtest.wide;
DROP FUNCTION rvtest.cached_statements();

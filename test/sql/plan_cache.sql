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

CREATE FUNCTION rvtest.cached_statements() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_backend_memory_contexts
  WHERE name = 'CachedPlanSource' AND ident LIKE '% rvtest.wide AS t%' $$;

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

-- More changed columns than a cache key holds (64): planned for the call.
SELECT rowversion.conditional_update('rvtest.wide', 1, 306,
  (SELECT jsonb_object_agg('c' || g, -g) FROM generate_series(1, 70) g));
SELECT c1, c70, row_version FROM rvtest.wide;

DROP TABLE rvtest.wide;
DROP FUNCTION rvtest.cached_statements();

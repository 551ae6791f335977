-- The lost-update checker's schema: a few hot counters, a log of every
-- write that reported success (written in the same transaction), and one
-- function per write path.  Each function reads the row, then writes
-- value + 1 through its path, and returns 'ok' or 'conflict'; errors other
-- than a conflict (40001 under REPEATABLE READ / SERIALIZABLE) propagate,
-- and pgbench retries them.
CREATE EXTENSION IF NOT EXISTS rowversion;
CREATE TABLE counters (id int PRIMARY KEY, value int NOT NULL);
INSERT INTO counters SELECT g, 0 FROM generate_series(1, 4) g;
SELECT rowversion.enable('counters');
CREATE TABLE successes (id int NOT NULL, expected_version bigint NOT NULL, path text NOT NULL);
CREATE TABLE conflicts (id int NOT NULL, path text NOT NULL);

-- conditional_update()
CREATE FUNCTION write_conditional(k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  SELECT value, row_version INTO r FROM counters WHERE id = k;
  PERFORM rowversion.conditional_update('counters', k, r.row_version,
                                        jsonb_build_object('value', r.value + 1));
  INSERT INTO successes VALUES (k, r.row_version, 'conditional');
  RETURN 'ok';
EXCEPTION WHEN SQLSTATE 'RV001' THEN
  INSERT INTO conflicts VALUES (k, 'conditional');
  RETURN 'conflict';
END $$;

-- the claim protocol in plain SQL
CREATE FUNCTION write_claim(k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  SELECT value, row_version INTO r FROM counters WHERE id = k;
  UPDATE counters SET value = r.value + 1, row_version = r.row_version WHERE id = k;
  INSERT INTO successes VALUES (k, r.row_version, 'claim');
  RETURN 'ok';
EXCEPTION WHEN SQLSTATE 'RV001' THEN
  INSERT INTO conflicts VALUES (k, 'claim');
  RETURN 'conflict';
END $$;

-- the classic guard: WHERE row_version = the version read
CREATE FUNCTION write_classic(k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  SELECT value, row_version INTO r FROM counters WHERE id = k;
  UPDATE counters SET value = r.value + 1 WHERE id = k AND row_version = r.row_version;
  IF NOT FOUND THEN
    INSERT INTO conflicts VALUES (k, 'classic');
    RETURN 'conflict';
  END IF;
  INSERT INTO successes VALUES (k, r.row_version, 'classic');
  RETURN 'ok';
END $$;

-- conditional_delete() of the row read, then insert it again with value + 1
CREATE FUNCTION write_reinsert(k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  SELECT value, row_version INTO r FROM counters WHERE id = k;
  IF NOT FOUND THEN
    INSERT INTO conflicts VALUES (k, 'reinsert');
    RETURN 'conflict';
  END IF;
  PERFORM rowversion.conditional_delete('counters', k, r.row_version);
  INSERT INTO counters VALUES (k, r.value + 1);
  INSERT INTO successes VALUES (k, r.row_version, 'reinsert');
  RETURN 'ok';
EXCEPTION WHEN SQLSTATE 'RV001' OR SQLSTATE 'RV003' OR unique_violation THEN
  INSERT INTO conflicts VALUES (k, 'reinsert');
  RETURN 'conflict';
END $$;

-- negative control: read, then a blind UPDATE (check-then-update code)
CREATE FUNCTION write_blind(k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  SELECT value, row_version INTO r FROM counters WHERE id = k;
  PERFORM pg_sleep(0.0005);
  UPDATE counters SET value = r.value + 1 WHERE id = k;
  INSERT INTO successes VALUES (k, r.row_version, 'blind');
  RETURN 'ok';
END $$;

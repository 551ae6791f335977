-- The benchmarks' schema: the floor and PL/pgSQL triggers, the tables of
-- each variant and the helpers that time statements.  Loaded by
-- test/bench/session and test/bench/instructions into an empty database.
CREATE EXTENSION rowversion;
CREATE FUNCTION bench_floor() RETURNS trigger
  AS '$libdir/rv_bench_floor', 'rv_bench_floor' LANGUAGE C;
-- What users write today: the xact-mode rules, as far as PL/pgSQL can see
-- them (it cannot see the SET list, so only a changed value is a claim).
CREATE FUNCTION bench_plpgsql() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  xid bigint := pg_current_xact_id()::text::bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.row_version := xid;
  ELSE
    IF NEW.row_version IS DISTINCT FROM OLD.row_version THEN
      RAISE EXCEPTION 'row version conflict' USING ERRCODE = 'RV001';
    END IF;
    NEW.row_version := greatest(xid, OLD.row_version + 1);
  END IF;
  RETURN NEW;
END $$;
-- milliseconds one statement takes, measured in the server
CREATE FUNCTION bench_ms(stmt text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
BEGIN
  EXECUTE stmt;
  RETURN 1000 * extract(epoch FROM clock_timestamp() - t0);
END $$;
-- A table per variant, with B1's columns (id, n, payload, row_version)
-- followed by ncols more: none (no trigger), floor, plpgsql, rv (rowversion),
-- and two with the version column last instead, where enable() adds it to
-- an existing table: rvlast (rowversion) and orm (no trigger; the statement
-- itself increments the version, as ORMs' version counters do).
CREATE FUNCTION bench_tables(prefix text, ncols int, variants text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v text;
  cols text := (SELECT string_agg(format(', c%s int DEFAULT 0', g), '') FROM generate_series(1, ncols) g);
BEGIN
  FOREACH v IN ARRAY variants LOOP
    IF v IN ('rvlast', 'orm') THEN
      EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, payload text%s, row_version bigint NOT NULL DEFAULT 0) WITH (fillfactor = 50)',
                     prefix || v, cols);
    ELSE
      EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, payload text, row_version bigint NOT NULL DEFAULT 0%s) WITH (fillfactor = 50)',
                     prefix || v, cols);
    END IF;
    CASE v
      WHEN 'floor' THEN
        EXECUTE format('CREATE TRIGGER t BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION bench_floor()', prefix || v);
      WHEN 'plpgsql' THEN
        EXECUTE format('CREATE TRIGGER t BEFORE INSERT OR UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION bench_plpgsql()', prefix || v);
      WHEN 'rv', 'rvlast' THEN
        PERFORM rowversion.enable((prefix || v)::regclass);
      WHEN 'rvlog' THEN
        PERFORM rowversion.enable((prefix || v)::regclass, enforce => false);
      ELSE
    END CASE;
  END LOOP;
END $$;
-- bytes of WAL one statement writes
CREATE FUNCTION bench_wal(stmt text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
  l0 pg_lsn := pg_current_wal_insert_lsn();
BEGIN
  EXECUTE stmt;
  RETURN pg_wal_lsn_diff(pg_current_wal_insert_lsn(), l0);
END $$;
-- empties a table and fills it with n rows again
CREATE FUNCTION bench_refill(tbl text, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('TRUNCATE %I', tbl);
  EXECUTE format('INSERT INTO %I (id, payload) SELECT g, ''x'' FROM generate_series(1, %s) g', tbl, n);
END $$;

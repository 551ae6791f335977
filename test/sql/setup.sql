-- Runs first: creates the extension and the helpers the other tests use.
CREATE EXTENSION rowversion;

-- Objects of the tests, apart from public so the install can't see them.
CREATE SCHEMA rvtest;
GRANT USAGE ON SCHEMA rvtest TO PUBLIC;

-- rvtest.error(sql): runs sql, which must fail, and shows the error as a
-- client sees it.  The statement's changes are rolled back.
CREATE FUNCTION rvtest.error(sql text,
  OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RAISE EXCEPTION 'statement succeeded: %', sql;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
    detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  IF message LIKE 'statement succeeded: %' THEN
    RAISE;
  END IF;
END
$$;

-- rvtest.error_fields(sql): the object fields of sql's error.
CREATE FUNCTION rvtest.error_fields(sql text,
  OUT code text, OUT schema_name text, OUT table_name text, OUT column_name text)
LANGUAGE plpgsql AS $$
DECLARE
  msg text;
BEGIN
  EXECUTE sql;
  RAISE EXCEPTION 'statement succeeded: %', sql;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, schema_name = SCHEMA_NAME,
    table_name = TABLE_NAME, column_name = COLUMN_NAME, msg = MESSAGE_TEXT;
  IF msg LIKE 'statement succeeded: %' THEN
    RAISE;
  END IF;
END
$$;

-- The extension's objects, all in schema rowversion.
SELECT e.extname, n.nspname, e.extrelocatable
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'rowversion';
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'rowversion')
  -- 17 and later also record its views' row types as members: not listed
  AND NOT (classid = 'pg_type'::regclass AND objid IN
    (SELECT oid FROM pg_type WHERE typrelid <> 0
     UNION ALL SELECT typarray FROM pg_type WHERE typrelid <> 0))
ORDER BY 1;
SHOW rowversion.sqlstate_style;

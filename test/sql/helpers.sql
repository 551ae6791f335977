-- What PUBLIC may call in schema rowversion: the functions README's
-- Reference documents (but the clock's, which are the database owner's),
-- and the trigger functions that enable() and propagate() attach (CREATE
-- TRIGGER, which they run as their caller, needs EXECUTE on them; they
-- refuse to run other than as triggers).
-- Nothing else: the work enable(), disable(), propagate() and
-- stop_propagating() do behind the scenes is not a function PUBLIC may
-- call, and the views need none.
CREATE ROLE rv_plain;
CREATE SCHEMA rv_plain_schema AUTHORIZATION rv_plain;
SET ROLE rv_plain;
SELECT rolsuper FROM pg_roles WHERE rolname = current_user;

CREATE TEMP TABLE documented (fn) AS VALUES
  ('rowversion.enable(regclass,name,text,boolean,name[],boolean)'),
  ('rowversion.disable(regclass,boolean)'),
  ('rowversion.conditional_update(regclass,"any",bigint,jsonb)'),
  ('rowversion.conditional_update(regclass,text,bigint,jsonb)'),
  ('rowversion.conditional_delete(regclass,"any",bigint)'),
  ('rowversion.conditional_delete(regclass,text,bigint)'),
  ('rowversion.conditional_write(regclass,jsonb,boolean)'),
  ('rowversion.etag(bigint)'),
  ('rowversion.etag_version(text)'),
  ('rowversion.if_match(text,bigint)'),
  ('rowversion.if_none_match(text,bigint)'),
  ('rowversion.expect_match(regclass,text)'),
  ('rowversion.postgrest_pre_request()'),
  ('rowversion.propagate(regclass,regclass,name)'),
  ('rowversion.stop_propagating(regclass,regclass,name)'),
  ('rowversion.watermark()'),
  -- trigger functions
  ('rowversion.version_trigger()'),
  ('rowversion.propagate_collect()'),
  ('rowversion.propagate_trigger()');

-- Every function this role may call is one of them (no rows)...
SELECT p.oid::regprocedure AS undocumented
FROM pg_proc AS p
WHERE p.pronamespace = 'rowversion'::regnamespace
  AND has_function_privilege(p.oid, 'EXECUTE')
  AND p.oid::regprocedure::text NOT IN (SELECT fn FROM documented)
ORDER BY 1;
-- ...and each of them exists and may be called (the trigger functions
-- only as triggers).
SELECT fn, has_function_privilege(to_regprocedure(fn), 'EXECUTE') AS callable,
       format_type(p.prorettype, NULL) AS returns
FROM documented JOIN pg_proc AS p ON p.oid = to_regprocedure(fn)
ORDER BY fn;
SELECT count(*) = (SELECT count(*) FROM documented) AS all_found
FROM documented WHERE to_regprocedure(fn) IS NOT NULL;

-- The clock's functions are the database owner's, not PUBLIC's.
SELECT fn, has_function_privilege(fn::regprocedure, 'EXECUTE') AS callable
FROM unnest(ARRAY['rowversion.clock()', 'rowversion.handover()',
                  'rowversion.advance(bigint)']) AS fn
ORDER BY fn;
RESET ROLE;
SELECT fn, has_function_privilege((SELECT pg_get_userbyid(datdba) FROM pg_database
                                   WHERE datname = current_database()),
                                  fn::regprocedure, 'EXECUTE') AS owner_may
FROM unnest(ARRAY['rowversion.clock()', 'rowversion.handover()',
                  'rowversion.advance(bigint)']) AS fn
ORDER BY fn;
SET ROLE rv_plain;

-- The helpers the install script had are gone.
SELECT name, to_regproc('rowversion.' || name) AS function
FROM unnest(ARRAY['check_table', 'find_trigger', 'trigger_arguments',
                  'find_foreign_key', 'drop_propagation_triggers']) AS name;

-- The role manages its own tables through the API alone, and reads both
-- views.
SET search_path = rv_plain_schema;
CREATE TABLE orders (id int PRIMARY KEY, note text);
CREATE TABLE lines (order_id int REFERENCES orders, line int, qty int,
  PRIMARY KEY (order_id, line));
SELECT rowversion.enable('orders', mode => 'counter', ignore_columns => '{note}');
SELECT rowversion.enable('lines', mode => 'counter', require_version => true);
SELECT rowversion.propagate('lines', 'orders');
SELECT * FROM rowversion.tables WHERE tbl IN ('orders'::regclass, 'lines'::regclass)
ORDER BY tbl::text;
SELECT * FROM rowversion.propagations WHERE child = 'lines'::regclass;
INSERT INTO orders VALUES (1, 'a');
INSERT INTO lines VALUES (1, 1, 1);
UPDATE lines SET qty = 2, row_version = 1;
SELECT o.row_version AS order_version, l.row_version AS line_version
FROM orders AS o JOIN lines AS l ON l.order_id = o.id;
SELECT rowversion.stop_propagating('lines', 'orders');
SELECT count(*) AS propagations FROM rowversion.propagations WHERE child = 'lines'::regclass;
SELECT rowversion.disable('lines', drop_column => true);
SELECT rowversion.disable('orders');
SELECT count(*) AS tables FROM rowversion.tables
WHERE tbl IN ('orders'::regclass, 'lines'::regclass);
RESET search_path;
DROP TABLE documented;
RESET ROLE;

DROP SCHEMA rv_plain_schema CASCADE;
DROP ROLE rv_plain;

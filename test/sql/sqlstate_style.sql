-- rowversion.sqlstate_style: "rowversion" raises RV001 and RV002,
-- "postgrest" raises PT412 and PT428 instead (PostgREST answers with the
-- HTTP status in the last three digits).  Never class 40.
CREATE TABLE rvtest.thing (id int PRIMARY KEY, x int);
SELECT rowversion.enable('rvtest.thing', mode => 'counter');
CREATE TABLE rvtest.strict_thing (id int PRIMARY KEY, x int);
SELECT rowversion.enable('rvtest.strict_thing', mode => 'counter', require_version => true);
INSERT INTO rvtest.thing VALUES (1, 0);
INSERT INTO rvtest.strict_thing VALUES (1, 0);

SHOW rowversion.sqlstate_style;
SELECT code FROM rvtest.error($$UPDATE rvtest.thing SET x = 1, row_version = 7$$);
SELECT code FROM rvtest.error($$UPDATE rvtest.strict_thing SET x = 1$$);

SET rowversion.sqlstate_style = postgrest;
SELECT * FROM rvtest.error($$UPDATE rvtest.thing SET x = 1, row_version = 7$$);
SELECT code FROM rvtest.error($$UPDATE rvtest.strict_thing SET x = 1$$);

-- Per transaction, per role and per database work as for any setting.
RESET rowversion.sqlstate_style;
BEGIN;
SET LOCAL rowversion.sqlstate_style = postgrest;
SELECT code FROM rvtest.error($$UPDATE rvtest.thing SET x = 1, row_version = 7$$);
COMMIT;
SELECT code FROM rvtest.error($$UPDATE rvtest.thing SET x = 1, row_version = 7$$);

-- Only the two values are accepted.
SELECT code, message FROM rvtest.error($$SET rowversion.sqlstate_style = 'http'$$);

DROP TABLE rvtest.thing, rvtest.strict_thing;

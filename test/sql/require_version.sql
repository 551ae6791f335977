-- require_version: every UPDATE must claim a version (RV002 otherwise),
-- except one that sets only ignore_columns.
CREATE TABLE rvtest.customer (id int PRIMARY KEY, name text, view_count int DEFAULT 0);
SELECT rowversion.enable('rvtest.customer', mode => 'counter', require_version => true,
                         ignore_columns => '{view_count}');
INSERT INTO rvtest.customer VALUES (1, 'ann');

-- No claim: RV002, nothing changed.
SELECT * FROM rvtest.error($$UPDATE rvtest.customer SET name = 'x' WHERE id = 1$$);
SELECT * FROM rvtest.error_fields($$UPDATE rvtest.customer SET name = 'x' WHERE id = 1$$);
-- The classic WHERE guard is no claim either.
SELECT code FROM rvtest.error($$UPDATE rvtest.customer SET name = 'x' WHERE id = 1 AND row_version = 1$$);
SELECT name, row_version FROM rvtest.customer;

-- A claim passes, "If-Match: *" too.
UPDATE rvtest.customer SET name = 'ann2', row_version = 1 WHERE id = 1;
UPDATE rvtest.customer SET name = 'ann3', row_version = row_version WHERE id = 1;
SELECT name, row_version FROM rvtest.customer;

-- An update of ignore_columns alone is exempt and keeps the version.
UPDATE rvtest.customer SET view_count = view_count + 1 WHERE id = 1;
SELECT view_count, row_version FROM rvtest.customer;

-- Foreign-key cascades are updates too: a child table that requires
-- versions refuses a cascaded key change.
CREATE TABLE rvtest.parent (id int PRIMARY KEY);
CREATE TABLE rvtest.child (id int PRIMARY KEY,
  parent_id int REFERENCES rvtest.parent ON UPDATE CASCADE);
SELECT rowversion.enable('rvtest.child', require_version => true);
INSERT INTO rvtest.parent VALUES (1);
INSERT INTO rvtest.child VALUES (10, 1);
SELECT code, message FROM rvtest.error($$UPDATE rvtest.parent SET id = 2$$);
SELECT parent_id FROM rvtest.child;

-- Turning the option off again lifts the rule.
SELECT rowversion.enable('rvtest.customer', mode => 'counter', require_version => false,
                         ignore_columns => '{view_count}');
UPDATE rvtest.customer SET name = 'free' WHERE id = 1 RETURNING row_version;

DROP TABLE rvtest.customer, rvtest.child, rvtest.parent;

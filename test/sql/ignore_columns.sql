-- ignore_columns: an UPDATE that sets only these columns (counters such as
-- view_count) keeps the version.
CREATE TABLE rvtest.post (id int PRIMARY KEY, title text, views int DEFAULT 0,
  likes int DEFAULT 0,
  popularity int GENERATED ALWAYS AS (views + likes) STORED,
  title_len int GENERATED ALWAYS AS (length(title)) STORED);
SELECT rowversion.enable('rvtest.post', mode => 'counter', ignore_columns => '{views,likes}');
INSERT INTO rvtest.post (id, title) VALUES (1, 'hello');

-- Ignored columns alone: the version stays.  Stored generated columns that
-- PostgreSQL recomputes (popularity, and before 16 title_len as well) do
-- not count, since no UPDATE can SET them.
UPDATE rvtest.post SET views = views + 1 RETURNING views, popularity, row_version;
UPDATE rvtest.post SET views = views + 1, likes = likes + 1 RETURNING views, likes, popularity, row_version;

-- Any other column in the SET list bumps the version.
UPDATE rvtest.post SET views = views + 1, title = 'hi' RETURNING row_version;
UPDATE rvtest.post SET title = title RETURNING row_version;

-- A claim alongside ignored columns is still a claim, checked and bumped.
UPDATE rvtest.post SET views = 0, row_version = 3 RETURNING row_version;
SELECT code FROM rvtest.error($$UPDATE rvtest.post SET views = 0, row_version = 3$$);

-- Without ignore_columns every UPDATE bumps.
SELECT rowversion.enable('rvtest.post', mode => 'counter');
UPDATE rvtest.post SET views = views + 1 RETURNING row_version;

DROP TABLE rvtest.post;

-- On an update of ignored columns alone the version stays, even if an
-- earlier BEFORE trigger wrote the version column.
CREATE TABLE rvtest.counted (id int PRIMARY KEY, views int DEFAULT 0);
SELECT rowversion.enable('rvtest.counted', mode => 'counter', ignore_columns => '{views}');
CREATE FUNCTION rvtest.meddle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.row_version := 42;
  RETURN NEW;
END $$;
CREATE TRIGGER a_meddle BEFORE UPDATE ON rvtest.counted
  FOR EACH ROW EXECUTE FUNCTION rvtest.meddle();
INSERT INTO rvtest.counted VALUES (1);
UPDATE rvtest.counted SET views = views + 1 RETURNING views, row_version;
DROP TABLE rvtest.counted;
DROP FUNCTION rvtest.meddle();

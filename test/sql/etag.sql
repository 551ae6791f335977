-- Entity tags of versions (RFC 9110): a strong tag, the version in decimal
-- between double quotes; and the If-Match / If-None-Match preconditions.
SELECT rowversion.etag(601), rowversion.etag(0), rowversion.etag(-5),
       rowversion.etag(9223372036854775807), rowversion.etag(NULL);
SELECT rowversion.etag_version('"601"'), rowversion.etag_version(rowversion.etag(-9223372036854775808)),
       rowversion.etag_version(NULL);
-- etag_version takes only what etag could have produced (22P02)
SELECT t, code, message
FROM (VALUES ('W/"601"'), ('601'), ('"601'), ('"0601"'), ('"+601"'), ('"-0"'), ('""'),
             ('"60 1"'), (' "601"'), ('"601" '), ('"9223372036854775808"'), ('"1e3"'), ('')) AS v(t),
     LATERAL rvtest.error(format('SELECT rowversion.etag_version(%L)', t));
SELECT * FROM rvtest.error($$SELECT rowversion.etag_version('W/"601"')$$);

-- If-Match: strong comparison, "*", lists with optional whitespace and
-- empty elements; NULL header gives NULL; a malformed header never matches.
SELECT h, rowversion.if_match(h, 601) AS at_601, rowversion.if_match(h, 602) AS at_602,
       rowversion.if_match(h, NULL) AS no_row
FROM (VALUES ('"601"'), ('W/"601"'), ('*'), (' * '), ('"600", "601"'), ('"600" ,"601" , '),
             (', ,"601"'), ('"600"'), ('"601'), ('601'), ('*, "601"'), ('"601" "602"'),
             ('"60 1"'), (''), ('   '), (','), ('"601";'), (E'"601"\t,\t"602"'), (NULL)) AS v(h);
-- If-None-Match: weak comparison (W/ tags match too), for 304 on GET.
SELECT h, rowversion.if_none_match(h, 601) AS at_601, rowversion.if_none_match(h, 602) AS at_602,
       rowversion.if_none_match(h, NULL) AS no_row
FROM (VALUES ('"601"'), ('W/"601"'), ('*'), ('W/"600", W/"601"'), ('w/"601"'), ('"601'), (NULL)) AS v(h);

-- In one statement with the write: an If-Match evaluated under the row lock.
CREATE TABLE rvtest.page (id int PRIMARY KEY, body text);
SELECT rowversion.enable('rvtest.page', mode => 'counter');
INSERT INTO rvtest.page VALUES (1, 'v1');
UPDATE rvtest.page SET body = 'v2', row_version = row_version
WHERE id = 1 AND rowversion.if_match('"1"', row_version) RETURNING rowversion.etag(row_version);
UPDATE rvtest.page SET body = 'stale', row_version = row_version
WHERE id = 1 AND rowversion.if_match('"1"', row_version) RETURNING rowversion.etag(row_version);
SELECT body, rowversion.etag(row_version) FROM rvtest.page;
DROP TABLE rvtest.page;

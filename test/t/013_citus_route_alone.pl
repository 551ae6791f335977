# Citus: conditional_update() and conditional_delete() through the
# coordinator, when the call is its statement's only work outside a
# transaction block, send their write to the worker as one statement (no
# BEGIN, no distributed transaction ID); everywhere else they keep Citus's
# transaction block, so a statement that fails after a call leaves the row
# as it was.
#
# Negative control: with citus.function_opens_transaction_block off for the
# whole session, a statement of two calls whose second fails keeps the
# first call's write; the atomicity checks below must see that.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RvCitus;

skip_without_citus();
my ($coord, @workers) = citus_cluster();

coord_sql(q{
CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
SELECT create_distributed_table('t', 'id');
SELECT rowversion.enable('t', mode => 'counter');
INSERT INTO t SELECT g FROM generate_series(1, 20) g;
CREATE FUNCTION plus_zero(v bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS 'BEGIN RETURN v; END';
CREATE FUNCTION update_then_fail(k int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v bigint;
BEGIN
  SELECT row_version INTO v FROM t WHERE id = k;
  PERFORM rowversion.conditional_update('t', k, v, '{"n": 9}');
  RAISE EXCEPTION 'fails after the write';
END $$;
});

# whether running sql (one statement a line, each in its own transaction
# unless it says otherwise) made Citus open a coordinated transaction
sub coordinated
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $coord->psql('postgres',
		"SET citus.log_remote_commands = on;\nSET client_min_messages = log;\n$sql");
	# (a statement that does not even run proves nothing)
	die "unexpected failure: $err" if $err =~ /ERROR/ && $err !~ /RV001|version/;
	return $err =~ /assign_distributed_transaction_id/ ? 1 : 0;
}
sub version_of { coord_sql("SELECT row_version FROM t WHERE id = $_[0]") }
sub n_of { coord_sql("SELECT n FROM t WHERE id = $_[0]") }

my $v = version_of(1);
is(coordinated(qq{SELECT rowversion.conditional_update('t', 1, $v, '{"n": 1}');}), 0,
	'a call alone in its statement: one statement on the worker');
is(n_of(1) . '|' . version_of(1), '1|' . ($v + 1), 'and the row is written');
$v = version_of(2);
is(coordinated(qq{SELECT rowversion.conditional_update('t', 2, ${v}::int8, jsonb_build_object('n', 2));}),
	0, 'so with built-in functions in its arguments');
is(coordinated(qq{SELECT rowversion.conditional_update('t', 3, 1, '{"n": 3}');}), 0,
	'a conflict alone in its statement too');
$v = version_of(3);
is(coordinated(qq{BEGIN;\nSELECT rowversion.conditional_update('t', 3, $v, '{"n": 3}');\nCOMMIT;}),
	1, 'in a transaction block: a coordinated transaction');
$v = version_of(4);
is(coordinated(qq{SELECT rowversion.conditional_update('t', 4, plus_zero($v), '{"n": 4}');}),
	1, 'a user function in its arguments: a coordinated transaction');
$v = version_of(5);
is(coordinated(qq{SELECT rowversion.conditional_update('t', 5, $v, '{"n": 5}') AS a, 1 AS b;}),
	1, 'another column in the statement: a coordinated transaction');
$v = version_of(6);
is(coordinated(qq{SELECT rowversion.conditional_delete('t', 6, $v);}), 0,
	'conditional_delete alone: one statement on the worker');
is(coord_sql('SELECT count(*) FROM t WHERE id = 6'), '0', 'and the row is deleted');

# atomicity: statements that fail after a call
sub two_calls
{
	my ($a, $b) = @_;
	my $va = version_of($a);
	return outcome(qq{SELECT rowversion.conditional_update('t', $a, $va, '{"n": 7}'),
  rowversion.conditional_update('t', $b, 12345, '{"n": 7}')});
}
is(two_calls(7, 8), 'RV001', 'two calls in one statement, the second stale');
is(n_of(7), '0', 'the first call is rolled back with it');
$v = version_of(9);
is(outcome(qq{SELECT rowversion.conditional_update('t', 9, $v, '{"n": 7}') FROM generate_series(1, 2)}),
	'RV001', 'one call on two rows of a generated series, the second stale');
is(n_of(9), '0', 'the first is rolled back with it');
my ($rc, $out, $err) = $coord->psql('postgres', q{SELECT update_then_fail(11)});
like($err, qr/fails after the write/, 'the function fails');
is(n_of(11), '0', 'and leaves the row as it was');

# negative control: without any transaction block for functions, the
# atomicity check above sees the first call's write survive
my $vc = version_of(12);
($rc, $out, $err) = $coord->psql('postgres', qq{SET citus.function_opens_transaction_block = off;
SELECT rowversion.conditional_update('t', 12, $vc, '{"n": 7}'),
  rowversion.conditional_update('t', 13, 12345, '{"n": 7}');});
like($err, qr/RV001|another version|version/, 'control: the statement fails');
is(n_of(12), '7', 'control: and the first write survives it');

# A Citus local table whose own trigger writes a distributed table and then
# fails: the statement fails, and nothing of it is left on the worker.
coord_sql(q{
CREATE TABLE side (id int PRIMARY KEY, note text);
SELECT create_distributed_table('side', 'id');
CREATE TABLE cl (id int PRIMARY KEY, n int);
SELECT citus_add_local_table_to_metadata('cl');
SELECT rowversion.enable('cl');
INSERT INTO cl VALUES (1, 0);
CREATE FUNCTION cl_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.side VALUES (NEW.id, 'x');
  IF NEW.n = 99 THEN RAISE EXCEPTION 'boom'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER a AFTER UPDATE ON cl FOR EACH ROW EXECUTE FUNCTION cl_trg();
});
my $clv = coord_sql(q{SELECT row_version FROM cl WHERE id = 1});
isnt(outcome(qq{SELECT rowversion.conditional_update('cl', 1, $clv, '{"n": 99}')}), 'ok',
	"a conditional_update whose table's own trigger fails after writing elsewhere fails");
is(coord_sql(q{SELECT count(*) FROM side}), '0', 'and leaves no write on the worker');

stop_cluster();
done_testing();

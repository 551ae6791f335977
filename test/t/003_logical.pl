# Logical replication: rows arrive at the subscriber with the versions the
# publisher assigned, through the initial copy and through apply, because
# the apply worker runs with session_replication_role = replica and the
# trigger (enabled the ordinary way, "origin") does not fire there.  The
# subscriber's own writes keep working on the replicated versions.
#
# Negative control, and what README says ENABLE ALWAYS does: with the
# trigger made to fire in replica role too, the subscriber gives inserted
# rows versions of its own (the comparison sees them differ), and an
# xact-mode update arrives as a claim of the publisher's new version, which
# the subscriber refuses with RV001 until the trigger is set back.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RvTest;

my $rows = knob('RV_LOGICAL_ROWS', 200, 5000);

my $schema = q{
	CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
	SELECT rowversion.enable('accounts', require_version => true);
	CREATE TABLE lines (id int PRIMARY KEY, qty int NOT NULL);
	SELECT rowversion.enable('lines', mode => 'counter');
};
my $pub = new_node('publisher', allows_streaming => 'logical');
my $sub = new_node('subscriber');
$pub->safe_psql('postgres', $schema);
$sub->safe_psql('postgres', $schema);

$pub->safe_psql('postgres', qq{
	INSERT INTO accounts SELECT g, 0 FROM generate_series(1, $rows) g;
	INSERT INTO lines SELECT g, 0 FROM generate_series(1, $rows) g;
	UPDATE accounts SET balance = 1, row_version = row_version WHERE id % 2 = 0;
	CREATE PUBLICATION rv FOR TABLE accounts, lines});
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION rv CONNECTION '$connstr' PUBLICATION rv");
$sub->wait_for_subscription_sync($pub, 'rv');

sub versions
{
	my ($node, $where) = @_;
	$where //= 'true';
	return join ' | ', map {
		$node->safe_psql('postgres', qq{
			SELECT string_agg(id || ':' || row_version, ',' ORDER BY id) FROM $_ WHERE $where})
	} qw(accounts lines);
}
is(versions($sub), versions($pub), "the initial copy of $rows rows kept the publisher's versions");

# changes through every path, applied
$pub->safe_psql('postgres', qq{
	DO \$\$
	BEGIN
	  FOR i IN 1 .. 20 LOOP
	    PERFORM rowversion.conditional_update('accounts', i, a.row_version,
	                                          jsonb_build_object('balance', a.balance + 1))
	    FROM accounts a WHERE a.id = i;
	    UPDATE lines SET qty = qty + 1 WHERE id = i;
	    COMMIT;
	  END LOOP;
	END \$\$;
	SELECT rowversion.conditional_delete('accounts', 21, row_version) FROM accounts WHERE id = 21;
	INSERT INTO accounts VALUES (21, 5);
	INSERT INTO accounts SELECT g, 7 FROM generate_series($rows + 1, $rows + 10) g;
	DELETE FROM lines WHERE id = 22});
$pub->wait_for_catchup('rv');
is(versions($sub), versions($pub), 'updates, deletes and inserts arrived with their versions');

# the subscriber's own writes still go through the trigger
my $v = $sub->safe_psql('postgres', 'SELECT row_version FROM accounts WHERE id = 30');
my $new = $sub->safe_psql('postgres',
	"SELECT rowversion.conditional_update('accounts', 30, $v, '{\"balance\": 9}')");
cmp_ok($new, '>', $v, 'a conditional update on the subscriber raises the replicated version');
my ($rc, $out, $err) = $sub->psql('postgres', 'UPDATE accounts SET balance = 0 WHERE id = 31',
	extra_params => [ '-v', 'VERBOSITY=sqlstate' ]);
like($err, qr/RV002/, 'require_version holds on the subscriber for its own writes');

# ENABLE ALWAYS: the trigger fires in the apply worker too
$sub->safe_psql('postgres', q{
	ALTER TABLE accounts ENABLE ALWAYS TRIGGER zz_rowversion;
	ALTER TABLE lines ENABLE ALWAYS TRIGGER zz_rowversion});
my $top = $rows + 100;
$pub->safe_psql('postgres', qq{
	INSERT INTO accounts VALUES ($top, 0);
	INSERT INTO lines VALUES ($top, 0), ($top + 1, 0);
	UPDATE lines SET qty = qty + 1 WHERE id = $top + 1});
$pub->wait_for_catchup('rv');
isnt(versions($sub, "id = $top"), versions($pub, "id = $top"),
	'control: with ENABLE ALWAYS, an inserted xact-mode row gets a version of the subscriber');
is($sub->safe_psql('postgres', "SELECT row_version FROM lines WHERE id = $top + 1"),
	$pub->safe_psql('postgres', "SELECT row_version FROM lines WHERE id = $top + 1"),
	'with ENABLE ALWAYS, counter mode keeps the client value and accepts old + 1');
my $offset = -s $sub->logfile;
$pub->safe_psql('postgres', q{
	SELECT rowversion.conditional_update('accounts', 40, row_version, '{"balance": 3}')
	FROM accounts WHERE id = 40});
$sub->wait_for_log(qr/ERROR:  row version conflict on table "accounts"/, $offset);
pass('with ENABLE ALWAYS, an applied xact-mode update is refused as a stale claim (RV001)');
$sub->safe_psql('postgres', 'ALTER TABLE accounts ENABLE TRIGGER zz_rowversion');
$pub->wait_for_catchup('rv');
is(versions($sub, 'id = 40'), versions($pub, 'id = 40'),
	'back to ENABLE (origin), the apply worker retries and the version arrives unchanged');

$sub->stop;
$pub->stop;
done_testing();

# Streaming replication: a standby has every row's version exactly as the
# primary assigned it; after promotion, a conditional update with a version
# read before the failover succeeds once and the second attempt is RV001.
#
# Negative control: with replay paused on the standby, the comparison must
# see the rows the primary changed since.  And a documented hazard: a
# commit that never reached the standby is lost in the failover, and the
# promoted server can hand out its version again.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RvTest;

my $rounds = knob('RV_STREAM_ROUNDS', 20, 200);

my $primary = new_node('primary', allows_streaming => 1);
$primary->safe_psql('postgres', q{
	CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
	SELECT rowversion.enable('accounts');
	CREATE TABLE lines (id int PRIMARY KEY, qty int NOT NULL);
	SELECT rowversion.enable('lines', mode => 'counter');
	INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 1000) g;
	INSERT INTO lines SELECT g, 0 FROM generate_series(1, 1000) g;
	UPDATE accounts SET balance = balance + 1 WHERE id % 3 = 0});
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# writes after the base backup reach the standby through streaming
$primary->safe_psql('postgres', qq{
	DO \$\$
	BEGIN
	  FOR i IN 1 .. $rounds LOOP
	    PERFORM rowversion.conditional_update('accounts', i, a.row_version,
	                                          jsonb_build_object('balance', a.balance + 10))
	    FROM accounts a WHERE a.id = i;
	    UPDATE lines SET qty = qty + 1 WHERE id % $rounds = i % $rounds;
	    COMMIT;
	  END LOOP;
	END \$\$});
$primary->wait_for_catchup($standby);

sub versions
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SELECT string_agg(id || ':' || row_version || ':' || balance, ',' ORDER BY id)
		FROM accounts})
	  . ' | '
	  . $node->safe_psql('postgres', q{
		SELECT string_agg(id || ':' || row_version || ':' || qty, ',' ORDER BY id)
		FROM lines});
}
my $n = $primary->safe_psql('postgres', 'SELECT count(*) FROM accounts');
is(versions($standby), versions($primary), "the standby has all $n rows at the primary's versions");

my ($rc, $out, $err) = $standby->psql('postgres',
	q{SELECT rowversion.conditional_update('accounts', 1, 1, '{}')});
like($err, qr/read-only transaction/, 'on the standby a conditional update is a read-only error');

# negative control: the comparison sees a standby that is behind
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
$primary->safe_psql('postgres', q{UPDATE accounts SET balance = balance + 1 WHERE id <= 5});
isnt(versions($standby), versions($primary), 'control: a paused standby differs from the primary');
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
$primary->wait_for_catchup($standby);
is(versions($standby), versions($primary), 'after resuming, the standby matches again');

# failover: a version read before it is still good for exactly one write
my $v7 = $primary->safe_psql('postgres', 'SELECT row_version FROM accounts WHERE id = 7');
my $v8 = $primary->safe_psql('postgres', 'SELECT row_version FROM lines WHERE id = 8');
$primary->stop('immediate');
$standby->promote;
my $new7 = $standby->safe_psql('postgres',
	qq{SELECT rowversion.conditional_update('accounts', 7, $v7, '{"balance": 100}')});
cmp_ok($new7, '>', $v7, 'after promotion, the pre-failover version is accepted once');
($rc, $out, $err) = $standby->psql('postgres',
	qq{SELECT rowversion.conditional_update('accounts', 7, $v7, '{"balance": 200}')},
	extra_params => [ '-v', 'VERBOSITY=sqlstate' ]);
like($err, qr/RV001/, 'the second attempt with it is RV001');
$standby->safe_psql('postgres', qq{UPDATE lines SET qty = 50, row_version = $v8 WHERE id = 8});
($rc, $out, $err) = $standby->psql('postgres',
	qq{UPDATE lines SET qty = 60, row_version = $v8 WHERE id = 8},
	extra_params => [ '-v', 'VERBOSITY=sqlstate' ]);
like($err, qr/RV001/, 'a counter-mode claim with it also succeeds once, then RV001');
is($standby->safe_psql('postgres', 'SELECT balance FROM accounts WHERE id = 7'
	  . " UNION ALL SELECT qty FROM lines WHERE id = 8"), "100\n50", 'only the first writes landed');

# The hazard of asynchronous replication: a commit the standby never
# received is lost in the failover, and its version can be issued again.
my $old = $standby;    # the promoted standby is the primary now
$old->backup('base2');
my $standby2 = PostgreSQL::Test::Cluster->new('standby2');
$standby2->init_from_backup($old, 'base2', has_streaming => 1);
$standby2->start;
$old->wait_for_catchup($standby2);
$standby2->stop;
my $lost = $old->safe_psql('postgres',
	q{SELECT rowversion.conditional_update('accounts', 9, row_version, '{"balance": -1}')
	  FROM accounts WHERE id = 9});
$old->stop('immediate');
$standby2->start;
$standby2->promote;
my $issued = 0;
for (1 .. 20)
{
	my $cur = $standby2->safe_psql('postgres', 'SELECT row_version FROM accounts WHERE id = 9');
	if ($cur == $lost)
	{
		$issued = 1;
		last;
	}
	last if $cur > $lost;
	$standby2->safe_psql('postgres',
		"SELECT rowversion.conditional_update('accounts', 9, $cur, '{}')");
}
ok($issued, "hazard: version $lost of a commit lost in an asynchronous failover is issued again "
	  . '(README, Scale-out: use synchronous replication)');
$standby2->stop;

done_testing();

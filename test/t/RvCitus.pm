# A Citus cluster for the TAP tests: a coordinator and two workers on this
# machine (loopback only), with Citus and rowversion created, and helpers
# that run SQL on the coordinator and report an error's SQLSTATE or message.
#
# A test that uses it first calls skip_without_citus(), which ends the test
# with "not tested: Citus is not installed" when the server has no Citus.
package RvCitus;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';

our @EXPORT = qw(skip_without_citus citus_cluster coord_sql outcome message_of
  stop_cluster);

my @nodes;

# Ends the test as skipped unless the server has Citus.
sub skip_without_citus
{
	my $sharedir = `pg_config --sharedir`;
	chomp $sharedir;
	plan skip_all => 'not tested: Citus is not installed'
	  unless -f "$sharedir/extension/citus.control";
}

# Starts the three nodes, registers the workers and creates rowversion on
# the coordinator (Citus creates it on the workers).  $conf is appended to
# every node's postgresql.conf.  Returns (coordinator, worker1, worker2).
sub citus_cluster
{
	my (%opts) = @_;
	for my $name (qw(coordinator worker1 worker2))
	{
		my $node = PostgreSQL::Test::Cluster->new($name);
		$node->init;
		$node->append_conf('postgresql.conf', <<'CONF');
log_statement = none
shared_preload_libraries = 'citus'
listen_addresses = '127.0.0.1'
max_prepared_transactions = 100
citus.shard_count = 4
CONF
		$node->append_conf('postgresql.conf', $opts{conf}) if defined $opts{conf};
		$node->append_conf('pg_hba.conf', "host all all 127.0.0.1/32 trust\n");
		$node->start;
		$node->safe_psql('postgres', 'CREATE EXTENSION citus');
		push @nodes, $node;
	}
	my ($coord, @workers) = @nodes;
	$coord->safe_psql('postgres',
		"SELECT citus_set_coordinator_host('127.0.0.1', " . $coord->port . ")");
	$coord->safe_psql('postgres',
		"SELECT citus_add_node('127.0.0.1', " . $_->port . ")") for @workers;
	$coord->safe_psql('postgres', 'CREATE EXTENSION rowversion');
	return @nodes;
}

# Runs SQL on the coordinator; dies on error.
sub coord_sql { return $nodes[0]->safe_psql('postgres', $_[0]); }

# SQLSTATE of SQL run on the coordinator, or 'ok'.
sub outcome
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $nodes[0]->psql('postgres', "\\set VERBOSITY sqlstate\n$sql");
	return 'ok' if $rc == 0;
	return $err =~ /ERROR:\s+([0-9A-Z]{5})\s*$/m ? $1 : "failed: $err";
}

# The primary message of SQL's error on the coordinator.
sub message_of
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $nodes[0]->psql('postgres', "\\set VERBOSITY terse\n$sql");
	return $err =~ /ERROR:\s+(?:[0-9A-Z]{5}:\s+)?(.*)$/m ? $1 : "no error";
}

# Stops the workers, then the coordinator.
sub stop_cluster { $_->stop for reverse @nodes; }

1;

# Helpers shared by the TAP tests in test/t: the brief/full switch, nodes
# with the extension created, and amcheck over a database.
package RvTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';

our @EXPORT = qw(brief knob new_node amcheck_problems has_verify_heapam top crashes_in_log);

# True when the test suite runs the short versions (test/tap/run --brief).
sub brief { return ($ENV{RV_TAP_BRIEF} // '') eq '1'; }

# A number from the environment, else the brief or the full default.
sub knob
{
	my ($name, $brief, $full) = @_;
	return $ENV{$name} if defined $ENV{$name} && $ENV{$name} ne '';
	return brief() ? $brief : $full;
}

# The top of the source tree.
sub top { return $ENV{TESTDIR} // '.'; }

# A started node with the extension created in database postgres; %opts go
# to init(), and conf => '...' is appended to postgresql.conf.
sub new_node
{
	my ($name, %opts) = @_;
	my $conf = delete $opts{conf};
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%opts);
	# Cluster.pm logs every statement; the workloads here run thousands.
	$node->append_conf('postgresql.conf', "log_statement = none\n");
	$node->append_conf('postgresql.conf', $conf) if defined $conf;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION rowversion');
	return $node;
}

# Whether amcheck has verify_heapam() (PostgreSQL 14 and later).
sub has_verify_heapam
{
	my ($node, $db) = @_;
	$node->safe_psql($db, 'CREATE EXTENSION IF NOT EXISTS amcheck');
	return $node->safe_psql($db, q{SELECT to_regproc('verify_heapam') IS NOT NULL}) eq 't';
}

# What amcheck finds in a database: verify_heapam() over every table and
# bt_index_check(heapallindexed) over every B-tree index, catalogs
# included (verify_heapam() where there is one).  Returns a list of
# findings (empty when all is well).
sub amcheck_problems
{
	my ($node, $db) = @_;
	$node->safe_psql($db, 'CREATE EXTENSION IF NOT EXISTS amcheck');
	# (verify_heapam() came with PostgreSQL 14)
	my $heap = !has_verify_heapam($node, $db) ? '' : $node->safe_psql(
		$db, q{
		SELECT c.oid::regclass || ': ' || v.msg
		FROM pg_class c
		CROSS JOIN LATERAL verify_heapam(c.oid, on_error_stop => false) v
		WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence <> 't'});
	my ($rc, $out, $err) = $node->psql(
		$db, q{
		SELECT count(bt_index_check(c.oid, true))
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_am a ON a.oid = c.relam
		WHERE a.amname = 'btree' AND c.relpersistence <> 't' AND i.indisvalid});
	my @problems = grep { $_ ne '' } split /\n/, $heap;
	push @problems, "bt_index_check: $err" if $rc != 0;
	return @problems;
}

# The lines of a node's server log (from byte offset on) that report a
# server process killed by a signal or a PANIC.
sub crashes_in_log
{
	my ($node, $offset) = @_;
	my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile, $offset // 0);
	return grep { /terminated by signal|PANIC:/ } split /\n/, $log;
}

1;

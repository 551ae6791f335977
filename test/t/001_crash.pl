# Crash recovery: the lost-update checker's workload (test/reliability)
# through conditional_update, the claim protocol and the classic guard, the
# postmaster killed with SIGKILL in the middle of it, restarted.  Every
# success a client was told of must be there, each counter must equal its
# logged successes, versions must be above every version seen before the
# crash (and the next update above that), and amcheck must find nothing.
#
# Negative controls: the same crash with synchronous_commit = off, the WAL
# writer stopped for the last second and every server process killed at
# once must lose acknowledged successes (and show versions going back),
# proving the checks can fail; and a heap page overwritten by hand must be
# reported by amcheck.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use RvTest;

my $secs = knob('RV_CRASH_SECONDS', 3, 10);
my $cycles = knob('RV_CRASH_CYCLES', 1, 3);
my @paths = qw(conditional claim classic conditional);
my $work = PostgreSQL::Test::Utils::tempdir;
srand(knob('RV_CRASH_SEED', 1, 1));

sub setup_workload
{
	my ($node) = @_;
	my $setup = top() . '/test/reliability/setup.sql';
	$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
		'-d', $node->connstr('postgres'), '-f', $setup ], 'checker schema');
	# each success carries the token of the client transaction that made it
	$node->safe_psql('postgres', q{
		ALTER TABLE successes ADD COLUMN token text
			DEFAULT current_setting('rv.token', true)});
}

# The processes whose parent is $pid (from /proc).
sub children_of
{
	my ($pid) = @_;
	my @kids;
	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open my $fh, '<', $stat or next;
		my $line = <$fh> // '';
		push @kids, $1 if $line =~ /^(\d+) \(.*\) \S+ (\d+)/ && $2 == $pid;
	}
	return @kids;
}

# Starts the clients and the version monitor, lets them run, kills the
# server (the postmaster alone, or with kill_all every process at once),
# and returns what the clients were told: tokens of acknowledged successes
# and the highest version the monitor saw for each row.
sub load_and_crash
{
	my ($node, $tag, %opts) = @_;
	my (@handles, @outs);
	my $txs = $secs * 4000;
	for my $c (0 .. $#paths)
	{
		my $file = "$work/$tag.client$c.sql";
		open my $fh, '>', $file or die;
		for my $t (1 .. $txs)
		{
			my $k = 1 + int(rand(4));
			print $fh "BEGIN;\nSET LOCAL rv.token = '$tag.$c.$t';\n"
			  . "SELECT write_$paths[$c]($k) AS r \\gset\nCOMMIT;\n"
			  . "\\echo ack $tag.$c.$t $k :r\n";
		}
		close $fh;
		push @outs, "$work/$tag.client$c.out";
		push @handles, IPC::Run::start(
			[ 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
			  '-d', $node->connstr('postgres'), '-f', $file ],
			'>', $outs[-1], '2>', "$work/$tag.client$c.err");
	}
	my $mfile = "$work/$tag.monitor.sql";
	open my $mh, '>', $mfile or die;
	print $mh "SELECT string_agg(id || ':' || row_version, ' ' ORDER BY id) FROM counters;\n"
	  for 1 .. $secs * 20000;
	close $mh;
	push @handles, IPC::Run::start(
		[ 'psql', '-X', '-q', '-At', '-d', $node->connstr('postgres'), '-f', $mfile ],
		'>', "$work/$tag.monitor.out", '2>', "$work/$tag.monitor.err");

	if ($opts{stop_walwriter})
	{
		# the WAL writer, stopped for the last second: asynchronous commits
		# are acknowledged, and their WAL stays in shared memory
		my $walwriter = $node->safe_psql('postgres',
			q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'});
		sleep $secs - 1;
		kill 'STOP', $walwriter;
		sleep 1;
	}
	else
	{
		sleep $secs;
	}
	my @children = children_of($node->{_pid});
	my $running = grep { $_->pumpable } @handles;
	is($running, scalar @handles, "$tag: all clients still running when the server is killed");
	if ($opts{kill_all})
	{
		kill 9, $node->{_pid}, @children;
		$node->{_pid} = undef;
	}
	else
	{
		$node->kill9;
	}
	# the orphaned backends notice the postmaster's death and exit
	for (1 .. 100)
	{
		last unless grep { kill 0, $_ } @children;
		select(undef, undef, undef, 0.1);
	}
	kill 9, grep { kill 0, $_ } @children;
	$_->finish for @handles;

	my %acked;
	for my $out (@outs)
	{
		open my $fh, '<', $out or die;
		while (<$fh>)
		{
			$acked{$1} = $2 if /^ack (\S+) (\d) ok$/;
		}
	}
	my (%seen_max, $backwards);
	$backwards = 0;
	open my $fh, '<', "$work/$tag.monitor.out" or die;
	while (<$fh>)
	{
		for my $pair (split ' ')
		{
			my ($id, $v) = split /:/, $pair;
			$backwards++ if defined $seen_max{$id} && $v < $seen_max{$id};
			$seen_max{$id} = $v if !defined $seen_max{$id} || $v > $seen_max{$id};
		}
	}
	return (\%acked, \%seen_max, $backwards);
}

# What the restarted server says about the acknowledged successes and the
# versions seen before the crash.
sub check_after
{
	my ($node, $acked, $seen_max) = @_;
	my %r;
	my %present = map { $_ => 1 } split /\n/,
	  $node->safe_psql('postgres', 'SELECT token FROM successes WHERE token IS NOT NULL');
	$r{missing} = grep { !$present{$_} } keys %$acked;
	$r{lost} = $node->safe_psql('postgres', q{
		SELECT count(*) FROM counters c
		WHERE c.value <> (SELECT count(*) FROM successes s WHERE s.id = c.id)});
	$r{dup} = $node->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT 1 FROM successes
		                      GROUP BY id, expected_version HAVING count(*) > 1) d});
	$r{behind} = 0;
	$r{not_above} = 0;
	for my $id (sort keys %$seen_max)
	{
		my $cur = $node->safe_psql('postgres',
			"SELECT row_version FROM counters WHERE id = $id");
		$r{behind}++ if $cur < $seen_max->{$id};
		my $next = $node->safe_psql('postgres',
			"SELECT rowversion.conditional_update('counters', $id, $cur, '{}')");
		$r{not_above}++ if $next <= $seen_max->{$id};
	}
	return \%r;
}

# The workload, crashed and recovered $cycles times.
my $node = new_node('crash', conf => "fsync = on\n");
setup_workload($node);
my $total_acked = 0;
for my $cycle (1 .. $cycles)
{
	my ($acked, $seen_max, $backwards) = load_and_crash($node, "cycle$cycle");
	$node->start;
	my $r = check_after($node, $acked, $seen_max);
	my $n = keys %$acked;
	$total_acked += $n;
	cmp_ok($n, '>', 0, "cycle $cycle: clients were told of $n successes")
	  or diag `tail -n 3 $work/cycle$cycle.client*`;
	is($r->{missing}, 0, "cycle $cycle: every acknowledged success survived the crash");
	is($r->{lost}, 0, "cycle $cycle: each counter equals its logged successes");
	is($r->{dup}, 0, "cycle $cycle: no two successes used the same expected version");
	is($backwards, 0, "cycle $cycle: versions never went back while the monitor watched");
	is($r->{behind}, 0, "cycle $cycle: no version is behind one seen before the crash");
	is($r->{not_above}, 0, "cycle $cycle: the next update is above every version seen before");
	my @problems = amcheck_problems($node, 'postgres');
	is(scalar @problems, 0, "cycle $cycle: amcheck finds nothing")
	  or diag join "\n", @problems;
}
my ($succ) = $node->safe_psql('postgres', 'SELECT count(*) FROM successes');
note "crash: $cycles crashes, $total_acked acknowledged successes, $succ logged in all";
$node->stop;

# Negative control: acknowledged commits that were never written.
my $control = new_node('crash_control',
	conf => "synchronous_commit = off\nshared_buffers = 64MB\nwal_buffers = 16MB\n");
setup_workload($control);
my ($acked, $seen_max) = load_and_crash($control, 'control', kill_all => 1, stop_walwriter => 1);
$control->start;
my $r = check_after($control, $acked, $seen_max);
cmp_ok($r->{missing}, '>', 0,
	"control: with synchronous_commit off the check finds $r->{missing} acknowledged successes missing");
cmp_ok($r->{behind} + $r->{not_above}, '>', 0,
	"control: and versions behind ones seen before the crash ($r->{behind} rows, $r->{not_above} next updates)");

# Negative control: a heap page overwritten by hand (found by
# verify_heapam(), PostgreSQL 14 and later).
SKIP:
{
	skip 'no verify_heapam() before PostgreSQL 14', 1
	  unless has_verify_heapam($control, 'postgres');
	$control->safe_psql('postgres', q{
		CREATE TABLE scratch (id int PRIMARY KEY, t text);
		INSERT INTO scratch SELECT g, repeat('x', 20) FROM generate_series(1, 100) g;
		CHECKPOINT});
	my $file = $control->data_dir . '/'
	  . $control->safe_psql('postgres', q{SELECT pg_relation_filepath('scratch')});
	$control->stop;
	open my $fh, '+<', $file or die "open $file: $!";
	binmode $fh;
	seek $fh, 24, 0;
	# the first ten line pointers: "normal", pointing past the end of the page
	print $fh pack('V', 0x7fff | (1 << 15) | (0x7fff << 17)) x 10;
	close $fh;
	$control->start;
	my @problems = amcheck_problems($control, 'postgres');
	cmp_ok(scalar @problems, '>', 0, 'control: amcheck reports a page overwritten by hand')
	  and note "amcheck control: $problems[0]";
}
$control->stop;

done_testing();

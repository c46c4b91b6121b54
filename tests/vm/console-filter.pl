#!/usr/bin/perl
# Passes tests/vm/run.sh's output through as it comes, but drops the guest's kernel log
# dump (between the "==== IIOUSB DMESG BEGIN/END ====" markers of tests/vm/guest/init) and,
# after it, everything but run.sh's own lines (the guest's power-off messages). Output is
# cut at carriage returns as well as newlines, so a live status line rewritten with \r
# still updates in place. Used by demo.sh; run.sh keeps the whole console in its --log file.
use strict;
use warnings;

$| = 1;
my $state = 0;    # 0: before the dump, 1: inside it, 2: after it
my $seg = '';
my $c;
while (sysread(STDIN, $c, 1)) {
	$seg .= $c;
	next unless $c eq "\n" || $c eq "\r";
	if ($state == 0 && $seg =~ /^==== IIOUSB DMESG BEGIN/) {
		$state = 1;
	} elsif ($state == 1 && $seg =~ /^==== IIOUSB DMESG END/) {
		$state = 2;
	} elsif ($state == 0 || ($state == 2 && $seg =~ /^run\.sh:/)) {
		print $seg;
	}
	$seg = '';
}
print $seg if $state != 1;

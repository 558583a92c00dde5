#!/usr/bin/perl
# Writes the tiny test database the GeoIP tests use: two adjacent /25s with different
# records but the same country (so a country map must merge them into one /24), and a
# neighbouring /24 in another country. Usage: write_tiny_mmdb.pl OUTPUT.mmdb
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $output = shift or die "usage: $0 OUTPUT.mmdb\n";
my %types = (
    country  => 'map',
    iso_code => 'utf8_string',
    city     => 'utf8_string',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 4,
    record_size              => 24,
    database_type            => 'Meridian-Test',
    languages                => ['en'],
    description              => { en => 'Meridian GeoIP test fixture' },
    map_key_type_callback    => sub { $types{ $_[0] } },
    # 192.0.2.0/24 and 198.51.100.0/24 are documentation networks (RFC 5737), which the
    # writer would otherwise drop as reserved.
    remove_reserved_networks => 0,
);
$tree->insert_network('192.0.2.0/25',    { country => { iso_code => 'DE' }, city => 'Berlin' });
$tree->insert_network('192.0.2.128/25',  { country => { iso_code => 'DE' }, city => 'Munich' });
$tree->insert_network('198.51.100.0/24', { country => { iso_code => 'FR' }, city => 'Paris' });
open my $fh, '>:raw', $output or die "$output: $!\n";
$tree->write_tree($fh);
close $fh or die "$output: $!\n";

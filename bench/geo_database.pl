#!/usr/bin/perl
# The GeoDNS bench's database: a MaxMind-schema copy ({country:{iso_code}, continent:{code}})
# of a flat-schema country database, or a synthetic one, plus a text list of its IPv4 networks.
#
# gdnsd's plugin_geoip reads only MaxMind's nested schema, and Meridian reads both, so the
# bench converts once and gives the same file to both servers. The network list (read back
# from the written file, so it is exactly what the servers see) lets the driver draw client
# subnets and predict each one's pool without a second MaxMind reader in Python.
#
#   geo_database.pl --continents FILE --out DB.mmdb --nets NETS.txt --source FLAT.mmdb
#   geo_database.pl --continents FILE --out DB.mmdb --nets NETS.txt --synthetic N --seed S
#
# FILE has one "CC CONTINENT" pair a line. NETS.txt gets "FIRST_IPV4_AS_INTEGER PREFIX CC
# CONTINENT" lines ("-" for a missing field), sorted, IPv4 networks only.
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use Math::Int128 qw(uint128);
use MaxMind::DB::Reader;
use MaxMind::DB::Writer::Tree;

my ($continents_file, $out, $nets_out, $source, $synthetic, $seed) = ('', '', '', '', 0, 1);
GetOptions(
    'continents=s' => \$continents_file,
    'out=s'        => \$out,
    'nets=s'       => \$nets_out,
    'source=s'     => \$source,
    'synthetic=i'  => \$synthetic,
    'seed=i'       => \$seed,
) or die "usage: see the top of $0\n";
die "geo_database.pl: need --continents, --out, --nets and --source or --synthetic\n"
    unless $continents_file && $out && $nets_out && ($source || $synthetic);

my %continent_of;
open my $cfh, '<', $continents_file or die "$continents_file: $!\n";
while (<$cfh>) {
    my ($cc, $continent) = split;
    $continent_of{$cc} = $continent if $cc && $continent;
}
close $cfh;
die "$continents_file: no country-continent pairs\n" unless %continent_of;

my %types = (
    country   => 'map',
    continent => 'map',
    iso_code  => 'utf8_string',
    code      => 'utf8_string',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version            => 6,
    record_size           => 28,
    # gdnsd and Meridian read the record, not the type; "Country" says there are no
    # coordinates, so neither tries a distance mode on it.
    database_type         => 'GeoIP2-Country',
    languages             => ['en'],
    description           => { en => 'Meridian bench: MaxMind-schema country database' },
    map_key_type_callback => sub { $types{ $_[0] } },
    # Keep every network of the source as it is, reserved ranges included.
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 0,
);

# Our own record per country code, so equal countries share one data section entry.
my %record_of;
sub record_for {
    my ($cc) = @_;
    return $record_of{$cc} //= do {
        my %r = (country => { iso_code => $cc });
        # A code with no continent (e.g. AN, withdrawn from ISO 3166) keeps only its country,
        # as MaxMind's own data does for such records.
        $r{continent} = { code => $continent_of{$cc} } if $continent_of{$cc};
        \%r;
    };
}

sub uint128_to_address {
    my ($ipnum, $prefix) = @_;
    my @words;
    my $n = uint128($ipnum);
    for (1 .. 8) {
        unshift @words, sprintf('%x', "" . ($n & 0xffff));
        $n >>= 16;
    }
    return join(':', @words) . "/$prefix";
}

my $inserted = 0;
if ($source) {
    my $reader = MaxMind::DB::Reader->new(file => $source);
    die "$source: an IPv6 (ipvAll) database is expected\n"
        unless $reader->metadata->ip_version == 6;
    $reader->iterate_search_tree(sub {
        my ($ipnum, $prefix, $data) = @_;
        return unless ref $data eq 'HASH';
        # Flat schema first ("country_code"), then MaxMind's own, so a MaxMind-schema source
        # passes through unchanged.
        my $cc = $data->{country_code}
            // ($data->{country} && $data->{country}{iso_code})
            // ($data->{registered_country} && $data->{registered_country}{iso_code});
        return unless defined $cc && $cc =~ /^[A-Za-z]{2}$/;
        $tree->insert_network(uint128_to_address($ipnum, $prefix), record_for(uc $cc));
        $inserted++;
    });
} else {
    # A synthetic world: N IPv4 networks (/12 to /24) with countries drawn from the table,
    # public unicast space only, so a bench without the real database still steers widely.
    srand($seed);
    my @codes = sort keys %continent_of;
    for (1 .. $synthetic) {
        my $prefix = 12 + int(rand(13));
        my $first;
        do { $first = int(rand(2**32)) } while (reserved_v4($first));
        $first &= ~((1 << (32 - $prefix)) - 1) & 0xffffffff;
        my $address = join('.', map { ($first >> $_) & 255 } (24, 16, 8, 0));
        $tree->insert_network("$address/$prefix", record_for($codes[int(rand(@codes))]));
        $inserted++;
    }
}
die "geo_database.pl: no network with a country code found\n" unless $inserted;

sub reserved_v4 {
    my ($a) = @_;
    my $top = $a >> 24;
    return $top == 0 || $top == 10 || $top == 127 || $top >= 224
        || ($a >> 20) == ((172 << 4) | 1) || ($a >> 16) == ((192 << 8) | 168)
        || ($a >> 22) == ((100 << 2) | 1);
}

my $tmp = "$out.tmp.$$";
open my $ofh, '>:raw', $tmp or die "$tmp: $!\n";
$tree->write_tree($ofh);
close $ofh or die "$tmp: $!\n";

# Read the result back: the network list is what the servers will load, not what went in.
my @nets;
my $check = MaxMind::DB::Reader->new(file => $tmp);
my $v4_end = uint128(1) << 32;
$check->iterate_search_tree(sub {
    my ($ipnum, $prefix, $data) = @_;
    my $n = uint128($ipnum);
    return unless $n < $v4_end && $prefix >= 96;  # IPv4 lives in ::/96 (v4compat)
    my $cc = $data->{country} ? $data->{country}{iso_code} : '-';
    my $continent = $data->{continent} ? $data->{continent}{code} : '-';
    push @nets, "" . $n . " " . ($prefix - 96) . " $cc $continent\n";
});
open my $nfh, '>', "$nets_out.tmp.$$" or die "$nets_out: $!\n";
print $nfh @nets;
close $nfh or die "$nets_out: $!\n";
rename "$nets_out.tmp.$$", $nets_out or die "$nets_out: $!\n";
rename $tmp, $out or die "$out: $!\n";
printf STDERR "geo_database.pl: %d networks in, %d IPv4 networks out, %s\n", $inserted,
    scalar(@nets), $out;

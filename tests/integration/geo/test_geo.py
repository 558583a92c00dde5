"""GeoDNS steering through the real binary, as clients see it, from three location sources:

- `nets`: nothing but the config. [[geoip.nets]] on loopback and documentation networks place
  clients, so the resolver's own source address (127.0.x.y) or the EDNS Client Subnet it sends
  decides the pool; the zone's records answer everyone else. Hermetic: no database.
- `database`: the City-shaped test database the build writes from
  tests/fixtures/maxmind/Meridian-City-Test.json (MERIDIAN_FIXTURES_DIR), with [[geoip.nets]]
  placing the loopback resolvers; always runs.
- `maxmind`: the same checks on MaxMind's own test databases, its corrupt ones and a real CC0
  country database (MERIDIAN_SHARED_DIR/geoip, ../shared beside the checkout by default).
mmdblookup (mmdb-bin) is the independent reader of every fact the database expectations rest
on. CTest runs the file once per source (MERIDIAN_GEO_SOURCE): test_geo (nets),
test_geo_database, test_geo_maxmind (skipped where ../shared is absent), the checks from the
::1 resolver as test_geo_ipv6 (MERIDIAN_TEST_PART=ipv6; skipped without ::1) and the kdig one
as test_geo_kdig.

The behaviours every source shares are one test each, run once per source (name[nets],
name[database], name[maxmind]): without ECS the resolver's address decides; the first and last
address of the ECS scope get the same answer; the scope is 0 where the answer does not depend
on the client (local mode, NXDOMAIN, static and unsteered names) and for source prefix 0; a
CNAME into a steered name is steered; malformed ECS gets FORMERR; ecs_from ignores other
resolvers' ECS; ecs = false ignores the option.

Only with config nets: the exact scope of a net, the local policy, kdig, `explain` and `check`
on geo configs. Only with a database: map (subdivision, country, continent, default) and
nearest by the subnet, the echoed ECS, a scope never longer than the database network
mmdblookup reports (RFC 7871 §7.2.1), the zone's own records for an unknown location and when
the decided pools have no address of the queried type, TTLs, nets that beat the database,
[geoip.paths], a flat-schema country database steering by country_code, and `meridian check`
refusing corrupt and wrong databases.
"""

import ipaddress
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    FIXTURES_DIR, LOOPBACK, SHARED_DIR, Meridian, Skipped, describe, expect, has_ipv6_loopback,
    kdig, make_query, part, query, run_meridian, run_tests, rcode_of, skip_notice, stop_server,
    toml_string, toml_table, udp_raw, variants, zone_file)

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

ORIGIN = "geo.example."


# ---------------------------------------------------------------------------------------------
# Source `nets`: config nets place every client; the zone's records at www answer the rest.


NETS_ZONE = zone_file(ORIGIN, """www    A   192.0.2.53
www    AAAA 2001:db8::53
alias  CNAME www
static A   192.0.2.99
""", ttl=3600, soa_timers="7 7200 3600 1209600 300")

NETS_ECS_FROM = 'ecs_from = ["127.0.0.0/8", "::1/128"]'
NETS_TABLES = "\n".join([
    toml_table("geoip.nets", networks=["127.0.1.0/24", "198.51.100.0/24"], country="DE"),
    toml_table("geoip.nets", networks=["127.0.2.0/24", "203.0.113.0/25", "2001:db8:aa::/48",
                                       "::1/128"], country="SG"),
    toml_table("geoip.nets", networks=["127.0.3.0/24"], pools=["iad"]),
    toml_table("pool", name="fra", addresses=["192.0.2.10", "2001:db8::10"]),
    toml_table("pool", name="sin", addresses=["192.0.2.20"]),
    toml_table("pool", name="iad", addresses=["192.0.2.30", "2001:db8::30"]),
]) + """
[[geo]]
name = "www.geo.example."
mode = "map"
ttl = 30
[geo.map]
country = { "DE" = ["fra"] }
continent = { "AS" = ["sin", "fra"] }

[[geo]]
name = "pop.geo.example."
mode = "local"
"""

FRA, SIN, IAD, ANYCAST = "192.0.2.10", "192.0.2.20", "192.0.2.30", "192.0.2.53"


def nets_config(geoip_lines=(NETS_ECS_FROM,)):
    return "\n[geoip]\n" + "".join(f"{line}\n" for line in geoip_lines) + "\n" + NETS_TABLES


def nets_meridian(config):
    return Meridian(server={"pool": "iad"}, zones=[("geo.example.zone", ORIGIN)],
                    extra_config=config, files={"zones/geo.example.zone": NETS_ZONE})


# ---------------------------------------------------------------------------------------------
# Sources `database` and `maxmind`: a City-shaped database (CityDatabase, below); config nets
# place only the loopback resolvers.


MMDBLOOKUP = shutil.which("mmdblookup")


# The zone's own records at each steered name are the fallback answer.
DATABASE_ZONE = f"""$ORIGIN {ORIGIN}
$TTL 300
@          SOA   ns1 hostmaster 2024010101 7200 900 1209600 60
@          NS    ns1
ns1        A     192.0.2.1
map        A     192.0.2.250
map        AAAA  2001:db8::250
map        TXT   "only A and AAAA are steered"
alias      CNAME map
nodefault  A     192.0.2.251
nodefault  AAAA  2001:db8::251
nearest    120   A     192.0.2.252
nearest    120   AAAA  2001:db8::252
local      A     192.0.2.253
local      AAAA  2001:db8::253
static     A     192.0.2.200
static     AAAA  2001:db8::200
"""
ZONE_RECORDS = {
    "map": {"A": {"192.0.2.250"}, "AAAA": {"2001:db8::250"}},
    "nodefault": {"A": {"192.0.2.251"}, "AAAA": {"2001:db8::251"}},
    "nearest": {"A": {"192.0.2.252"}, "AAAA": {"2001:db8::252"}},
    "local": {"A": {"192.0.2.253"}, "AAAA": {"2001:db8::253"}},
    "static": {"A": {"192.0.2.200"}, "AAAA": {"2001:db8::200"}},
    "new": {"A": set(), "AAAA": set()},  # not in the zone file: the policy creates it
}

# name -> (A addresses, AAAA addresses, (latitude, longitude) or None)
POOLS = {
    "sjc": (["198.51.100.1"], ["2001:db8:1::1"], (37.34, -121.89)),
    "iad": (["198.51.100.2"], ["2001:db8:2::1"], (38.95, -77.45)),
    "fra": (["198.51.100.3"], ["2001:db8:3::1"], (50.11, 8.68)),
    "lon": (["198.51.100.4"], ["2001:db8:4::1"], (51.51, -0.13)),
    "sin": (["198.51.100.5"], ["2001:db8:5::1"], (1.35, 103.99)),
    "syd": (["198.51.100.6"], [], (-33.87, 151.21)),  # no IPv6: AAAA goes to the next pool
    "dflt": (["198.51.100.7"], ["2001:db8:7::1"], None),
    "v6only": ([], ["2001:db8:8::1"], None),
}
NEAREST_POOLS = ["sjc", "iad", "fra", "lon", "sin", "syd"]
MAP_RULES = """subdivision = { "US-CA" = ["sjc"] }
country = { "US" = ["iad"], "GB" = ["lon"], "JP" = ["v6only"], "CN" = ["v6only", "sin"] }
continent = { "EU" = ["fra"], "AS" = ["sin"] }
default = ["dflt"]"""

# Loopback resolvers placed by [[geoip.nets]] (the database has no loopback): the resolver's
# own address decides when a query has no ECS.
RESOLVER_NETS = [
    (["127.0.1.0/24"], 'subdivision = "US-CA"'),
    (["127.0.1.128/25"], 'country = "GB"'),  # inside the /24 above: the longest prefix wins
    (["127.0.2.0/24"], 'country = "GB"'),
    (["127.0.3.0/24"], 'continent = "EU"'),
    (["127.0.4.0/24"], "location = [1.35, 103.99]"),
    (["127.0.5.0/24"], 'pools = ["syd"]'),
    (["::1/128"], "location = [35.68, 139.75]"),
]


def pool_tables(pools=POOLS):
    lines = []
    for name, (v4, v6, location) in pools.items():
        lines += ["[[pool]]", f"name = {toml_string(name)}",
                  "addresses = [" + ", ".join(toml_string(a) for a in v4 + v6) + "]"]
        if location:
            lines.append(f"location = [{location[0]}, {location[1]}]")
        lines.append("")
    return "\n".join(lines)


def nets_tables(nets):
    lines = []
    for networks, decision in nets:
        lines += ["[[geoip.nets]]",
                  "networks = [" + ", ".join(toml_string(n) for n in networks) + "]",
                  decision, ""]
    return "\n".join(lines)


def geo_config(database, nets=RESOLVER_NETS, geoip_lines=()):
    return "\n".join([
        "[geoip]",
        f"database = {toml_string(str(database))}",
        *geoip_lines,
        "",
        nets_tables(nets),
        pool_tables(),
        "[[geo]]", f'name = "map.{ORIGIN}"', 'mode = "map"', "ttl = 30",
        "[geo.map]", MAP_RULES, "",
        "[[geo]]", f'name = "nodefault.{ORIGIN}"', 'mode = "map"',
        "[geo.map]", 'country = { "US" = ["iad"] }', "",
        "[[geo]]", f'name = "nearest.{ORIGIN}"', 'mode = "nearest"',
        "pools = [" + ", ".join(toml_string(p) for p in NEAREST_POOLS) + "]", "",
        "[[geo]]", f'name = "local.{ORIGIN}"', 'mode = "local"', "",
        "[[geo]]", f'name = "new.{ORIGIN}"', 'mode = "map"',
        "[geo.map]", 'country = { "US" = ["iad"] }', "",
    ])


def geo_meridian(extra_config):
    return Meridian(server={"pool": "fra"}, zones=[("geo.example.zone", ORIGIN)],
                    extra_config=extra_config,
                    files={"zones/geo.example.zone": DATABASE_ZONE})


# ---------------------------------------------------------------------------------------------
# The independent reader: mmdblookup


def mmdb_text(database, address, *path):
    completed = subprocess.run([MMDBLOOKUP, "--file", str(database), "--ip", address,
                                "--verbose", *path],
                               capture_output=True, text=True, timeout=20)
    return completed.stdout + completed.stderr


def mmdb_network(database, address):
    """The database network holding `address` (found or empty), by mmdblookup's 'Record prefix
    length', converted to the address's own bits (an IPv4 address in an IPv6 tree sits at
    ::/96, so mmdblookup reports 96 more)."""
    text = mmdb_text(database, address)
    length = re.search(r"Record prefix length: (\d+)", text)
    version = re.search(r"IP version:\s+IPv(\d)", text)
    if not length or not version:
        raise RuntimeError(f"mmdblookup gave no prefix length for {address}:\n{text}")
    bits = int(length.group(1))
    ip = ipaddress.ip_address(address)
    if ip.version == 4 and version.group(1) == "6":
        bits -= 96
    return ipaddress.ip_network((ip, bits), strict=False)


def mmdb_value(database, address, *path):
    """One value at `path` (["country", "iso_code"]) as text, or None when absent."""
    text = mmdb_text(database, address, *path)
    if "Could not find an entry" in text:
        return None
    value = re.search(r'^\s*"?([^"\n<]*?)"?\s*<(utf8_string|double|float)>\s*$', text, re.M)
    return value.group(1) if value else None


def mmdb_location(database, address):
    """(country, subdivision as "US-CA", continent, (lat, lon) or None) from the database."""
    country = mmdb_value(database, address, "country", "iso_code")
    subdivision = mmdb_value(database, address, "subdivisions", "0", "iso_code")
    continent = mmdb_value(database, address, "continent", "code")
    latitude = mmdb_value(database, address, "location", "latitude")
    longitude = mmdb_value(database, address, "location", "longitude")
    coordinates = (float(latitude), float(longitude)) if latitude and longitude else None
    return (country, f"{country}-{subdivision}" if country and subdivision else None, continent,
            coordinates)


def masked(address, prefix):
    """The ECS address as Meridian sees it: `address` with the bits past `prefix` cleared."""
    return str(ipaddress.ip_network((address, prefix), strict=False).network_address)


# ---------------------------------------------------------------------------------------------
# Expectations, from the contract: the first pool of the decided list with addresses of the
# queried type, else the zone's own records at the name.


def distance_km(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((la2 - la1) / 2) ** 2
         + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def pool_answer(pools, qtype, fallback):
    for pool in pools:
        addresses = POOLS[pool][0 if qtype == "A" else 1]
        if addresses:
            return set(addresses)
    return set(fallback[qtype])


def nearest_order(coordinates):
    return sorted(NEAREST_POOLS, key=lambda p: distance_km(coordinates, POOLS[p][2]))


class Case:
    """One ECS subnet with what the database says about it (checked with mmdblookup) and the
    pools each policy decides. `map_pools` None means the zone's records (unknown location)."""

    def __init__(self, address, prefix, location, map_pools, level, nearest=None,
                 nodefault=None):
        self.address, self.prefix = address, prefix
        self.location = location  # (country, subdivision, continent, has coordinates)
        self.map_pools, self.level = map_pools, level
        self.nearest = nearest  # the nearest pool, None without coordinates
        self.nodefault = nodefault
        self.order = None  # nearest: the candidate pools by distance, from the database

    def __repr__(self):
        return f"{self.address}/{self.prefix}"


# ECS subnets of MaxMind's GeoIP2-City-Test.mmdb.
MAXMIND_CASES = [
    # IPv4
    Case("214.78.120.0", 24, ("US", "US-CA", "NA", True), ["sjc"], "subdivision", "sjc", ["iad"]),
    Case("216.160.83.60", 32, ("US", "US-WA", "NA", True), ["iad"], "country", "sjc", ["iad"]),
    Case("149.101.100.0", 28, ("US", None, "NA", True), ["iad"], "country", "iad", ["iad"]),
    Case("81.2.69.170", 32, ("GB", "GB-ENG", "EU", True), ["lon"], "country", "lon", []),
    Case("2.3.3.0", 24, (None, None, "EU", False), ["fra"], "continent", None, []),
    Case("89.160.20.200", 32, ("SE", "SE-E", "EU", True), ["fra"], "continent", "fra", []),
    Case("67.43.156.0", 24, ("BT", None, "AS", True), ["sin"], "continent", "sin", []),
    Case("175.16.199.0", 24, ("CN", "CN-22", "AS", True), ["v6only", "sin"], "country", "sin",
         []),
    Case("214.0.1.0", 24, ("AU", "AU-VIC", "OC", True), ["dflt"], "default", "syd", []),
    Case("8.8.8.0", 24, None, None, "unknown (not in the database)"),
    Case("214.1.1.0", 24, None, None, "unknown (an empty record)"),
    # IPv6
    Case("2001:480:10::", 56, ("US", "US-CA", "NA", True), ["sjc"], "subdivision", "sjc",
         ["iad"]),
    Case("2001:0:d8a0:5340::", 64, ("US", "US-WA", "NA", True), ["iad"], "country", "sjc",
         ["iad"]),  # Teredo: an alias of 216.160.83.64/29
    Case("2a02:d3c0::", 48, ("GB", None, "EU", True), ["lon"], "country", "lon", []),
    Case("2001:218::", 48, ("JP", None, "AS", True), ["v6only"], "country", "sin", []),
    Case("2001:250::", 48, ("CN", None, "AS", True), ["v6only", "sin"], "country", "sin", []),
    Case("2a02:d500::", 48, (None, None, "EU", True), ["fra"], "continent", "fra", []),
    Case("2a02:e900::", 48, ("IE", None, "EU", True), ["fra"], "continent", "lon", []),
    Case("2a02:e700::", 48, ("LY", None, "AF", True), ["dflt"], "default", "fra", []),
    Case("2001:db8::", 48, None, None, "unknown (not in the database)"),
    Case("2001:0:d601:100::", 56, None, None, "unknown (an empty record)"),
]

# The same kinds of subnet in the build's Meridian-City-Test.mmdb (its JSON source says why
# each network is there).
FIXTURE_CASES = [
    # IPv4
    Case("100.64.0.0", 24, ("US", "US-CA", "NA", True), ["sjc"], "subdivision", "sjc", ["iad"]),
    Case("100.64.8.12", 32, ("US", "US-WA", "NA", True), ["iad"], "country", "sjc", ["iad"]),
    Case("100.64.9.0", 28, ("US", None, "NA", True), ["iad"], "country", "iad", ["iad"]),
    Case("100.64.16.170", 32, ("GB", "GB-ENG", "EU", True), ["lon"], "country", "lon", []),
    Case("100.64.17.0", 24, (None, None, "EU", False), ["fra"], "continent", None, []),
    Case("100.64.18.200", 32, ("SE", "SE-AB", "EU", True), ["fra"], "continent", "fra", []),
    Case("100.64.24.0", 24, ("BT", None, "AS", True), ["sin"], "continent", "sin", []),
    Case("100.64.25.0", 24, ("CN", "CN-JL", "AS", True), ["v6only", "sin"], "country", "sin",
         []),
    Case("100.64.32.0", 24, ("AU", "AU-VIC", "OC", True), ["dflt"], "default", "syd", []),
    Case("100.127.0.0", 24, None, None, "unknown (not in the database)"),
    Case("100.64.40.0", 24, None, None, "unknown (an empty record)"),
    # IPv6
    Case("2001:db8:10::", 56, ("US", "US-CA", "NA", True), ["sjc"], "subdivision", "sjc",
         ["iad"]),
    Case("2001:0:6440:808::", 64, ("US", "US-WA", "NA", True), ["iad"], "country", "sjc",
         ["iad"]),  # Teredo: an alias of 100.64.8.8/29
    Case("2001:db8:20::", 48, ("GB", None, "EU", True), ["lon"], "country", "lon", []),
    Case("2001:db8:30::", 48, ("JP", None, "AS", True), ["v6only"], "country", "sin", []),
    Case("2001:db8:31::", 48, ("CN", None, "AS", True), ["v6only", "sin"], "country", "sin", []),
    Case("2001:db8:40::", 48, (None, None, "EU", True), ["fra"], "continent", "fra", []),
    Case("2001:db8:41::", 48, ("IE", None, "EU", True), ["fra"], "continent", "lon", []),
    Case("2001:db8:42::", 48, ("LY", None, "AF", True), ["dflt"], "default", "fra", []),
    Case("2001:db8::", 48, None, None, "unknown (not in the database)"),
    Case("2001:0:6440:2800::", 56, None, None, "unknown (an empty record)"),
]


class CityDatabase:
    """A City-shaped database with the ECS subnets the checks ask about. `cases` lists subnets
    of every kind (see Case); the named ones are those single checks use: `us_ca` a /24 of a
    wider US-CA network, `us_ca_beside` an address of that network outside the /24, `gb` and
    `gb_v6` in GB, `us_ca_v6`, `unmatched` (no map rule: the default). `registered` is (address,
    country it is registered in, the pool that gives with [geoip.paths] country =
    registered_country). `flat` is a flat-schema country database with (address, prefix,
    country_code, pool) cases; `corrupt(folder)` lists databases `check` must refuse."""

    def __init__(self, path, cases, us_ca, us_ca_beside, gb, gb_v6, us_ca_v6, unmatched,
                 registered, flat, flat_cases, corrupt):
        self.path, self.cases = path, cases
        self.us_ca, self.us_ca_beside, self.gb, self.gb_v6 = us_ca, us_ca_beside, gb, gb_v6
        self.us_ca_v6, self.unmatched = us_ca_v6, unmatched
        self.registered, self.flat, self.flat_cases = registered, flat, flat_cases
        self.corrupt = corrupt

    def unknown_subnets(self):
        return [(case.address, case.prefix) for case in self.cases if case.location is None]

    def cases_with_v6only_first(self):
        """Subnets whose first pool (v6only) has no IPv4 address."""
        return [case for case in self.cases if (case.map_pools or [None])[0] == "v6only"]


def maxmind_corrupt(_folder):
    """MaxMind's corpus of broken databases: invalid metadata, corrupt search trees, records
    pointing into the separator, oversized and over-deep data, an impossible build epoch."""
    bad = sorted((SHARED_DIR / "geoip" / "maxmind-test" / "bad").glob("*.mmdb"))
    if not bad:
        raise RuntimeError(f"no databases in {SHARED_DIR / 'geoip' / 'maxmind-test' / 'bad'}")
    return bad


def fixture_corrupt(folder):
    """Damaged copies of the build's City database, and its ASN-shaped one (a database that
    opens but locates nothing: the wrong file in the config)."""
    city = FIXTURE_CITY.path.read_bytes()
    truncated = folder / "truncated-city.mmdb"
    truncated.write_bytes(city[:len(city) // 3])
    pointing_nowhere = folder / "search-tree-pointing-nowhere.mmdb"
    pointing_nowhere.write_bytes(b"\xff" * 70 + city[70:])
    return [truncated, pointing_nowhere, FIXTURES_DIR / "maxmind" / "Meridian-ASN-Test.mmdb"]


MAXMIND_GEOIP = SHARED_DIR / "geoip"
MAXMIND_CITY = CityDatabase(
    MAXMIND_GEOIP / "maxmind-test" / "GeoIP2-City-Test.mmdb", MAXMIND_CASES,
    us_ca=("214.78.120.0", 24), us_ca_beside=("214.78.121.9", 32), gb=("81.2.69.170", 32),
    gb_v6=("2a02:d3c0::", 48), us_ca_v6=("2001:480:10::", 56), unmatched=("214.0.1.0", 24),
    registered=[("2.125.160.216", "FR", "fra"),   # placed in GB, registered FR: continent EU
                ("81.2.69.170", "US", "iad"),     # placed in GB
                ("149.101.100.0", "GB", "lon")],  # placed in the US
    flat=MAXMIND_GEOIP / "real" / "geo-whois-asn-country.mmdb",
    flat_cases=[("8.8.8.0", 24, "US", "iad"), ("194.25.2.0", 24, "DE", "fra"),
                ("81.2.69.0", 24, "GB", "lon"), ("1.1.1.0", 24, "AU", "dflt"),
                ("2003::", 32, "DE", "fra"), ("2001:4860::", 32, "US", "iad")],
    corrupt=maxmind_corrupt)
FIXTURE_CITY = CityDatabase(
    FIXTURES_DIR / "maxmind" / "Meridian-City-Test.mmdb", FIXTURE_CASES,
    us_ca=("100.64.0.0", 24), us_ca_beside=("100.64.1.9", 32), gb=("100.64.16.170", 32),
    gb_v6=("2001:db8:20::", 48), us_ca_v6=("2001:db8:10::", 56), unmatched=("100.64.32.0", 24),
    registered=[("100.64.19.5", "FR", "fra"), ("100.64.16.170", "US", "iad"),
                ("100.64.9.5", "GB", "lon")],
    flat=FIXTURES_DIR / "maxmind" / "Meridian-Flat-Country-Test.mmdb",
    flat_cases=[("100.64.1.0", 24, "US", "iad"), ("100.65.2.0", 24, "DE", "fra"),
                ("100.66.3.0", 24, "GB", "lon"), ("100.67.4.0", 24, "AU", "dflt"),
                ("2001:db8:de::", 48, "DE", "fra"), ("2001:db8:1::", 48, "US", "iad")],
    corrupt=fixture_corrupt)

STEERED = ("map", "nodefault", "nearest")


def expected_answer(name, case, qtype):
    fallback = ZONE_RECORDS[name]
    if name == "map":
        return pool_answer(case.map_pools or [], qtype, fallback)
    if name == "nodefault":
        return pool_answer(case.nodefault or [], qtype, fallback)
    if name == "nearest":
        # Sorted by distance from the coordinates mmdblookup reports; none: the zone's.
        return pool_answer(case.order or [], qtype, fallback)
    raise ValueError(name)


# ---------------------------------------------------------------------------------------------
# Asking


class Failures:
    """Collects every mismatch of one test, so one run reports them all."""

    def __init__(self):
        self.items = []

    def check(self, condition, what, expected, got):
        if not condition:
            self.items.append(f"{what}\n    expected: {expected}\n    got:      {got}")

    def raise_any(self):
        if self.items:
            raise AssertionError(f"{len(self.items)} mismatches:\n  " + "\n  ".join(self.items))


def ecs_option(address, prefix):
    return dns.edns.ECSOption(address, prefix)


def ask(server, name, qtype, ecs=None, source=None, address=LOOPBACK, transport="udp"):
    """(response, answered addresses of qtype, echoed ECS option or None, query text)."""
    qname = name if name.endswith(".") else f"{name}.{ORIGIN}"
    options = [ecs_option(*ecs)] if ecs else None
    message = make_query(qname, qtype, options=options)
    response = query(server.port, message, transport=transport, address=address, source=source)
    rdtype = dns.rdatatype.from_text(qtype)
    answered = {rd.to_text() for rrset in response.answer if rrset.rdtype == rdtype
                for rd in rrset}
    echoed = None
    for option in response.options:
        if option.otype == dns.edns.ECS:
            echoed = option
    what = (f"{qname} {qtype}" + (f" ECS {ecs[0]}/{ecs[1]}" if ecs else " without ECS")
            + f" from {source or address} over {transport}")
    return response, answered, echoed, what


def scope_of(echoed):
    return None if echoed is None else echoed.scopelen

# ---------------------------------------------------------------------------------------------
# Fixtures


def check_case_facts(city):
    """The cases rest on what the database says; check it with mmdblookup, and work out the
    nearest order from the coordinates it reports."""
    wrong = []
    for case in city.cases:
        subnet = masked(case.address, case.prefix)
        location = mmdb_location(city.path, subnet)
        if case.location is None:
            if any(location[:3]) or location[3]:
                wrong.append(f"{case}: expected no location, mmdblookup says {location}")
            continue
        country, subdivision, continent, has_coordinates = case.location
        if location[:3] != (country, subdivision, continent) or \
                bool(location[3]) != has_coordinates:
            wrong.append(f"{case}: expected {case.location}, mmdblookup says {location}")
            continue
        if location[3]:
            case.order = nearest_order(location[3])
            if case.order[0] != case.nearest:
                wrong.append(f"{case}: nearest pool by mmdblookup's coordinates is "
                             f"{case.order[0]}, the case says {case.nearest}")
    if wrong:
        raise RuntimeError(f"the test's cases disagree with {city.path}:\n  " +
                           "\n  ".join(wrong))


# ---------------------------------------------------------------------------------------------
# The two location sources, each with its server (started by setup) and, for every behaviour
# both share, the cases that fit its config.


class LocationSource:
    label = None
    unavailable = None  # why it cannot run here, or None
    running = None  # the server setup() started

    def __str__(self):
        return self.label

    def require(self):
        if self.unavailable:
            raise Skipped(self.unavailable)

    @property
    def server(self):
        self.require()
        return self.running

    def start(self, config=None):
        self.require()
        return self.meridian(self.config() if config is None else config).start()


class NetsSource(LocationSource):
    label = "nets"
    steered = "www"  # the map policy's name
    ecs_octets = (198, 51, 100)  # a /24 in DE

    def meridian(self, config):
        return nets_meridian(config)

    def config(self, geoip_lines=(NETS_ECS_FROM,)):
        return nets_config(geoip_lines)

    def resolver_cases(self, ipv6=False):
        # (source, server address, name, qtype, answer, TTL): the policy's 30, the zone's 3600
        if ipv6:
            return [("::1", "::1", "www", "A", {SIN}, 30)]  # ::1/128 is a net in SG
        return [(source, LOOPBACK, "www", "A", {pool}, 3600 if pool == ANYCAST else 30)
                for source, pool in (("127.0.1.7", FRA), ("127.0.2.7", SIN),
                                     ("127.0.3.7", IAD), ("127.0.9.9", ANYCAST))]

    def scope_cases(self):
        return [("www", "AAAA" if ":" in subnet[0] else "A", subnet)
                for subnet in (("198.51.100.0", 24), ("203.0.113.0", 24), ("100.64.0.0", 24),
                               ("2001:db8:aa::", 56))]

    def zero_scope_cases(self):
        subnets = [("198.51.100.0", 24)]
        questions = [("static", "A", None, dns.rcode.NOERROR),     # a static name
                     ("nothing", "A", None, dns.rcode.NXDOMAIN),
                     ("www", "MX", None, dns.rcode.NOERROR),       # an unsteered type
                     ("pop", "A", None, dns.rcode.NOERROR)]        # a local policy
        return subnets, questions

    def prefix_zero_cases(self, ipv6=False):
        # 127.0.2.7 and ::1 are in SG
        if ipv6:
            return [("::1", "::1", ("::", 0), "www", "A", {SIN})]
        return [("127.0.2.7", LOOPBACK, ("0.0.0.0", 0), "www", "A", {SIN})]

    def cname_cases(self):
        # (subnet, answer, scope range): the DE net is a /24
        return [(("198.51.100.0", 24), {FRA}, 24, 24)]

    def ecs_from_cases(self):
        # (config, [(resolver outside ecs_from, subnet, answer by the resolver)],
        #  [(resolver in ecs_from, subnet, answer by the subnet)])
        return (self.config(['ecs_from = ["127.0.3.0/24"]']),
                [("127.0.2.7", ("198.51.100.0", 24), {SIN})],
                [("127.0.3.7", ("198.51.100.0", 24), {FRA})])

    def ecs_off_cases(self):
        # 127.0.1.7 is in DE, the subnet in SG
        return (self.config(["ecs = false", NETS_ECS_FROM]),
                [("127.0.1.7", ("203.0.113.0", 24), {FRA})])


NETS_LOCATIONS = {"127.0.4.5": (1.35, 103.99), "::1": (35.68, 139.75)}  # as in RESOLVER_NETS
RESOLVER_CASES = [
    # source, map answer pools (None: zone), nearest answer pools (None: zone)
    ("127.0.1.5", ["sjc"], None),        # nets: subdivision US-CA, no coordinates
    ("127.0.1.200", ["lon"], None),      # the /25 inside it: country GB
    ("127.0.2.5", ["lon"], None),        # country GB
    ("127.0.3.5", ["fra"], None),        # continent EU
    ("127.0.4.5", ["dflt"], "sin"),      # coordinates only: located, no map rule -> default
    ("127.0.5.5", ["syd"], ["syd"]),     # straight to pool syd (no IPv6 -> zone's AAAA)
    ("127.0.0.1", None, None),           # in no net and not in the database: unknown
    ("::1", ["dflt"], "sin"),            # Tokyo by coordinates
]


class DatabaseSource(LocationSource):
    steered = "map"

    def __init__(self, label, city):
        self.label, self.city = label, city
        self.ecs_octets = tuple(int(octet) for octet in city.us_ca[0].split(".")[:3])

    def meridian(self, config):
        return geo_meridian(config)

    def config(self, geoip_lines=(), nets=RESOLVER_NETS):
        return geo_config(self.city.path, nets=nets, geoip_lines=geoip_lines)

    def resolver_cases(self, ipv6=False):
        cases = []
        for source, map_pools, nearest in RESOLVER_CASES:
            address = "::1" if ":" in source else LOOPBACK
            if (address == "::1") != ipv6:
                continue
            if isinstance(nearest, str):  # by distance from the net's coordinates
                order = nearest_order(NETS_LOCATIONS[source])
                if order[0] != nearest:
                    raise RuntimeError(f"fixture: nearest to {source} is {order[0]}, "
                                       f"not {nearest}")
                nearest = order
            for qtype in ("A", "AAAA"):
                for name, pools in (("map", map_pools), ("nearest", nearest),
                                    ("local", ["fra"])):
                    expected = pool_answer(pools or [], qtype, ZONE_RECORDS[name])
                    cases.append((source, address, name, qtype, expected, None))
        return cases

    def scope_cases(self):
        return [(name, qtype, (case.address, case.prefix)) for case in self.city.cases
                for name in STEERED for qtype in ("A", "AAAA")]

    def zero_scope_cases(self):
        city = self.city
        subnets = [city.us_ca, city.gb, city.us_ca_v6, city.gb_v6]
        ok, nx = dns.rcode.NOERROR, dns.rcode.NXDOMAIN
        questions = [("local", "A", set(POOLS["fra"][0]), ok),
                     ("local", "AAAA", set(POOLS["fra"][1]), ok),
                     ("static", "A", ZONE_RECORDS["static"]["A"], ok),
                     ("static", "AAAA", ZONE_RECORDS["static"]["AAAA"], ok),
                     ("map", "TXT", None, ok),   # a steered name, but only A and AAAA are
                     ("map", "MX", None, ok),    # NODATA at a steered name
                     (ORIGIN, "SOA", None, ok),
                     ("ns1", "A", {"192.0.2.1"}, ok),
                     ("nx", "A", None, nx)]
        return subnets, questions

    def prefix_zero_cases(self, ipv6=False):
        if ipv6:
            return [("::1", "::1", ("::", 0), "nearest", "AAAA", set(POOLS["sin"][1]))]
        return [("127.0.1.5", LOOPBACK, ("0.0.0.0", 0), "map", "A", set(POOLS["sjc"][0])),
                ("127.0.2.5", LOOPBACK, ("0.0.0.0", 0), "map", "AAAA", set(POOLS["lon"][1])),
                ("127.0.4.5", LOOPBACK, ("::", 0), "nearest", "A", set(POOLS["sin"][0]))]

    def cname_cases(self):
        # The scope is at most the database network holding the subnet, as mmdblookup says.
        return [(subnet, set(POOLS[pool][0]), 1,
                 mmdb_network(self.city.path, masked(*subnet)).prefixlen)
                for subnet, pool in ((self.city.us_ca, "sjc"), (self.city.gb_v6, "lon"))]

    def ecs_from_cases(self):
        # Also: a config net beats the database (us_ca is in US-CA there, us_ca_beside too).
        city = self.city
        inside = str(ipaddress.ip_address(city.us_ca[0]) + 9)
        nets = RESOLVER_NETS + [([f"{city.us_ca[0]}/{city.us_ca[1]}"], 'pools = ["syd"]')]
        allowed = [("127.0.9.5", subnet, set(POOLS[pool][0]))
                   for subnet, pool in ((city.gb, "lon"), ((inside, 32), "syd"),
                                        (city.us_ca_beside, "sjc"))]
        return (self.config(['ecs_from = ["127.0.9.0/24"]'], nets=nets),
                [("127.0.1.5", city.gb, set(POOLS["sjc"][0]))], allowed)

    def ecs_off_cases(self):
        return (self.config(["ecs = false"]),
                [(source, self.city.unmatched, set(POOLS[pool][0]))
                 for source, pool in (("127.0.1.5", "sjc"), ("127.0.2.5", "lon"))])


NETS = NetsSource()
DATABASE = DatabaseSource("database", FIXTURE_CITY)
MAXMIND = DatabaseSource("maxmind", MAXMIND_CITY)
if not MAXMIND_CITY.path.is_file():
    MAXMIND.unavailable = (f"MaxMind's test database is not at {MAXMIND_CITY.path} (the shared "
                           "material beside the checkout; MERIDIAN_SHARED_DIR says where)")
for source in (DATABASE, MAXMIND):
    if not MMDBLOOKUP:
        source.unavailable = ("mmdblookup is not installed (Debian package mmdb-bin); it is the "
                              "independent reader the database checks are checked against")
# CTest runs this file once per source (MERIDIAN_GEO_SOURCE=nets: test_geo, =database:
# test_geo_database, =maxmind: test_geo_maxmind, skipped where ../shared is absent), and the
# checks from ::1 as test_geo_ipv6; by hand without the variable, it checks all three.
ONLY_SOURCES = os.environ.get("MERIDIAN_GEO_SOURCE")
SOURCES = tuple(source for source in (NETS, DATABASE, MAXMIND)
                if ONLY_SOURCES is None or source.label in ONLY_SOURCES.split(","))
DATABASE_SOURCES = tuple(source for source in SOURCES if isinstance(source, DatabaseSource))


def belongs_to_this_run(fn):
    """Tests run once per source of this run (@variants); the others need config nets."""
    parameters = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    return "geo" in parameters or "database" in parameters or NETS in SOURCES


def setup():
    for source in DATABASE_SOURCES:
        if source.unavailable:
            skip_notice(f"the `{source}` checks: {source.unavailable}")
            continue
        if not source.city.path.is_file():
            raise RuntimeError(f"{source.city.path} is missing: the build writes it (CMake "
                               "target mmdb_fixtures); MERIDIAN_FIXTURES_DIR says where")
        check_case_facts(source.city)
        source.running = source.start()
    if NETS in SOURCES:
        NETS.running = NETS.start()
    return {"nets": NETS}


def teardown(_context):
    for source in SOURCES:
        stop_server(source.running)
        source.running = None


# ---------------------------------------------------------------------------------------------
# Behaviours of every source: each test runs once per source, name[nets], name[database] and
# name[maxmind]


@variants("geo", *SOURCES)
def test_resolver_address_decides_without_ecs(geo, transport):
    server, failures = geo.server, Failures()
    for source, address, name, qtype, expected, ttl in geo.resolver_cases():
        response, answered, echoed, what = ask(server, name, qtype, source=source,
                                               address=address, transport=transport)
        failures.check(response.rcode() == dns.rcode.NOERROR and answered == expected,
                       what, sorted(expected), describe(response))
        if ttl is not None:
            got = response.answer[-1].ttl if response.answer else None
            failures.check(got == ttl, what, f"TTL {ttl} (the policy's, the zone's on fallback)",
                           got)
        failures.check(echoed is None, what, "no ECS option (the query had none)", echoed)
    failures.raise_any()


@variants("geo", *SOURCES)
def test_first_and_last_address_of_the_scope_get_the_same_answer(geo):
    server, failures = geo.server, Failures()
    for name, qtype, (address, prefix) in geo.scope_cases():
        full = 32 if ":" not in address else 128
        _, answered, echoed, what = ask(server, name, qtype, ecs=(address, prefix))
        if echoed is None:
            failures.check(False, what, "an ECS option in the response", "none")
            continue
        scope = ipaddress.ip_network((masked(address, prefix), echoed.scopelen), strict=False)
        for edge in (scope.network_address, scope.broadcast_address):
            _, edge_answer, _, edge_what = ask(server, name, qtype, ecs=(str(edge), full))
            failures.check(edge_answer == answered,
                           f"{edge_what} (an end of scope {scope} from {what})",
                           f"{sorted(answered)}, the answer the scope promised",
                           sorted(edge_answer))
    failures.raise_any()


def check_scope_zero(failures, what, echoed):
    failures.check(scope_of(echoed) == 0, what, "ECS echoed with scope 0",
                   f"scope {scope_of(echoed)}")


@variants("geo", *SOURCES)
def test_ecs_scope_is_zero_for_local_static_unsteered_and_nxdomain(geo):
    server, failures = geo.server, Failures()
    subnets, questions = geo.zero_scope_cases()
    for subnet in subnets:
        for name, qtype, expected, wanted_rcode in questions:
            response, answered, echoed, what = ask(server, name, qtype, ecs=subnet)
            failures.check(response.rcode() == wanted_rcode and
                           (expected is None or answered == expected), what,
                           f"{dns.rcode.to_text(wanted_rcode)} {sorted(expected or [])}",
                           describe(response))
            check_scope_zero(failures, what, echoed)
    failures.raise_any()


def check_prefix_zero(server, cases, failures):
    # RFC 7871 §7.1.2: SOURCE PREFIX-LENGTH 0 asks us to use the resolver's address, and
    # §7.2.1: the scope must then be 0.
    for source, address, subnet, name, qtype, expected in cases:
        response, answered, echoed, what = ask(server, name, qtype, ecs=subnet, source=source,
                                               address=address)
        failures.check(answered == expected, what, sorted(expected), describe(response))
        check_scope_zero(failures, what, echoed)


@variants("geo", *SOURCES)
def test_source_prefix_zero_lets_the_resolver_address_decide_with_scope_zero(geo):
    server, failures = geo.server, Failures()
    check_prefix_zero(server, geo.prefix_zero_cases(), failures)
    failures.raise_any()


@variants("geo", *SOURCES)
def test_a_steered_cname_target_is_steered_with_its_scope(geo):
    server, failures = geo.server, Failures()
    for subnet, expected, shortest, longest in geo.cname_cases():
        response, answered, echoed, what = ask(server, "alias", "A", ecs=subnet)
        has_cname = any(rrset.rdtype == dns.rdatatype.CNAME for rrset in response.answer)
        failures.check(has_cname and answered == expected, what,
                       f"CNAME to {geo.steered}.{ORIGIN} and {sorted(expected)}",
                       describe(response))
        scope = scope_of(echoed)
        failures.check(scope is not None and shortest <= scope <= longest, what,
                       f"scope in {shortest}..{longest}", f"scope {scope}")
    failures.raise_any()


def raw_ecs_query(payload, qname):
    option = dns.edns.GenericOption(dns.edns.ECS, payload)
    return make_query(qname, "A", options=[option]).to_wire()


@variants("geo", *SOURCES)
def test_malformed_ecs_gets_formerr(geo):
    # RFC 7871 §6 and §7.1.1.
    def ecs(family, prefix, *address):  # FAMILY, SOURCE PREFIX-LENGTH, SCOPE 0, ADDRESS
        return struct.pack("!HBB", family, prefix, 0) + bytes(address)

    server = geo.server
    qname = f"{geo.steered}.{ORIGIN}"
    octets = geo.ecs_octets
    cases = {
        "unknown family 3": ecs(3, 24, 192, 0, 2),
        "IPv4 source prefix 33": ecs(1, 33, 0, 0, 0, 0, 0),
        "IPv6 source prefix 129": ecs(2, 129, *[0] * 17),
        "address longer than the prefix needs": ecs(1, 24, *octets, 0),
        "address shorter than the prefix needs": ecs(1, 24, *octets[:2]),
        "bits set past the source prefix": ecs(1, 20, 214, 78, 127),
        "option shorter than its fixed part": struct.pack("!H", 1),
    }
    failures = Failures()
    subnet = ".".join(map(str, octets)) + ".0"
    reply = udp_raw(server.port, raw_ecs_query(ecs(1, 24, *octets), qname))
    failures.check(reply is not None and rcode_of(reply) == dns.rcode.NOERROR,
                   f"{qname} A with a well-formed ECS {subnet}/24 (control)", "NOERROR",
                   describe(reply))
    for what, payload in cases.items():
        reply = udp_raw(server.port, raw_ecs_query(payload, qname))
        failures.check(reply is not None and rcode_of(reply) == dns.rcode.FORMERR,
                       f"{qname} A with ECS: {what} ({payload.hex()})", "FORMERR",
                       describe(reply))
    two = make_query(qname, "A", options=[ecs_option(subnet, 24),
                                          ecs_option("81.2.69.170", 32)]).to_wire()
    reply = udp_raw(server.port, two)
    failures.check(reply is not None and rcode_of(reply) == dns.rcode.FORMERR,
                   f"{qname} A with two ECS options", "FORMERR", describe(reply))
    failures.raise_any()


def check_decided_by_the_resolver(geo, server, cases, failures, why):
    """ECS that must be ignored: the resolver's own place decides, and the scope echoed is 0."""
    for source, subnet, expected in cases:
        response, answered, echoed, what = ask(server, geo.steered, "A", ecs=subnet,
                                               source=source)
        failures.check(answered == expected, f"{what} ({why})",
                       f"{sorted(expected)} (the resolver decides)", describe(response))
        check_scope_zero(failures, what, echoed)


@variants("geo", *SOURCES)
def test_ecs_from_limits_whose_subnet_counts(geo):
    config, ignored, allowed = geo.ecs_from_cases()
    failures = Failures()
    server = geo.start(config)
    try:
        check_decided_by_the_resolver(geo, server, ignored, failures, "outside ecs_from")
        for source, subnet, expected in allowed:
            response, answered, _, what = ask(server, geo.steered, "A", ecs=subnet,
                                              source=source)
            failures.check(answered == expected, f"{what} (in ecs_from)",
                           f"{sorted(expected)} (the subnet decides)", describe(response))
    finally:
        server.stop()
    failures.raise_any()


@variants("geo", *SOURCES)
def test_ecs_false_ignores_every_subnet(geo):
    config, cases = geo.ecs_off_cases()
    failures = Failures()
    server = geo.start(config)
    try:
        check_decided_by_the_resolver(geo, server, cases, failures, "ecs = false")
    finally:
        server.stop()
    failures.raise_any()


# ---------------------------------------------------------------------------------------------
# From the ::1 resolver and over IPv6: CTest's test_geo_ipv6, skipped without ::1


def require_ipv6_loopback(server):
    if not has_ipv6_loopback():
        raise Skipped("this machine has no IPv6 loopback (::1)")
    if not server.ipv6:
        raise RuntimeError("::1 works, yet the server does not listen on it")


@part("ipv6")
@variants("geo", *SOURCES)
def test_ipv6_resolver_address_decides_without_ecs(geo, transport):
    server, failures = geo.server, Failures()
    require_ipv6_loopback(server)
    for source, address, name, qtype, expected, ttl in geo.resolver_cases(ipv6=True):
        response, answered, echoed, what = ask(server, name, qtype, source=source,
                                               address=address, transport=transport)
        failures.check(response.rcode() == dns.rcode.NOERROR and answered == expected,
                       what, sorted(expected), describe(response))
        failures.check(echoed is None, what, "no ECS option (the query had none)", echoed)
    check_prefix_zero(server, geo.prefix_zero_cases(ipv6=True), failures)
    failures.raise_any()


@part("ipv6")
@variants("database", *DATABASE_SOURCES)
def test_ecs_answers_alike_over_ipv6_transport(database):
    require_ipv6_loopback(database.server)
    check_ecs_answers_alike(database, [("udp", "::1"), ("tcp", "::1")])


# ---------------------------------------------------------------------------------------------
# Only with config nets


def test_ecs_subnet_decides_with_the_config_net_as_scope(nets):
    server = nets.server
    response, answered, echoed, what = ask(server, "www", "A", ecs=("198.51.100.0", 24))
    expect(answered == {FRA}, what, FRA, describe(response))
    expect(scope_of(echoed) == 24, "scope of a /24 net", 24, scope_of(echoed))
    # A /25 net: the scope says the answer holds for the /25 only, longer than the source.
    response, answered, echoed, what = ask(server, "www", "A", ecs=("203.0.113.0", 24))
    expect(answered == {SIN}, what, SIN, describe(response))
    expect(scope_of(echoed) == 25, "scope of a /25 net (RFC 7871 §7.2.1)", 25, scope_of(echoed))
    # IPv6 ECS; sin has no IPv6, so AAAA takes the next pool in the list.
    response, answered, echoed, what = ask(server, "www", "AAAA", ecs=("2001:db8:aa::", 56))
    expect(answered == {"2001:db8::10"}, what, "fra's 2001:db8::10", describe(response))
    expect(scope_of(echoed) == 48, "IPv6 scope", 48, scope_of(echoed))
    # An unlocated subnet: the zone's anycast record, with a scope where that holds.
    response, answered, echoed, what = ask(server, "www", "A", ecs=("100.64.0.0", 24))
    expect(answered == {ANYCAST}, what, ANYCAST, describe(response))
    expect(scope_of(echoed) is not None and 0 < scope_of(echoed) <= 24, "fallback scope",
           "1..24", scope_of(echoed))


def test_local_policy_answers_this_pops_pool(nets):
    response, answered, _, what = ask(nets.server, "pop", "A", source="127.0.1.7")
    expect(answered == {IAD}, f"{what} (local, [server] pool iad)", IAD, describe(response))


@part("kdig")
def test_kdig_subnet_is_steered(nets):
    result = kdig(nets.server.port, f"www.{ORIGIN}", "A", "+subnet=203.0.113.0/24")
    if result is None:
        raise Skipped("kdig is not installed (Debian package knot-dnsutils)")
    got = [r[4] for r in result.records("ANSWER")]
    expect(got == [SIN], "kdig +subnet=203.0.113.0/24 www A", SIN, result.text)


def test_explain_tells_the_whole_story():
    server = nets_meridian(nets_config())
    try:
        explain_checks(server.write_config())
    finally:
        server.stop()  # removes its temp folder


def explain_checks(config):
    completed = run_meridian("explain", "--config", config, "alias.geo.example", "AAAA",
                             "--client", "127.0.2.7", "--ecs", "203.0.113.9/24")
    text = completed.stdout
    wanted = ("deciding    203.0.113.0 (the ECS subnet, source /24)",
              "located     config net 203.0.113.0/25",
              "country SG, continent AS",
              "rule        continent AS",
              "pools       sin: skipped: no AAAA addresses",
              "fra: chosen (1 AAAA address)",
              "www.geo.example.\t30\tIN\tAAAA\t2001:db8::10",
              "ecs scope   /25: resolvers cache this answer for 203.0.113.0/25")
    for line in wanted:
        expect(line in text, f"explain output has {line!r}", line,
               f"exit {completed.returncode}\n{text}{completed.stderr}")
    completed = run_meridian("explain", "--config", config, "www.geo.example", "A",
                             "--client", "127.0.9.9")
    expect("fallback" in completed.stdout and "192.0.2.53" in completed.stdout,
           "explain for an unlocated client", "fallback to 192.0.2.53", completed.stdout)
    completed = run_meridian("explain", "--config", config, "www.geo.example", "BOGUS")
    expect(completed.returncode == 2 and "not a record type" in completed.stderr,
           "explain with a bad type", "exit 2 and a message", completed.stderr)


def test_check_reports_geo_errors_and_warnings_with_lines():
    bad = nets_config() + ('\n[[geo]]\nname = "www.example.org."\nmode = "map"\n[geo.map]\n'
                           'default = ["fra"]\n')
    server = nets_meridian(bad)
    config = server.write_config()
    completed = run_meridian("check", "--config", config)
    lines = config.read_text().splitlines()
    server.stop()
    line = max(i for i, text in enumerate(lines, start=1) if text == "[[geo]]")
    expect(completed.returncode == 1 and
           f"{config}:{line}: 'www.example.org.' is not inside any served zone" in completed.stderr,
           "check on a policy outside every zone", f"exit 1, an error at line {line}",
           completed.stderr)
    # An IPv4-only pool and no AAAA in the zone: AAAA is NODATA in Asia only.
    partial = nets_config() + ('\n[[geo]]\nname = "app.geo.example."\nmode = "map"\n[geo.map]\n'
                               'continent = { "AS" = ["sin"] }\ndefault = ["fra"]\n')
    server = nets_meridian(partial)
    completed = run_meridian("check", "--config", server.write_config())
    server.stop()
    expect(completed.returncode == 0 and "warning: 'app.geo.example.': AAAA is NODATA" in
           completed.stderr and "3 geo policies" in completed.stdout,
           "check on a policy with partial NODATA", "exit 0 with a warning",
           completed.stdout + completed.stderr)


# ---------------------------------------------------------------------------------------------
# Only with a database: ECS decides. Each runs once per database source, name[database] and
# name[maxmind].


@variants("database", *DATABASE_SOURCES)
def test_ecs_subnet_picks_the_pool_of_every_map_level_and_nearest(database):
    server = database.server
    failures = Failures()
    for case in database.city.cases:
        for name in STEERED:
            for qtype in ("A", "AAAA"):
                response, answered, echoed, what = ask(server, name, qtype,
                                                       ecs=(case.address, case.prefix))
                expected = expected_answer(name, case, qtype)
                why = case.level if name == "map" else name
                failures.check(response.rcode() == dns.rcode.NOERROR and answered == expected,
                               f"{what} ({why})", sorted(expected), describe(response))
    failures.raise_any()


def check_ecs_answers_alike(database, ways):
    """The answers and scopes by each of `ways` (transport, server address) are those over
    UDP to 127.0.0.1."""
    server = database.server
    failures = Failures()
    for case in database.city.cases[::3]:
        for qtype in ("A", "AAAA"):
            _, udp_answer, udp_ecs, _ = ask(server, "map", qtype, ecs=(case.address, case.prefix))
            for transport, address in ways:
                _, answer, echoed, what = ask(server, "map", qtype, transport=transport,
                                              address=address, ecs=(case.address, case.prefix))
                failures.check(answer == udp_answer and scope_of(echoed) == scope_of(udp_ecs),
                               what, f"{sorted(udp_answer)} scope {scope_of(udp_ecs)}, as over "
                               f"UDP to {LOOPBACK}", f"{sorted(answer)} scope {scope_of(echoed)}")
    failures.raise_any()


@variants("database", *DATABASE_SOURCES)
def test_ecs_answers_alike_over_udp_and_tcp(database):
    check_ecs_answers_alike(database, [("tcp", LOOPBACK)])


@variants("database", *DATABASE_SOURCES)
def test_ecs_is_echoed_with_the_query_family_prefix_and_address(database):
    server = database.server
    # RFC 7871 §7.2.1: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS as in the query.
    failures = Failures()
    for case in database.city.cases:
        response, _, echoed, what = ask(server, "map", "A", ecs=(case.address, case.prefix))
        family = 1 if ":" not in case.address else 2
        expected = (family, case.prefix, masked(case.address, case.prefix))
        got = None if echoed is None else (echoed.family, echoed.srclen,
                                           str(ipaddress.ip_address(echoed.address)))
        failures.check(got == expected, what, f"ECS echoed as {expected}", got)
    failures.raise_any()


@variants("database", *DATABASE_SOURCES)
def test_ecs_scope_is_never_longer_than_the_database_network(database):
    server = database.server
    # The scope says for which network the answer holds; the database cannot tell apart
    # addresses of one of its networks, so a longer scope would make resolvers ask again for
    # no reason, and a scope longer than the truth is what makes them cache wrongly elsewhere.
    failures = Failures()
    for case in database.city.cases:
        network = mmdb_network(database.city.path, masked(case.address, case.prefix))
        for name in STEERED:
            for qtype in ("A", "AAAA"):
                response, _, echoed, what = ask(server, name, qtype,
                                                ecs=(case.address, case.prefix))
                scope = scope_of(echoed)
                failures.check(scope is not None and 0 < scope <= network.prefixlen, what,
                               f"ECS scope in 1..{network.prefixlen} (mmdblookup: {network})",
                               f"scope {scope}")
    failures.raise_any()


@variants("database", *DATABASE_SOURCES)
def test_ecs_beats_the_resolver_address(database):
    server = database.server
    failures = Failures()
    for source in ("127.0.1.5", "127.0.5.5", "127.0.0.1"):
        response, answered, echoed, what = ask(server, "map", "A", ecs=database.city.gb,
                                               source=source)
        failures.check(answered == set(POOLS["lon"][0]), what,
                       f"{POOLS['lon'][0]} (GB by the subnet)", describe(response))
    failures.raise_any()


# ---------------------------------------------------------------------------------------------
# Fallback to the zone's own records, TTLs


@variants("database", *DATABASE_SOURCES)
def test_unknown_location_gets_the_zone_records(database):
    server = database.server
    failures = Failures()
    subnets = database.city.unknown_subnets()
    failures.check(len(subnets) >= 4, "the unknown subnets of the cases", "at least 4", subnets)
    for subnet in subnets:
        for name in STEERED:
            for qtype in ("A", "AAAA"):
                response, answered, _, what = ask(server, name, qtype, ecs=subnet)
                expected = ZONE_RECORDS[name][qtype]
                failures.check(answered == expected, f"{what} (unknown location)",
                               sorted(expected), describe(response))
                ttl = response.answer[-1].ttl if response.answer else None
                zone_ttl = 120 if name == "nearest" else 300
                failures.check(ttl == zone_ttl, what, f"the zone's TTL {zone_ttl}", ttl)
    failures.raise_any()


@variants("database", *DATABASE_SOURCES)
def test_pools_without_the_queried_type_fall_back_in_order(database):
    server = database.server
    failures = Failures()
    # JP -> ["v6only"]: no pool has A, so the zone's A answers. CN -> ["v6only", "sin"]: A
    # from the second pool, AAAA from the first.
    cases = database.city.cases_with_v6only_first()
    failures.check({tuple(case.map_pools) for case in cases} == {("v6only",), ("v6only", "sin")},
                   "the cases starting with v6only", "v6only alone, and v6only then sin",
                   [case.map_pools for case in cases])
    for case in cases:
        for qtype in ("A", "AAAA"):
            expected = set(POOLS["v6only"][1]) if qtype == "AAAA" else \
                set(POOLS["sin"][0]) if "sin" in case.map_pools else ZONE_RECORDS["map"]["A"]
            response, answered, _, what = ask(server, "map", qtype,
                                              ecs=(case.address, case.prefix))
            failures.check(answered == expected, what, sorted(expected), describe(response))
    # 127.0.5.0/24 goes straight to syd, which has no IPv6: the zone's AAAA answers.
    response, answered, _, what = ask(server, "map", "AAAA", source="127.0.5.5")
    failures.check(answered == ZONE_RECORDS["map"]["AAAA"], what,
                   sorted(ZONE_RECORDS["map"]["AAAA"]), describe(response))
    failures.raise_any()


@variants("database", *DATABASE_SOURCES)
def test_a_policy_name_missing_from_the_zone_is_created(database):
    server = database.server
    failures = Failures()
    response, answered, _, what = ask(server, "new", "A", ecs=database.city.us_ca)
    failures.check(response.rcode() == dns.rcode.NOERROR and answered == set(POOLS["iad"][0])
                   and response.flags & dns.flags.AA, what, f"AA and {POOLS['iad'][0]}",
                   describe(response))
    ttl = response.answer[0].ttl if response.answer else None
    failures.check(ttl == 60, what, "TTL 60 (no ttl, no zone A at the name)", ttl)
    # Unknown location and no records of its own: NODATA with the zone's SOA.
    response, answered, _, what = ask(server, "new", "A",
                                      ecs=database.city.unknown_subnets()[0])
    failures.check(response.rcode() == dns.rcode.NOERROR and not response.answer and
                   any(r.rdtype == dns.rdatatype.SOA for r in response.authority), what,
                   "NODATA: NOERROR, no answer, SOA in authority", describe(response))
    failures.raise_any()


@variants("database", *DATABASE_SOURCES)
def test_steered_ttl_is_the_policy_ttl_else_the_zone_ttl(database):
    server = database.server
    failures = Failures()
    for name, ttl in (("map", 30), ("nearest", 120)):
        response, answered, _, what = ask(server, name, "A", ecs=database.city.us_ca)
        got = response.answer[-1].ttl if response.answer else None
        failures.check(answered == set(POOLS["sjc"][0]) and got == ttl, what,
                       f"{POOLS['sjc'][0]} with TTL {ttl}", describe(response))
    failures.raise_any()


@variants("database", *DATABASE_SOURCES)
def test_geoip_paths_choose_where_the_country_is_read(database):
    database.require()
    # [geoip.paths] country = registered_country: the test database registers these networks
    # in another country than it places them in; subdivision and continent keep their paths.
    cases = database.city.registered
    for address, registered, _ in cases:
        said = mmdb_value(database.city.path, address, "registered_country", "iso_code")
        if said != registered:
            raise RuntimeError(f"fixture: mmdblookup says {address} is registered in {said}")
    failures = Failures()
    paths = ["[geoip.paths]", 'country = ["registered_country.iso_code"]']
    with geo_meridian(database.config(geoip_lines=paths)) as server:
        for address, registered, pool in cases:
            response, answered, _, what = ask(server, "map", "A", ecs=(address, 32))
            failures.check(answered == set(POOLS[pool][0]), f"{what} (registered {registered})",
                           POOLS[pool][0], describe(response))
    failures.raise_any()


# ---------------------------------------------------------------------------------------------
# A flat-schema database (country_code): the build's, or the real CC0 one beside MaxMind's


@variants("database", *DATABASE_SOURCES)
def test_flat_schema_database_steers_by_country_code(database):
    database.require()
    flat, flat_cases = database.city.flat, database.city.flat_cases
    if not flat.is_file():
        raise RuntimeError(f"{flat} is missing")
    failures = Failures()
    for address, prefix, country, _ in flat_cases:
        said = mmdb_value(flat, address, "country_code")
        if said != country:
            raise RuntimeError(f"fixture: mmdblookup says {address} is {said}, not {country}")
    config = "\n".join([
        "[geoip]", f"database = {toml_string(str(flat))}", "", pool_tables(),
        "[[geo]]", f'name = "map.{ORIGIN}"', 'mode = "map"',
        "[geo.map]", 'country = { "US" = ["iad"], "DE" = ["fra"], "GB" = ["lon"] }',
        'default = ["dflt"]', ""])
    with geo_meridian(config) as server:
        for address, prefix, country, pool in flat_cases:
            network = mmdb_network(flat, address)
            for qtype in ("A", "AAAA"):
                response, answered, echoed, what = ask(server, "map", qtype,
                                                       ecs=(address, prefix))
                expected = pool_answer([pool], qtype, ZONE_RECORDS["map"])
                failures.check(answered == expected, f"{what} ({country})", sorted(expected),
                               describe(response))
                scope = scope_of(echoed)
                failures.check(scope is not None and 0 < scope <= network.prefixlen, what,
                               f"scope in 1..{network.prefixlen} (mmdblookup: {network})",
                               f"scope {scope}")
    failures.raise_any()


# ---------------------------------------------------------------------------------------------
# Corrupt and wrong databases


def check_with_database(tmpdir, database):
    config = tmpdir / "check.toml"
    (tmpdir / "zones").mkdir(exist_ok=True)
    (tmpdir / "zones" / "geo.example.zone").write_text(DATABASE_ZONE)
    config.write_text("\n".join([
        "[server]", 'listen = ["127.0.0.1:5300"]', 'pool = "fra"', "",
        "[[zone]]", 'file = "zones/geo.example.zone"', f"origin = {toml_string(ORIGIN)}", "",
        "[geoip]", f"database = {toml_string(str(database))}", "", pool_tables(),
        "[[geo]]", f'name = "map.{ORIGIN}"', 'mode = "map"', "[geo.map]", MAP_RULES, ""]))
    try:
        return run_meridian("check", "--config", config, timeout=60)
    except subprocess.TimeoutExpired as timeout:
        return timeout


def verdict_text(completed):
    if isinstance(completed, subprocess.TimeoutExpired):
        return "no verdict within 60 s"
    return (f"exit {completed.returncode}\n      stdout: {completed.stdout.strip()}\n"
            f"      stderr: {completed.stderr.strip()}")


@variants("database", *DATABASE_SOURCES)
def test_check_refuses_every_corrupt_database_by_name(database):
    database.require()
    # A database is loaded whole before serving, so each broken one (see the source's
    # corrupt()) must be refused up front, never half-loaded.
    city = database.city
    tmpdir = Path(tempfile.mkdtemp(prefix="meridian-geo-check-"))
    failures = Failures()
    try:
        bad = city.corrupt(tmpdir)
        # Control: the same config with a good database passes, so each refusal below is
        # about the database and not about the config.
        control = check_with_database(tmpdir, city.path)
        failures.check(not isinstance(control, subprocess.TimeoutExpired) and
                       control.returncode == 0 and "ok:" in control.stdout,
                       f"meridian check with {city.path.name} (control)", "exit 0 and 'ok:'",
                       verdict_text(control))
        garbage = tmpdir / "garbage.mmdb"
        garbage.write_bytes(b"\xab\xcd\xefMaxMind.com" + bytes(range(256)) * 4)
        empty = tmpdir / "empty.mmdb"
        empty.write_bytes(b"")
        for path in bad + [garbage, empty, tmpdir / "missing.mmdb"]:
            completed = check_with_database(tmpdir, path)
            what = f"meridian check with database {path.name}"
            if isinstance(completed, subprocess.TimeoutExpired):
                failures.check(False, what, "a verdict", verdict_text(completed))
                continue
            # A negative code is a signal (a crash); > 0 is a refusal.
            failures.check(completed.returncode > 0 and path.name in completed.stderr and
                           "ok:" not in completed.stdout, what,
                           f"refused: exit > 0 and an error naming {path.name}",
                           verdict_text(completed))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    failures.raise_any()


if __name__ == "__main__":
    tests = {name: fn for name, fn in globals().items()
             if name.startswith("test_") and callable(fn) and belongs_to_this_run(fn)}
    sys.exit(run_tests(tests, setup=setup, teardown=teardown))

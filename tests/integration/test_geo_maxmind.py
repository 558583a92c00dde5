"""GeoDNS against MaxMind's public test databases, as clients see it. For IPv4 and IPv6, decided
by the ECS subnet or (without ECS) by the resolver's loopback address placed by [[geoip.nets]]:
map (subdivision, country, continent, default), nearest and local answer the expected pool; the
ECS scope (RFC 7871 §7.2.1) is never longer than the database network mmdblookup reports for the
subnet, holds from the first to the last address of its network, and is 0 for local mode,
NXDOMAIN, static and unsteered names and source prefix 0; the zone's own records answer for an
unknown location and when the decided pools have no address of the queried type; malformed ECS
gets FORMERR; `meridian check` refuses corrupt databases; the flat-schema CC0 country database
steers by country_code.

Data: ../shared/geoip/ next to the repository (MERIDIAN_SOURCE_DIR/../shared/geoip); the test is
skipped when it is absent. mmdblookup (mmdb-bin) is the independent reader of every fact the
expectations rest on.
"""

import ipaddress
import math
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from meridian_harness import (  # noqa: E402
    LOOPBACK, SOURCE_DIR, Meridian, Skipped, describe, has_ipv6_loopback, make_query,
    query, rcode_of, run_meridian, run_tests, skip, stop_server, toml_string, udp_raw)

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

GEOIP_DIR = SOURCE_DIR.parent / "shared" / "geoip"
MAXMIND_DIR = GEOIP_DIR / "maxmind-test"
CITY_DB = MAXMIND_DIR / "GeoIP2-City-Test.mmdb"
BAD_DIR = MAXMIND_DIR / "bad"
FLAT_DB = GEOIP_DIR / "real" / "geo-whois-asn-country.mmdb"

if not CITY_DB.is_file():
    skip(f"MaxMind's test database is not at {CITY_DB} (expected in ../shared/geoip/maxmind-test "
         "next to the repository; set MERIDIAN_SOURCE_DIR if the tree lives elsewhere)")
MMDBLOOKUP = shutil.which("mmdblookup")
if not MMDBLOOKUP:
    skip("mmdblookup is not installed (Debian package mmdb-bin); it is the independent reader "
         "this test checks Meridian against")

ORIGIN = "geo.example."

# The zone's own records at each steered name are the fallback answer.
ZONE = f"""$ORIGIN {ORIGIN}
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
NETS = [
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


def geo_config(database=CITY_DB, nets=NETS, geoip_lines=()):
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
                    extra_config=extra_config, files={"zones/geo.example.zone": ZONE})


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


ECS_CASES = [
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


def check_case_facts():
    """The cases rest on what the database says; check it with mmdblookup, and work out the
    nearest order from the coordinates it reports."""
    wrong = []
    for case in ECS_CASES:
        subnet = masked(case.address, case.prefix)
        location = mmdb_location(CITY_DB, subnet)
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
        raise RuntimeError("the test's cases disagree with the database:\n  " + "\n  ".join(wrong))


def setup():
    check_case_facts()
    return {"server": geo_meridian(geo_config()).start()}


def teardown(context):
    if context:
        stop_server(context["server"])


# ---------------------------------------------------------------------------------------------
# ECS decides


def test_ecs_subnet_picks_the_pool_of_every_map_level_and_nearest(server):
    failures = Failures()
    for case in ECS_CASES:
        for name in STEERED:
            for qtype in ("A", "AAAA"):
                response, answered, echoed, what = ask(server, name, qtype,
                                                       ecs=(case.address, case.prefix))
                expected = expected_answer(name, case, qtype)
                why = case.level if name == "map" else name
                failures.check(response.rcode() == dns.rcode.NOERROR and answered == expected,
                               f"{what} ({why})", sorted(expected), describe(response))
    failures.raise_any()


def test_ecs_answers_alike_over_udp_tcp_and_ipv6_transport(server):
    failures = Failures()
    ways = [("tcp", LOOPBACK)] + ([("udp", "::1"), ("tcp", "::1")] if server.ipv6 else [])
    for case in ECS_CASES[::3]:
        for qtype in ("A", "AAAA"):
            _, udp_answer, udp_ecs, _ = ask(server, "map", qtype, ecs=(case.address, case.prefix))
            for transport, address in ways:
                _, answer, echoed, what = ask(server, "map", qtype, transport=transport,
                                              address=address, ecs=(case.address, case.prefix))
                failures.check(answer == udp_answer and scope_of(echoed) == scope_of(udp_ecs),
                               what, f"{sorted(udp_answer)} scope {scope_of(udp_ecs)}, as over "
                               f"UDP to {LOOPBACK}", f"{sorted(answer)} scope {scope_of(echoed)}")
    failures.raise_any()


def test_ecs_is_echoed_with_the_query_family_prefix_and_address(server):
    # RFC 7871 §7.2.1: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS as in the query.
    failures = Failures()
    for case in ECS_CASES:
        response, _, echoed, what = ask(server, "map", "A", ecs=(case.address, case.prefix))
        family = 1 if ":" not in case.address else 2
        expected = (family, case.prefix, masked(case.address, case.prefix))
        got = None if echoed is None else (echoed.family, echoed.srclen,
                                           str(ipaddress.ip_address(echoed.address)))
        failures.check(got == expected, what, f"ECS echoed as {expected}", got)
    failures.raise_any()


def test_ecs_scope_is_never_longer_than_the_database_network(server):
    # The scope says for which network the answer holds; the database cannot tell apart
    # addresses of one of its networks, so a longer scope would make resolvers ask again for
    # no reason, and a scope longer than the truth is what makes them cache wrongly elsewhere.
    failures = Failures()
    for case in ECS_CASES:
        network = mmdb_network(CITY_DB, masked(case.address, case.prefix))
        for name in STEERED:
            for qtype in ("A", "AAAA"):
                response, _, echoed, what = ask(server, name, qtype,
                                                ecs=(case.address, case.prefix))
                scope = scope_of(echoed)
                failures.check(scope is not None and 0 < scope <= network.prefixlen, what,
                               f"ECS scope in 1..{network.prefixlen} (mmdblookup: {network})",
                               f"scope {scope}")
    failures.raise_any()


def test_first_and_last_address_of_the_scope_get_the_same_answer(server):
    failures = Failures()
    for case in ECS_CASES:
        full = 32 if ":" not in case.address else 128
        for name in STEERED:
            for qtype in ("A", "AAAA"):
                _, answered, echoed, what = ask(server, name, qtype,
                                                ecs=(case.address, case.prefix))
                if echoed is None:
                    failures.check(False, what, "an ECS option in the response", "none")
                    continue
                scope = ipaddress.ip_network((masked(case.address, case.prefix),
                                              echoed.scopelen), strict=False)
                for edge in (scope.network_address, scope.broadcast_address):
                    _, edge_answer, _, edge_what = ask(server, name, qtype, ecs=(str(edge), full))
                    failures.check(edge_answer == answered,
                                   f"{edge_what} (an end of scope {scope} from {what})",
                                   f"{sorted(answered)}, the answer the scope promised",
                                   sorted(edge_answer))
    failures.raise_any()


def test_ecs_scope_is_zero_for_local_static_unsteered_and_nxdomain(server):
    failures = Failures()
    subnets = [("214.78.120.0", 24), ("81.2.69.170", 32), ("2001:480:10::", 56),
               ("2a02:d3c0::", 48)]
    questions = [("local", "A", set(POOLS["fra"][0])),
                 ("local", "AAAA", set(POOLS["fra"][1])),
                 ("static", "A", ZONE_RECORDS["static"]["A"]),
                 ("static", "AAAA", ZONE_RECORDS["static"]["AAAA"]),
                 ("map", "TXT", None),   # a steered name, but only A and AAAA are steered
                 ("map", "MX", None),    # NODATA at a steered name
                 (ORIGIN, "SOA", None),
                 ("ns1", "A", {"192.0.2.1"}),
                 ("nx", "A", None)]     # NXDOMAIN
    for subnet in subnets:
        for name, qtype, expected in questions:
            response, answered, echoed, what = ask(server, name, qtype, ecs=subnet)
            wanted_rcode = dns.rcode.NXDOMAIN if name == "nx" else dns.rcode.NOERROR
            failures.check(response.rcode() == wanted_rcode and
                           (expected is None or answered == expected), what,
                           f"{dns.rcode.to_text(wanted_rcode)} {sorted(expected or [])}",
                           describe(response))
            failures.check(scope_of(echoed) == 0, what, "ECS echoed with scope 0",
                           f"scope {scope_of(echoed)}")
    failures.raise_any()


def test_source_prefix_zero_lets_the_resolver_address_decide_with_scope_zero(server):
    # RFC 7871 §7.1.2: SOURCE PREFIX-LENGTH 0 asks us to use the resolver's address, and
    # §7.2.1: the scope must then be 0.
    failures = Failures()
    cases = [("127.0.1.5", LOOPBACK, ("0.0.0.0", 0), "map", "A", POOLS["sjc"][0]),
             ("127.0.2.5", LOOPBACK, ("0.0.0.0", 0), "map", "AAAA", POOLS["lon"][1]),
             ("127.0.4.5", LOOPBACK, ("::", 0), "nearest", "A", POOLS["sin"][0])]
    if has_ipv6_loopback():
        cases.append(("::1", "::1", ("::", 0), "nearest", "AAAA", POOLS["sin"][1]))
    for source, address, subnet, name, qtype, expected in cases:
        response, answered, echoed, what = ask(server, name, qtype, ecs=subnet, source=source,
                                               address=address)
        failures.check(answered == set(expected), what, sorted(expected), describe(response))
        failures.check(scope_of(echoed) == 0, what, "ECS echoed with scope 0",
                       f"scope {scope_of(echoed)}")
    failures.raise_any()


def test_a_steered_cname_target_is_steered_with_its_scope(server):
    failures = Failures()
    for subnet, pool, network in ((("214.78.120.0", 24), "sjc", 22),
                                  (("2a02:d3c0::", 48), "lon", 29)):
        response, answered, echoed, what = ask(server, "alias", "A", ecs=subnet)
        has_cname = any(rrset.rdtype == dns.rdatatype.CNAME for rrset in response.answer)
        failures.check(has_cname and answered == set(POOLS[pool][0]), what,
                       f"CNAME to map.{ORIGIN} and {POOLS[pool][0]}", describe(response))
        scope = scope_of(echoed)
        failures.check(scope is not None and 0 < scope <= network, what,
                       f"scope in 1..{network}", f"scope {scope}")
    failures.raise_any()


# ---------------------------------------------------------------------------------------------
# Without ECS the resolver's address decides


NETS_LOCATIONS = {"127.0.4.5": (1.35, 103.99), "::1": (35.68, 139.75)}  # as in NETS
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


def test_resolver_address_decides_without_ecs(server):
    failures = Failures()
    for source, map_pools, nearest in RESOLVER_CASES:
        address = "::1" if ":" in source else LOOPBACK
        if address == "::1" and not has_ipv6_loopback():
            continue
        if isinstance(nearest, str):  # by distance from the net's coordinates
            order = nearest_order(NETS_LOCATIONS[source])
            if order[0] != nearest:
                raise RuntimeError(f"fixture: nearest to {source} is {order[0]}, not {nearest}")
            nearest = order
        for qtype in ("A", "AAAA"):
            for name, pools in (("map", map_pools), ("nearest", nearest),
                                ("local", ["fra"])):
                response, answered, echoed, what = ask(server, name, qtype, source=source,
                                                       address=address)
                expected = pool_answer(pools or [], qtype, ZONE_RECORDS[name])
                failures.check(response.rcode() == dns.rcode.NOERROR and answered == expected,
                               what, sorted(expected), describe(response))
                failures.check(echoed is None, what, "no ECS option (the query had none)",
                               echoed)
    failures.raise_any()


def test_ecs_beats_the_resolver_address(server):
    failures = Failures()
    for source in ("127.0.1.5", "127.0.5.5", "127.0.0.1"):
        response, answered, echoed, what = ask(server, "map", "A", ecs=("81.2.69.170", 32),
                                               source=source)
        failures.check(answered == set(POOLS["lon"][0]), what,
                       f"{POOLS['lon'][0]} (GB by the subnet)", describe(response))
    failures.raise_any()


# ---------------------------------------------------------------------------------------------
# Fallback to the zone's own records, TTLs


def test_unknown_location_gets_the_zone_records(server):
    failures = Failures()
    for subnet in (("8.8.8.0", 24), ("214.1.1.0", 24), ("2001:db8::", 48),
                   ("2001:0:d601:100::", 56)):
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


def test_pools_without_the_queried_type_fall_back_in_order(server):
    failures = Failures()
    cases = [
        # JP -> ["v6only"]: no pool has A, so the zone's A answers.
        (("2001:218::", 48), "A", ZONE_RECORDS["map"]["A"]),
        (("2001:218::", 48), "AAAA", set(POOLS["v6only"][1])),
        # CN -> ["v6only", "sin"]: A from the second pool, AAAA from the first.
        (("175.16.199.0", 24), "A", set(POOLS["sin"][0])),
        (("175.16.199.0", 24), "AAAA", set(POOLS["v6only"][1])),
        (("2001:250::", 48), "A", set(POOLS["sin"][0])),
    ]
    for subnet, qtype, expected in cases:
        response, answered, _, what = ask(server, "map", qtype, ecs=subnet)
        failures.check(answered == expected, what, sorted(expected), describe(response))
    # 127.0.5.0/24 goes straight to syd, which has no IPv6: the zone's AAAA answers.
    response, answered, _, what = ask(server, "map", "AAAA", source="127.0.5.5")
    failures.check(answered == ZONE_RECORDS["map"]["AAAA"], what,
                   sorted(ZONE_RECORDS["map"]["AAAA"]), describe(response))
    failures.raise_any()


def test_a_policy_name_missing_from_the_zone_is_created(server):
    failures = Failures()
    response, answered, _, what = ask(server, "new", "A", ecs=("214.78.120.0", 24))
    failures.check(response.rcode() == dns.rcode.NOERROR and answered == set(POOLS["iad"][0])
                   and response.flags & dns.flags.AA, what, f"AA and {POOLS['iad'][0]}",
                   describe(response))
    ttl = response.answer[0].ttl if response.answer else None
    failures.check(ttl == 60, what, "TTL 60 (no ttl, no zone A at the name)", ttl)
    # Unknown location and no records of its own: NODATA with the zone's SOA.
    response, answered, _, what = ask(server, "new", "A", ecs=("8.8.8.0", 24))
    failures.check(response.rcode() == dns.rcode.NOERROR and not response.answer and
                   any(r.rdtype == dns.rdatatype.SOA for r in response.authority), what,
                   "NODATA: NOERROR, no answer, SOA in authority", describe(response))
    failures.raise_any()


def test_steered_ttl_is_the_policy_ttl_else_the_zone_ttl(server):
    failures = Failures()
    for name, ttl in (("map", 30), ("nearest", 120)):
        response, answered, _, what = ask(server, name, "A", ecs=("214.78.120.0", 24))
        got = response.answer[-1].ttl if response.answer else None
        failures.check(answered == set(POOLS["sjc"][0]) and got == ttl, what,
                       f"{POOLS['sjc'][0]} with TTL {ttl}", describe(response))
    failures.raise_any()


# ---------------------------------------------------------------------------------------------
# Malformed ECS


def raw_ecs_query(payload, qname=f"map.{ORIGIN}"):
    option = dns.edns.GenericOption(dns.edns.ECS, payload)
    return make_query(qname, "A", options=[option]).to_wire()


def test_malformed_ecs_gets_formerr(server):
    # RFC 7871 §6 and §7.1.1.
    def ecs(family, prefix, *address):  # FAMILY, SOURCE PREFIX-LENGTH, SCOPE 0, ADDRESS
        return struct.pack("!HBB", family, prefix, 0) + bytes(address)

    cases = {
        "unknown family 3": ecs(3, 24, 192, 0, 2),
        "IPv4 source prefix 33": ecs(1, 33, 0, 0, 0, 0, 0),
        "IPv6 source prefix 129": ecs(2, 129, *[0] * 17),
        "address longer than the prefix needs": ecs(1, 24, 214, 78, 120, 0),
        "address shorter than the prefix needs": ecs(1, 24, 214, 78),
        "bits set past the source prefix": ecs(1, 20, 214, 78, 127),
        "option shorter than its fixed part": struct.pack("!H", 1),
    }
    failures = Failures()
    good = ecs(1, 24, 214, 78, 120)
    reply = udp_raw(server.port, raw_ecs_query(good))
    failures.check(reply is not None and rcode_of(reply) == dns.rcode.NOERROR,
                   "map A with a well-formed ECS 214.78.120.0/24 (control)", "NOERROR",
                   describe(reply))
    for what, payload in cases.items():
        reply = udp_raw(server.port, raw_ecs_query(payload))
        failures.check(reply is not None and rcode_of(reply) == dns.rcode.FORMERR,
                       f"map A with ECS: {what} ({payload.hex()})", "FORMERR", describe(reply))
    two = make_query(f"map.{ORIGIN}", "A", options=[ecs_option("214.78.120.0", 24),
                                                     ecs_option("81.2.69.170", 32)]).to_wire()
    reply = udp_raw(server.port, two)
    failures.check(reply is not None and rcode_of(reply) == dns.rcode.FORMERR,
                   "map A with two ECS options", "FORMERR", describe(reply))
    failures.raise_any()


# ---------------------------------------------------------------------------------------------
# [geoip] ecs, ecs_from, and nets that beat the database


def test_ecs_from_limits_whose_subnet_counts_and_nets_beat_the_database():
    nets = NETS + [(["214.78.120.0/24"], 'pools = ["syd"]')]
    failures = Failures()
    with geo_meridian(geo_config(nets=nets, geoip_lines=['ecs_from = ["127.0.9.0/24"]'])) \
            as server:
        # Not an allowed resolver: as if it had sent no ECS, so its own place decides.
        response, answered, echoed, what = ask(server, "map", "A", ecs=("81.2.69.170", 32),
                                               source="127.0.1.5")
        failures.check(answered == set(POOLS["sjc"][0]), what,
                       f"{POOLS['sjc'][0]} (the resolver's US-CA, ECS ignored)",
                       describe(response))
        failures.check(scope_of(echoed) in (None, 0), what, "no ECS scope beyond 0",
                       f"scope {scope_of(echoed)}")
        for subnet, pool in ((("81.2.69.170", 32), "lon"), (("214.78.120.9", 32), "syd"),
                             (("214.78.121.9", 32), "sjc")):
            response, answered, _, what = ask(server, "map", "A", ecs=subnet,
                                              source="127.0.9.5")
            failures.check(answered == set(POOLS[pool][0]), what, POOLS[pool][0],
                           describe(response))
    failures.raise_any()


def test_ecs_false_ignores_every_subnet():
    failures = Failures()
    with geo_meridian(geo_config(geoip_lines=["ecs = false"])) as server:
        for source, pool in (("127.0.1.5", "sjc"), ("127.0.2.5", "lon")):
            response, answered, echoed, what = ask(server, "map", "A",
                                                   ecs=("214.0.1.0", 24), source=source)
            failures.check(answered == set(POOLS[pool][0]), what,
                           f"{POOLS[pool][0]} (the resolver decides)", describe(response))
            failures.check(scope_of(echoed) in (None, 0), what, "no ECS scope beyond 0",
                           f"scope {scope_of(echoed)}")
    failures.raise_any()


def test_geoip_paths_choose_where_the_country_is_read():
    # [geoip.paths] country = registered_country: the test database registers these networks
    # in another country than it places them in; subdivision and continent keep their paths.
    cases = [("2.125.160.216", "FR", "fra"),   # placed in GB, registered FR: continent EU
             ("81.2.69.170", "US", "iad"),     # placed in GB
             ("149.101.100.0", "GB", "lon")]   # placed in the US
    for address, registered, _ in cases:
        said = mmdb_value(CITY_DB, address, "registered_country", "iso_code")
        if said != registered:
            raise RuntimeError(f"fixture: mmdblookup says {address} is registered in {said}")
    failures = Failures()
    paths = ["[geoip.paths]", 'country = ["registered_country.iso_code"]']
    with geo_meridian(geo_config(geoip_lines=paths)) as server:
        for address, registered, pool in cases:
            response, answered, _, what = ask(server, "map", "A", ecs=(address, 32))
            failures.check(answered == set(POOLS[pool][0]), f"{what} (registered {registered})",
                           POOLS[pool][0], describe(response))
    failures.raise_any()


# ---------------------------------------------------------------------------------------------
# The flat-schema database (country_code)


FLAT_CASES = [("8.8.8.0", 24, "US", "iad"), ("194.25.2.0", 24, "DE", "fra"),
              ("81.2.69.0", 24, "GB", "lon"), ("1.1.1.0", 24, "AU", "dflt"),
              ("2003::", 32, "DE", "fra"), ("2001:4860::", 32, "US", "iad")]


def test_flat_schema_database_steers_by_country_code():
    if not FLAT_DB.is_file():
        raise Skipped(f"{FLAT_DB} is absent")
    failures = Failures()
    for address, prefix, country, _ in FLAT_CASES:
        said = mmdb_value(FLAT_DB, address, "country_code")
        if said != country:
            raise RuntimeError(f"fixture: mmdblookup says {address} is {said}, not {country}")
    config = "\n".join([
        "[geoip]", f"database = {toml_string(str(FLAT_DB))}", "", pool_tables(),
        "[[geo]]", f'name = "map.{ORIGIN}"', 'mode = "map"',
        "[geo.map]", 'country = { "US" = ["iad"], "DE" = ["fra"], "GB" = ["lon"] }',
        'default = ["dflt"]', ""])
    with geo_meridian(config) as server:
        for address, prefix, country, pool in FLAT_CASES:
            network = mmdb_network(FLAT_DB, address)
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
# Corrupt databases


def check_with_database(tmpdir, database):
    config = tmpdir / "check.toml"
    (tmpdir / "zones").mkdir(exist_ok=True)
    (tmpdir / "zones" / "geo.example.zone").write_text(ZONE)
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


def test_check_refuses_every_corrupt_database_by_name():
    # MaxMind's bad-data corpus: invalid metadata, corrupt search trees, records pointing into
    # the separator, oversized and over-deep data, an impossible build epoch. A database is
    # loaded whole before serving, so each must be refused up front, never half-loaded.
    bad = sorted(BAD_DIR.glob("*.mmdb"))
    if not bad:
        raise Skipped(f"no databases in {BAD_DIR}")
    tmpdir = Path(tempfile.mkdtemp(prefix="meridian-geo-check-"))
    failures = Failures()
    try:
        # Control: the same config with a good database passes, so each refusal below is
        # about the database and not about the config.
        control = check_with_database(tmpdir, CITY_DB)
        failures.check(not isinstance(control, subprocess.TimeoutExpired) and
                       control.returncode == 0 and "ok:" in control.stdout,
                       f"meridian check with {CITY_DB.name} (control)", "exit 0 and 'ok:'",
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
    sys.exit(run_tests(globals(), setup=setup, teardown=teardown))

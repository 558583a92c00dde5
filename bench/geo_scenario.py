# The GeoDNS scenario of the dnsperf bench: the database (a cached MaxMind-schema copy of the
# real one, or a synthetic one), the steering policy written for Meridian and for gdnsd's
# plugin_geoip, the binary query files with one ECS option per query, and the pool check.
"""GeoDNS scenario: Meridian's steered answers against its static ones and against gdnsd.

Both servers get the same database file, the same policy (a country/continent map onto six
pools with a default) and the same queries. dnsperf's -E would put one identical ECS option
on every query, so the query files are written in dnsperf's -B format (2-byte big-endian
length, then the message), each query with its own client subnet. See bench/README.md.
"""

import bisect
import hashlib
import ipaddress
import random
import re
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CACHE = BENCH / ".cache" / "geo"
CONVERTER = BENCH / "geo_database.pl"
# The realistic database: shared/ sits beside the repository.
DEFAULT_DATABASE = REPO.parent / "shared" / "geoip" / "real" / "geo-whois-asn-country.mmdb"
# Without it, a generated world of this many networks stands in (see bench/README.md).
SYNTHETIC_NETWORKS = 50000

GEO_NAME_LABEL = "geo"  # geo.<bench origin>
GEO_TTL = 30
ECS_SOURCE_PREFIX = 24  # what resolvers send for IPv4 (RFC 7871 §11.1)
EDNS_PAYLOAD = 1232
# Shares of the client subnets in the query file: drawn by address (so big countries come up
# as often as their address space), drawn by country (every country alike, so small ones
# appear too), and outside the database (the default answers).
SUBNET_MIX = {"by_address": 65, "by_country": 30, "not_in_database": 5}
STEERED_AAAA_SHARE = 1 / 3

# The pools: one A and one AAAA each, in gdnsd's datacenter order (its fallback order too).
POOLS = {
    "iad": ("192.0.2.110", "2001:db8:100::110"),
    "fra": ("192.0.2.120", "2001:db8:100::120"),
    "ams": ("192.0.2.130", "2001:db8:100::130"),
    "sjc": ("192.0.2.140", "2001:db8:100::140"),
    "sin": ("192.0.2.150", "2001:db8:100::150"),
    "gru": ("192.0.2.160", "2001:db8:100::160"),
}
CONTINENT_RULES = {
    "EU": ["fra", "ams"],
    "AF": ["fra", "ams"],
    "AS": ["sin", "sjc"],
    "OC": ["sin", "sjc"],
    "NA": ["iad", "sjc"],
    "SA": ["gru", "iad"],
}
# Country rules win over their continent's. "SA" here is Saudi Arabia, not South America.
COUNTRY_RULES = {
    "GB": ["ams", "fra"], "IE": ["ams", "fra"], "NL": ["ams", "fra"], "BE": ["ams", "fra"],
    "DK": ["ams", "fra"], "NO": ["ams", "fra"], "SE": ["ams", "fra"], "FI": ["ams", "fra"],
    "IS": ["ams", "fra"], "ZA": ["ams", "fra"],
    "JP": ["sjc", "sin"], "KR": ["sjc", "sin"], "TW": ["sjc", "sin"],
    "CA": ["sjc", "iad"], "MX": ["sjc", "iad"],
    "IL": ["fra", "sin"], "AE": ["fra", "sin"], "SA": ["fra", "sin"],
}
DEFAULT_RULE = ["iad"]


class GeoError(Exception):
    """A failure the user can act on."""


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Countries, continents and the policy


def read_continents():
    """Country -> continent, from Meridian's own table (geoip/location.cpp), so the database
    the bench writes says what Meridian would infer from a country alone."""
    source = REPO / "geoip" / "location.cpp"
    text = source.read_text()
    m = re.search(r"kCountryContinents\s*=\s*((?:\s*\"[A-Z]*\")+)\s*;", text)
    if not m:
        raise GeoError(f"{source}: cannot find the kCountryContinents table")
    table = "".join(re.findall(r"\"([A-Z]*)\"", m.group(1)))
    if len(table) % 4 or len(table) < 400:
        raise GeoError(f"{source}: kCountryContinents is not a list of CCxx pairs")
    return {table[i:i + 2]: table[i + 2:i + 4] for i in range(0, len(table), 4)}


def decide(country, continent):
    """The pool list the policy gives a location (country rule, continent rule, default)."""
    if country in COUNTRY_RULES:
        return COUNTRY_RULES[country]
    if continent in CONTINENT_RULES:
        return CONTINENT_RULES[continent]
    return DEFAULT_RULE


def geo_name(origin):
    return f"{GEO_NAME_LABEL}.{origin}"


def meridian_config(origin, database):
    """The [geoip], [[pool]] and [[geo]] tables for Meridian (see the config contract)."""
    def toml_list(items):
        return "[" + ", ".join(f'"{i}"' for i in items) + "]"

    def toml_rules(rules):
        return "{ " + ", ".join(f'"{k}" = {toml_list(v)}' for k, v in rules.items()) + " }"

    pools = "".join(f'\n[[pool]]\nname = "{name}"\naddresses = ["{v4}", "{v6}"]\n'
                    for name, (v4, v6) in POOLS.items())
    return f"""
[geoip]
database = "{database}"
ecs = true
{pools}
[[geo]]
name = "{geo_name(origin)}"
mode = "map"
ttl = {GEO_TTL}

[geo.map]
country = {toml_rules(COUNTRY_RULES)}
continent = {toml_rules(CONTINENT_RULES)}
default = {toml_list(DEFAULT_RULE)}
"""


def gdnsd_plugins(database, continents):
    """plugin_geoip with the same policy: gdnsd's map nests countries under their continent
    (the database's continent.code, which the bench wrote from the same table)."""
    def dclist(pools):
        return "[ " + ", ".join(pools) + " ]"

    lines = [f"default => {dclist(DEFAULT_RULE)}"]
    by_continent = {}
    for country, pools in COUNTRY_RULES.items():
        by_continent.setdefault(continents[country], {})[country] = pools
    for continent in sorted(set(CONTINENT_RULES) | set(by_continent)):
        countries = by_continent.get(continent)
        if not countries:
            lines.append(f"{continent} => {dclist(CONTINENT_RULES[continent])}")
            continue
        inner = []
        if continent in CONTINENT_RULES:
            inner.append(f"default => {dclist(CONTINENT_RULES[continent])}")
        inner += [f"{cc} => {dclist(p)}" for cc, p in sorted(countries.items())]
        lines.append(f"{continent} => {{ " + ", ".join(inner) + " }")
    dcmap = "\n".join(f"          {name} => {{ addrs_v4 => [ {v4} ], addrs_v6 => [ {v6} ] }}"
                      for name, (v4, v6) in POOLS.items())
    map_lines = "\n".join(f"          {line}" for line in lines)
    return f"""plugins => {{
  geoip => {{
    maps => {{
      bench => {{
        geoip2_db => "{database}"
        datacenters => {dclist(POOLS)}
        map => {{
{map_lines}
        }}
      }}
    }}
    resources => {{
      bench_geo => {{
        map => bench
        dcmap => {{
{dcmap}
        }}
      }}
    }}
  }}
}}
"""


def meridian_zone(zone_file, origin):
    """Meridian's zone: the bench zone by $INCLUDE plus the default pool's addresses at the
    steered name. Meridian answers a client the database does not locate with the zone's own
    records there, not with the map's default (geoip/policy.cpp: an unknown location is not
    "elsewhere"); gdnsd gives it the map's default. These records make the answers equal."""
    v4, v6 = POOLS[DEFAULT_RULE[0]]
    return (f"$INCLUDE {zone_file}\n$ORIGIN {origin}\n"
            f"{GEO_NAME_LABEL} {GEO_TTL} A {v4}\n{GEO_NAME_LABEL} {GEO_TTL} AAAA {v6}\n")


def gdnsd_zone(zone_file, origin):
    """gdnsd's zone: the bench zone by $INCLUDE plus the DYNA record (gdnsd cannot have A/AAAA
    beside DYNA, and Meridian creates the steered name itself)."""
    return (f"$INCLUDE {zone_file}\n$ORIGIN {origin}\n"
            f"{GEO_NAME_LABEL} {GEO_TTL} DYNA geoip!bench_geo\n")


# ---------------------------------------------------------------------------------------------
# The database


class Networks:
    """The database's IPv4 networks, sorted, for drawing subnets and predicting pools."""

    def __init__(self, path):
        self.first, self.last, self.country, self.continent = [], [], [], []
        with open(path) as f:
            for line in f:
                first, prefix, cc, continent = line.split()
                first, prefix = int(first), int(prefix)
                self.first.append(first)
                self.last.append(first + (1 << (32 - prefix)) - 1)
                self.country.append("" if cc == "-" else cc)
                self.continent.append("" if continent == "-" else continent)
        if not self.first:
            raise GeoError(f"{path}: no IPv4 networks")
        self.by_country = {}
        for i, cc in enumerate(self.country):
            self.by_country.setdefault(cc, []).append(i)

    def find(self, address):
        """Index of the network holding ADDRESS (an integer), or None."""
        i = bisect.bisect_right(self.first, address) - 1
        return i if i >= 0 and address <= self.last[i] else None

    def location(self, address):
        i = self.find(address)
        return (self.country[i], self.continent[i]) if i is not None else None


class Database:
    def __init__(self, mmdb, networks, description):
        self.mmdb = mmdb
        self.networks = networks
        self.description = description


def prepare_database(source, continents, work):
    """The MaxMind-schema database and its network list, from the cache when the source (by
    size and mtime) and the converter are unchanged. SOURCE None: the synthetic database."""
    converter_hash = hashlib.sha256(CONVERTER.read_bytes()).hexdigest()[:10]
    table_hash = hashlib.sha256(repr(sorted(continents.items())).encode()).hexdigest()[:6]
    if source is not None:
        st = source.stat()
        stem = source.stem
        key = f"{stem}-{st.st_size}-{st.st_mtime_ns}-{converter_hash}{table_hash}"
        what = f"{source} converted to MaxMind's schema"
        origin = ["--source", str(source)]
    else:
        stem = "synthetic"
        key = f"{stem}-{SYNTHETIC_NETWORKS}-{converter_hash}{table_hash}"
        what = f"a synthetic database of {SYNTHETIC_NETWORKS} IPv4 networks"
        origin = ["--synthetic", str(SYNTHETIC_NETWORKS), "--seed", "1"]
    mmdb, nets = CACHE / f"{key}.mmdb", CACHE / f"{key}.nets"
    if mmdb.exists() and nets.exists():
        log(f"geo: database from the cache: {mmdb}")
    else:
        CACHE.mkdir(parents=True, exist_ok=True)
        table = work / "continents.txt"
        table.write_text("".join(f"{cc} {c}\n" for cc, c in sorted(continents.items())))
        cmd = ["perl", str(CONVERTER), "--continents", str(table), "--out", str(mmdb),
               "--nets", str(nets)] + origin
        log(f"geo: building {what} (once; cached in {CACHE}): {shlex.join(cmd)}")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise GeoError(f"converting the database failed (bench/run.sh installs the Perl "
                           f"modules it needs):\n{r.stdout}{r.stderr}")
        # Older cache entries of the same source are stale now.
        for old in CACHE.glob(f"{stem}-*"):
            if old.stem != key and old.suffix in (".mmdb", ".nets"):
                old.unlink(missing_ok=True)
    return Database(mmdb, Networks(nets), what)


# ---------------------------------------------------------------------------------------------
# Client subnets and query files


def is_public_unicast(address):
    top = address >> 24
    return not (top in (0, 10, 127) or top >= 224 or address >> 20 == (172 << 4 | 1)
                or address >> 16 == (192 << 8 | 168) or address >> 22 == (100 << 2 | 1)
                or address >> 16 == (169 << 8 | 254))


def draw_subnets(networks, count, seed):
    """COUNT client /24s (as integers, low byte zero) drawn per SUBNET_MIX."""
    rng = random.Random(seed)
    countries = sorted(networks.by_country)
    kinds = list(SUBNET_MIX)
    weights = [SUBNET_MIX[k] for k in kinds]
    subnets = []
    for kind in rng.choices(kinds, weights, k=count):
        subnet = None
        for _ in range(1000):  # bounded: a tiny database may have few gaps or hits
            if kind == "by_country":
                i = rng.choice(networks.by_country[rng.choice(countries)])
                candidate = rng.randint(networks.first[i], networks.last[i]) & ~0xFF
                if networks.find(candidate) is not None:
                    subnet = candidate
                    break
                continue
            candidate = rng.getrandbits(32) & ~0xFF
            if not is_public_unicast(candidate):
                continue
            if (networks.find(candidate) is not None) == (kind == "by_address"):
                subnet = candidate
                break
        if subnet is None:
            subnet = rng.getrandbits(24) << 8
        subnets.append(subnet)
    return subnets


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def ecs_opt(subnet):
    """An OPT RR with one ECS option: family 1, SOURCE PREFIX-LENGTH 24, SCOPE 0, and the
    address cut to 3 octets (RFC 7871 §6: no more octets than the source prefix needs)."""
    address = struct.pack("!I", subnet)[:(ECS_SOURCE_PREFIX + 7) // 8]
    option = struct.pack("!HBB", 1, ECS_SOURCE_PREFIX, 0) + address
    rdata = struct.pack("!HH", 8, len(option)) + option
    return b"\0" + struct.pack("!HHIH", 41, EDNS_PAYLOAD, 0, len(rdata)) + rdata


def wire_query(name, qtype, subnet=None):
    """A query as dnsperf sends its text-file queries (id 0, which dnsperf overwrites; RD
    set; no EDNS), plus the ECS OPT record when SUBNET is given."""
    header = struct.pack("!HHHHHH", 0, 0x0100, 1, 0, 0, 0 if subnet is None else 1)
    question = wire_name(name) + struct.pack("!HH", dns.rdatatype.from_text(qtype), 1)
    return header + question + (b"" if subnet is None else ecs_opt(subnet))


def write_binary_queries(path, messages):
    """dnsperf -B: each message preceded by its length, 2 octets big-endian (RFC 1035
    §4.2.2, as over TCP)."""
    with open(path, "wb") as out:
        for m in messages:
            out.write(struct.pack("!H", len(m)) + m)
    return len(messages)


class QueryFiles:
    """The scenario's three dnsperf -B files: the static mix as it is, the static mix with the
    steered file's client subnets, and the steered name with them."""

    def __init__(self, work, origin, static_queries, networks, seed):
        rng = random.Random(seed)
        count = len(static_queries)
        self.subnets = draw_subnets(networks, count, seed)
        name = geo_name(origin)
        self.steered_types = ["AAAA" if rng.random() < STEERED_AAAA_SHARE else "A"
                              for _ in range(count)]
        self.static = work / "static.bin"
        self.static_ecs = work / "static-ecs.bin"
        self.steered = work / "steered-ecs.bin"
        write_binary_queries(self.static, [wire_query(n, t) for n, t in static_queries])
        write_binary_queries(self.static_ecs, [wire_query(n, t, s) for (n, t), s in
                                               zip(static_queries, self.subnets)])
        write_binary_queries(self.steered, [wire_query(name, t, s) for t, s in
                                            zip(self.steered_types, self.subnets)])
        self.count = count
        in_db = sum(1 for s in self.subnets if networks.find(s) is not None)
        self.distinct = len(set(self.subnets))
        self.countries = len({networks.location(s)[0] for s in self.subnets
                              if networks.find(s) is not None})
        self.outside = count - in_db
        pools = {}
        for s in self.subnets:
            pool = expected_pool(networks, s)
            pools[pool] = pools.get(pool, 0) + 1
        self.pool_shares = {p: pools.get(p, 0) / count for p in POOLS}

    def summary(self):
        shares = ", ".join(f"{p} {100 * v:.0f}%" for p, v in self.pool_shares.items())
        return (f"{self.count} steered queries (A/AAAA {1 - STEERED_AAAA_SHARE:.0%}/"
                f"{STEERED_AAAA_SHARE:.0%}), {self.distinct} distinct /24 client subnets from "
                f"{self.countries} countries, {100 * self.outside / self.count:.1f}% outside "
                f"the database; expected pools: {shares}")


def expected_pool(networks, subnet):
    loc = networks.location(subnet)
    return decide(*loc)[0] if loc else DEFAULT_RULE[0]


# ---------------------------------------------------------------------------------------------
# The pool check


def subnet_text(subnet):
    return f"{ipaddress.IPv4Address(subnet)}/{ECS_SOURCE_PREFIX}"


def sample_subnets(files, networks, per_pool=3, outside=3):
    """Subnets from the query file: a few per pool, a few outside the database."""
    picked, seen = [], set()
    want = {p: per_pool for p in POOLS}
    left_outside = outside
    for s in files.subnets:
        if s in seen:
            continue
        if networks.find(s) is None:
            if left_outside:
                left_outside -= 1
                picked.append(s)
                seen.add(s)
            continue
        pool = expected_pool(networks, s)
        if want[pool]:
            want[pool] -= 1
            picked.append(s)
            seen.add(s)
    return picked


def ask_with_ecs(port, name, qtype, subnet, timeout=1.0):
    option = dns.edns.ECSOption(str(ipaddress.IPv4Address(subnet)), ECS_SOURCE_PREFIX, 0)
    q = dns.message.make_query(name, qtype, use_edns=0, payload=EDNS_PAYLOAD, options=[option])
    q.flags &= ~dns.flags.RD
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)


def pool_check(servers, origin, files, networks):
    """Asks every geo server for the steered name's A and AAAA with sampled client subnets and
    compares the answer with the pool the policy gives the database's location. Returns
    (fatal, problems, rows): fatal is no answer or no address at all (a bench of errors);
    a problem is a wrong pool, a missing ECS option or servers that disagree; a row per
    subnet says location, expected pool, and each server's pool and ECS scope."""
    name = geo_name(origin)
    by_address = {}
    for pool, (v4, v6) in POOLS.items():
        by_address[v4] = pool
        by_address[v6] = pool
    fatal, problems, rows = [], [], []
    for subnet in sample_subnets(files, networks):
        loc = networks.location(subnet)
        want = expected_pool(networks, subnet)
        row = {"subnet": subnet_text(subnet),
               "location": "/".join(x or "-" for x in loc) if loc else "not in database",
               "expected": want, "servers": {}}
        for s in servers:
            got = []
            for qtype in ("A", "AAAA"):
                try:
                    r = ask_with_ecs(s.port, name, qtype, subnet)
                except (dns.exception.Timeout, OSError) as e:
                    fatal.append(f"{s.name}: {name} {qtype} ECS {subnet_text(subnet)}: "
                                    f"no answer ({type(e).__name__})")
                    got.append(("none", None))
                    continue
                addresses = [rd.address for rrset in r.answer for rd in rrset
                             if rrset.rdtype == dns.rdatatype.from_text(qtype)]
                pools = sorted({by_address.get(a, a) for a in addresses})
                pool = pools[0] if len(pools) == 1 else ",".join(pools) or "empty"
                ecs = [o for o in r.options if isinstance(o, dns.edns.ECSOption)]
                scope = ecs[0].scopelen if ecs else None
                if r.rcode() != dns.rcode.NOERROR or not addresses:
                    fatal.append(f"{s.name}: {name} {qtype} ECS {subnet_text(subnet)}: "
                                    f"{dns.rcode.to_text(r.rcode())}, {len(addresses)} "
                                    "addresses")
                elif pool != want:
                    problems.append(f"{s.name}: {name} {qtype} ECS {subnet_text(subnet)} "
                                    f"({row['location']}): pool {pool}, policy says {want}")
                if not ecs:
                    problems.append(f"{s.name}: {name} {qtype} ECS {subnet_text(subnet)}: "
                                    "no ECS option in the response (RFC 7871 §7.2.1)")
                got.append((pool, scope))
            row["servers"][s.name] = {"A": got[0][0], "AAAA": got[1][0],
                                      "scope": got[0][1]}
        answers = {(v["A"], v["AAAA"]) for v in row["servers"].values()}
        if len(answers) > 1:
            problems.append(f"servers disagree on ECS {row['subnet']} ({row['location']}): " +
                            "; ".join(f"{n} {v['A']}/{v['AAAA']}"
                                      for n, v in row["servers"].items()))
        rows.append(row)
    return fatal, problems, rows


def format_pool_rows(rows, names):
    """The pool check as a small table: subnet, location, expected, each server's pool/scope."""
    out = [["ECS subnet", "location", "policy"] + [f"{n} (pool/scope)" for n in names]]
    for r in rows:
        cells = [r["subnet"], r["location"], r["expected"]]
        for n in names:
            v = r["servers"].get(n)
            if v is None:
                cells.append("-")
            else:
                pool = v["A"] if v["A"] == v["AAAA"] else f"{v['A']}|{v['AAAA']}"
                cells.append(f"{pool}/{v['scope'] if v['scope'] is not None else '-'}")
        out.append(cells)
    widths = [max(len(row[i]) for row in out) for i in range(len(out[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in out]


def default_source(explicit):
    """The database to convert: --geo-db, else shared/'s real one, else None (synthetic;
    also what --geo-db synthetic asks for)."""
    if explicit == "synthetic":
        return None
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise GeoError(f"--geo-db {explicit}: no such file")
        return path
    return DEFAULT_DATABASE if DEFAULT_DATABASE.exists() else None


if __name__ == "__main__":  # a quick look at the policy, for whoever edits it
    continents = read_continents()
    print(meridian_config("bench.example.", "geo.mmdb"))
    print(gdnsd_plugins("geo.mmdb", continents))

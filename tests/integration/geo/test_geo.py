"""GeoDNS through the real binary, with nothing but the config: [[geoip.nets]] on loopback
networks place clients, so the resolver's own source address (127.0.x.y) or the EDNS Client
Subnet it sends decides the pool; the zone's records answer everyone else. Also `explain`
and `check` on geo configs. Hermetic: no database, no ../shared."""

import ipaddress
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dns.edns  # noqa: E402
import dns.rcode  # noqa: E402

from meridian_harness import (  # noqa: E402
    Meridian, Skipped, expect, has_ipv6_loopback, kdig, make_query, query, rcode_of, run_meridian,
    run_tests, toml_table, udp_raw, zone_file)

ZONE = zone_file("geo.example.", """www    A   192.0.2.53
www    AAAA 2001:db8::53
alias  CNAME www
static A   192.0.2.99
""", ttl=3600, soa_timers="7 7200 3600 1209600 300")

GEO = '\n[geoip]\necs_from = ["127.0.0.0/8", "::1/128"]\n\n' + "\n".join([
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


def geo_server(config=GEO):
    return Meridian(server={"pool": "iad"}, zones=[("geo.example.zone", "geo.example.")],
                    extra_config=config, files={"zones/geo.example.zone": ZONE})


def addresses(reply, name="www.geo.example."):
    for rrset in reply.answer:
        if rrset.name.to_text() == name and rrset.rdtype in (1, 28):
            return sorted(r.address for r in rrset), rrset.ttl
    return [], None


def ecs_of(reply):
    for option in reply.options:
        if option.otype == dns.edns.ECS:
            return option
    return None


def ask(port, name="www.geo.example.", qtype="A", source=None, subnet=None, prefix=24,
        address="127.0.0.1", transport="udp"):
    options = [dns.edns.ECSOption(subnet, prefix, 0)] if subnet is not None else None
    return query(port, name, qtype, transport=transport, address=address, source=source,
                 options=options)


def setup():
    return geo_server().start()


def test_resolver_address_decides_without_ecs(server, transport):
    for source, expected in (("127.0.1.7", FRA), ("127.0.2.7", SIN), ("127.0.3.7", IAD),
                             ("127.0.9.9", ANYCAST)):
        reply = ask(server.port, source=source, transport=transport)
        got, ttl = addresses(reply)
        expect(got == [expected], f"www A from {source} over {transport}", expected, got)
        expect(ttl == (3600 if expected == ANYCAST else 30), f"TTL from {source}",
               "policy ttl 30, zone's 3600 on fallback", ttl)
        expect(ecs_of(reply) is None, "no ECS in a reply to a query without ECS", "none",
               ecs_of(reply))


def test_ipv6_resolver_address_decides(server):
    if not has_ipv6_loopback():
        raise Skipped("this machine has no IPv6 loopback")
    reply = ask(server.port, address="::1", source="::1")
    expect(addresses(reply)[0] == [SIN], "www A from ::1 (a net in SG)", SIN, addresses(reply))


def test_ecs_subnet_decides_with_scope(server):
    reply = ask(server.port, subnet="198.51.100.0", prefix=24)
    expect(addresses(reply)[0] == [FRA], "www A, ECS 198.51.100.0/24", FRA, addresses(reply))
    expect(ecs_of(reply).scopelen == 24, "scope of a /24 net", 24, ecs_of(reply).scopelen)
    # A /25 net: the scope says the answer holds for the /25 only, longer than the source.
    reply = ask(server.port, subnet="203.0.113.0", prefix=24)
    expect(addresses(reply)[0] == [SIN], "www A, ECS 203.0.113.0/24", SIN, addresses(reply))
    expect(ecs_of(reply).scopelen == 25, "scope of a /25 net (RFC 7871 §7.2.1)", 25,
           ecs_of(reply).scopelen)
    # IPv6 ECS; sin has no IPv6, so AAAA takes the next pool in the list.
    reply = ask(server.port, qtype="AAAA", subnet="2001:db8:aa::", prefix=56)
    expect(addresses(reply)[0] == ["2001:db8::10"], "www AAAA, ECS 2001:db8:aa::/56",
           "fra's 2001:db8::10", addresses(reply))
    expect(ecs_of(reply).scopelen == 48, "IPv6 scope", 48, ecs_of(reply).scopelen)
    # An unlocated subnet: the zone's anycast record, with a scope where that holds.
    reply = ask(server.port, subnet="100.64.0.0", prefix=24)
    expect(addresses(reply)[0] == [ANYCAST], "www A, ECS 100.64.0.0/24", ANYCAST,
           addresses(reply))
    expect(0 < ecs_of(reply).scopelen <= 24, "fallback scope", "1..24", ecs_of(reply).scopelen)


def test_first_and_last_address_of_the_scope_agree(server):
    for subnet, prefix in (("198.51.100.0", 24), ("203.0.113.0", 24), ("100.64.0.0", 24),
                           ("2001:db8:aa::", 56)):
        qtype = "AAAA" if ":" in subnet else "A"
        reply = ask(server.port, qtype=qtype, subnet=subnet, prefix=prefix)
        scope = ecs_of(reply).scopelen
        network = ipaddress.ip_network(f"{subnet}/{scope}", strict=False)
        full = 32 if network.version == 4 else 128
        first = ask(server.port, qtype=qtype, subnet=str(network.network_address), prefix=full)
        last = ask(server.port, qtype=qtype, subnet=str(network.broadcast_address), prefix=full)
        expect(addresses(first)[0] == addresses(last)[0] == addresses(reply)[0],
               f"first and last address of {network}", addresses(reply)[0],
               (addresses(first)[0], addresses(last)[0]))


def test_scope_is_zero_where_the_answer_does_not_depend_on_the_client(server):
    cases = (("static.geo.example.", "A", "a static name"),
             ("nothing.geo.example.", "A", "NXDOMAIN"),
             ("www.geo.example.", "MX", "an unsteered type"),
             ("pop.geo.example.", "A", "a local policy"))
    for name, qtype, what in cases:
        reply = ask(server.port, name=name, qtype=qtype, subnet="198.51.100.0", prefix=24)
        expect(ecs_of(reply) is not None and ecs_of(reply).scopelen == 0, f"{what}: scope",
               0, ecs_of(reply))
    # Source prefix 0: the resolver's own address decides (127.0.2.7 is in SG), scope 0.
    reply = ask(server.port, source="127.0.2.7", subnet="0.0.0.0", prefix=0)
    expect(addresses(reply)[0] == [SIN], "ECS /0 from 127.0.2.7", SIN, addresses(reply))
    expect(ecs_of(reply).scopelen == 0, "ECS /0 scope", 0, ecs_of(reply).scopelen)


def test_local_policy_answers_this_pops_pool(server):
    reply = ask(server.port, name="pop.geo.example.", source="127.0.1.7")
    expect(addresses(reply, "pop.geo.example.")[0] == [IAD], "pop A (local, [server] pool iad)",
           IAD, addresses(reply, "pop.geo.example."))


def test_cname_into_a_steered_name_is_steered(server):
    reply = ask(server.port, name="alias.geo.example.", subnet="198.51.100.0", prefix=24)
    expect(addresses(reply)[0] == [FRA], "alias CNAME www, ECS in DE", FRA, addresses(reply))
    expect(ecs_of(reply).scopelen == 24, "alias scope", 24, ecs_of(reply).scopelen)


def test_malformed_ecs_gets_formerr(server):
    # Source /24 but four address octets (RFC 7871 §6: must be exactly ceil(24/8)).
    option = dns.edns.GenericOption(dns.edns.ECS, bytes([0, 1, 24, 0, 198, 51, 100, 0]))
    message = make_query("www.geo.example.", "A", options=[option])
    reply = udp_raw(server.port, message.to_wire())
    expect(reply is not None and rcode_of(reply) == dns.rcode.FORMERR, "ECS with a wrong length",
           "FORMERR", reply and rcode_of(reply))


def test_kdig_subnet_is_steered(server):
    result = kdig(server.port, "www.geo.example.", "A", "+subnet=203.0.113.0/24")
    got = [r[4] for r in result.records("ANSWER")]
    expect(got == [SIN], "kdig +subnet=203.0.113.0/24 www A", SIN, result.text)


def test_ecs_from_others_is_ignored():
    server = geo_server(GEO.replace('ecs_from = ["127.0.0.0/8", "::1/128"]',
                                    'ecs_from = ["127.0.3.0/24"]')).start()
    try:
        # From 127.0.2.7 (not allowed to send ECS): its own address decides, scope 0.
        reply = ask(server.port, source="127.0.2.7", subnet="198.51.100.0", prefix=24)
        expect(addresses(reply)[0] == [SIN], "ECS from a resolver outside ecs_from", SIN,
               addresses(reply))
        expect(ecs_of(reply).scopelen == 0, "scope when ECS was not used", 0,
               ecs_of(reply).scopelen)
        # From 127.0.3.7 (allowed): the subnet decides.
        reply = ask(server.port, source="127.0.3.7", subnet="198.51.100.0", prefix=24)
        expect(addresses(reply)[0] == [FRA], "ECS from a resolver in ecs_from", FRA,
               addresses(reply))
    finally:
        server.stop()


def test_ecs_false_ignores_the_option():
    server = geo_server(GEO.replace("[geoip]\n", "[geoip]\necs = false\n")).start()
    try:
        reply = ask(server.port, source="127.0.1.7", subnet="203.0.113.0", prefix=24)
        expect(addresses(reply)[0] == [FRA], "ecs = false: the resolver (DE) decides", FRA,
               addresses(reply))
        expect(ecs_of(reply).scopelen == 0, "scope with ecs = false", 0, ecs_of(reply).scopelen)
    finally:
        server.stop()


def test_explain_tells_the_whole_story():
    server = geo_server()
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
    bad = GEO + '\n[[geo]]\nname = "www.example.org."\nmode = "map"\n[geo.map]\ndefault = ["fra"]\n'
    server = geo_server(bad)
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
    partial = GEO + ('\n[[geo]]\nname = "app.geo.example."\nmode = "map"\n[geo.map]\n'
                     'continent = { "AS" = ["sin"] }\ndefault = ["fra"]\n')
    server = geo_server(partial)
    completed = run_meridian("check", "--config", server.write_config())
    server.stop()
    expect(completed.returncode == 0 and "warning: 'app.geo.example.': AAAA is NODATA" in
           completed.stderr and "3 geo policies" in completed.stdout,
           "check on a policy with partial NODATA", "exit 0 with a warning",
           completed.stdout + completed.stderr)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup=setup, teardown=lambda s: s.stop()))

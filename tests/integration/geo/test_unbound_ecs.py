"""GeoDNS through a real resolver: Debian's Unbound with its subnetcache module in front of
Meridian, sending each client's address as ECS (RFC 7871). [[geoip.nets]] puts loopback client
networks in different places, so clients asking Unbound from 127.0.1.x and 127.0.2.x get
different answers through it; a second client in the same /24 is answered from Unbound's cache
(its subnet-cache counter grows, and it still gets the answer with Meridian stopped), while a
client outside every cached scope is not given another scope's answer. That is the scope
Meridian returns at work: one too wide would hand one network's answer to the next.
Needs the unbound package (skipped otherwise)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    Meridian, Unbound, describe, make_query, query, require_program, run_tests, stop_server,
    toml_table, zone_file)

import dns.edns  # noqa: E402
import dns.exception  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

require_program("unbound")

ZONE_NAME = "geo.example."
QNAME = f"www.{ZONE_NAME}"
ZONE = zone_file(ZONE_NAME, "www   A     192.0.2.99\nwww   AAAA  2001:db8::99\n")
OWN = {"A": {"192.0.2.99"}, "AAAA": {"2001:db8::99"}}  # clients no net places
POOLS = {"fra": {"A": {"198.51.100.3"}, "AAAA": {"2001:db8:3::1"}},
         "iad": {"A": {"198.51.100.2"}, "AAAA": {"2001:db8:2::1"}}}

# 127.0.1.0/24 and 127.0.9.0/24 get the same pool but are two scopes (not neighbours);
# Unbound itself (127.0.0.1) is in no net, so without ECS every client would get OWN.
NETS = {"127.0.1.0/24": "DE", "127.0.2.0/24": "US", "127.0.9.0/24": "DE"}
POOL_ADDRESSES = {"fra": ["198.51.100.3", "2001:db8:3::1"],
                  "iad": ["198.51.100.2", "2001:db8:2::1"]}
CONFIG = "\n".join(
    [toml_table("geoip.nets", networks=[net], country=country) for net, country in NETS.items()]
    + [toml_table("pool", name=name, addresses=addresses)
       for name, addresses in POOL_ADDRESSES.items()]) + f"""
[[geo]]
name = "{QNAME}"
mode = "map"
ttl = 300
[geo.map]
country = {{ "DE" = ["fra"], "US" = ["iad"] }}
"""


def setup():
    meridian = Meridian(zones=[("geo.example.zone", ZONE_NAME)], extra_config=CONFIG,
                        files={"zones/geo.example.zone": ZONE}).start()
    try:
        unbound = Unbound(ZONE_NAME, meridian.port).start()
    except Exception:
        meridian.stop()
        raise
    return {"meridian": meridian, "unbound": unbound}


def teardown(context):
    if context:
        context["unbound"].stop()
        stop_server(context["meridian"])


def through_unbound(unbound, source, qtype="A", timeout=3.0):
    """Asks Unbound as a stub client at `source` would (RD set, no ECS of its own). Returns
    (response or None when none came in time, the answered addresses, what was asked)."""
    what = f"{QNAME} {qtype} via Unbound from client {source}"
    try:
        response = query(unbound.port, QNAME, qtype, rd=True, source=source, timeout=timeout)
    except dns.exception.Timeout:
        return None, set(), what
    rdtype = dns.rdatatype.from_text(qtype)
    answered = {rd.to_text() for rrset in response.answer if rrset.rdtype == rdtype
                for rd in rrset}
    return response, answered, what


def expect_answer(unbound, source, qtype, expected, failures):
    response, answered, what = through_unbound(unbound, source, qtype)
    ok = response is not None and response.rcode() == dns.rcode.NOERROR and answered == expected
    if not ok:
        failures.append(f"{what}\n    expected: NOERROR {sorted(expected)}\n"
                        f"    got:      {describe(response)}")


def subnet_counters(unbound):
    stats = unbound.stats()
    if stats is None:
        return None
    return (stats.get("num.query.subnet", 0), stats.get("num.query.subnet_cache", 0))


def raise_any(failures):
    if failures:
        raise AssertionError(f"{len(failures)} mismatches:\n  " + "\n  ".join(failures))


# ---------------------------------------------------------------------------------------------


def test_meridian_itself_gives_each_client_network_its_pool_with_a_24_bit_scope(meridian):
    # The control: what Unbound should learn. Each net is a /24 whose neighbours decide
    # differently, so the scope is exactly 24: shorter would cover a neighbour wrongly.
    failures = []
    for client, expected in (("127.0.1.5", POOLS["fra"]["A"]), ("127.0.2.5", POOLS["iad"]["A"]),
                             ("127.0.9.5", POOLS["fra"]["A"]), ("127.0.3.5", OWN["A"])):
        message = make_query(QNAME, "A", options=[dns.edns.ECSOption(client, 32)])
        response = query(meridian.port, message)
        answered = {rd.to_text() for rrset in response.answer for rd in rrset}
        scopes = [o.scopelen for o in response.options if o.otype == dns.edns.ECS]
        if answered != expected or scopes != [24]:
            failures.append(f"{QNAME} A ECS {client}/32 straight to Meridian\n"
                            f"    expected: {sorted(expected)} with ECS scope 24\n"
                            f"    got:      {sorted(answered)} with scopes {scopes}")
    raise_any(failures)


def test_clients_in_different_networks_get_different_answers_through_unbound(unbound):
    failures = []
    before = subnet_counters(unbound)
    for qtype in ("A", "AAAA"):
        expect_answer(unbound, "127.0.1.5", qtype, POOLS["fra"][qtype], failures)
        expect_answer(unbound, "127.0.2.5", qtype, POOLS["iad"][qtype], failures)
        expect_answer(unbound, "127.0.3.5", qtype, OWN[qtype], failures)
    after = subnet_counters(unbound)
    if before is not None and after[0] <= before[0]:
        failures.append(f"Unbound's num.query.subnet (answers that carried ECS) stayed at "
                        f"{after[0]}: ECS did not reach Meridian and back")
    raise_any(failures)


def test_a_second_client_in_the_same_scope_is_answered_from_unbound_cache(unbound):
    failures = []
    # Prime both scopes (a no-op when the test above already did).
    expect_answer(unbound, "127.0.1.5", "A", POOLS["fra"]["A"], failures)
    expect_answer(unbound, "127.0.2.5", "A", POOLS["iad"]["A"], failures)
    counters = subnet_counters(unbound)
    for source, pool in (("127.0.1.254", "fra"), ("127.0.2.200", "iad"), ("127.0.1.1", "fra")):
        expect_answer(unbound, source, "A", POOLS[pool]["A"], failures)
        if counters is not None:
            now = subnet_counters(unbound)
            if now[1] != counters[1] + 1:
                failures.append(f"{QNAME} A via Unbound from {source}: expected a hit in "
                                f"Unbound's subnet cache (num.query.subnet_cache "
                                f"{counters[1]} -> {counters[1] + 1}), got {now[1]}")
            counters = now
    # Same pool, another scope: Unbound must ask Meridian again, not reuse 127.0.1.0/24's.
    expect_answer(unbound, "127.0.9.5", "A", POOLS["fra"]["A"], failures)
    if counters is not None:
        now = subnet_counters(unbound)
        if now[1] != counters[1]:
            failures.append(f"{QNAME} A via Unbound from 127.0.9.5 was a subnet-cache hit "
                            f"({counters[1]} -> {now[1]}): a scope wider than 127.0.1.0/24")
    raise_any(failures)


def test_with_meridian_stopped_only_cached_scopes_are_answered(meridian, unbound):
    failures = []
    expect_answer(unbound, "127.0.1.5", "A", POOLS["fra"]["A"], failures)
    expect_answer(unbound, "127.0.2.5", "A", POOLS["iad"]["A"], failures)
    status = meridian.stop()
    print(f"meridian stopped (exit {status}); Unbound's cache alone answers now")
    # Same /24 as a primed client: the cache answers.
    expect_answer(unbound, "127.0.1.77", "A", POOLS["fra"]["A"], failures)
    expect_answer(unbound, "127.0.2.77", "A", POOLS["iad"]["A"], failures)
    # Outside every cached scope: no answer can come, and certainly not another scope's.
    for source in ("127.0.4.5", "127.0.0.9", "127.0.8.1"):
        response, answered, what = through_unbound(unbound, source, timeout=3.0)
        leaked = answered & (POOLS["fra"]["A"] | POOLS["iad"]["A"] | OWN["A"])
        if leaked:
            failures.append(f"{what} with Meridian stopped\n    expected: SERVFAIL or no "
                            f"answer (nothing cached for its scope)\n    got:      "
                            f"{describe(response)}")
    raise_any(failures)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup=setup, teardown=teardown))

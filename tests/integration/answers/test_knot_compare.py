"""Meridian against Knot DNS (Debian's knotd) on the same zones: for every owner name and
common type, plus NXDOMAIN, wildcard, DNAME and delegated names, both servers must agree on
the rcode, the QR/AA/TC flags and each section's RRsets (compared as sets; OPT ignored),
over UDP with and without EDNS and over TCP. Differences we chose on purpose are listed, with
their reason, in DELIBERATE_DIFFERENCES and skipped."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    DEFAULT_ZONES, ZONES_DIR, Knot, Meridian, dns, make_query, require_program, run_tests)
from knot_compare import ANY_ANSWER, TRUNCATED_UDP, compare, report  # noqa: E402

import dns.zone  # noqa: E402

TYPES = ["A", "AAAA", "NS", "SOA", "CNAME", "MX", "TXT", "SRV", "CAA", "PTR", "NAPTR", "DS",
         "DNAME", "TYPE65280"]

# UDP with EDNS (payload 1232), UDP without EDNS (512 octets), TCP.
TRANSPORTS = ("udp", "udp512", "tcp")

# Names no zone file lists as an owner but whose answers matter.
EXTRA_NAMES = [
    "nx.example.com.", "nx.www.example.com.", "nx.sub2.example.com.",        # NXDOMAIN
    "foo.wild.example.com.", "x.y.wild.example.com.", "x.wcname.example.com.",  # wildcards
    "x.b.wild.example.com.",                                                  # ENT blocks *
    "x.dname.example.com.", "a.b.dname.example.com.", "host.dname-in.example.com.",
    "nx.dname-in.example.com.",                                               # DNAME
    "www.sub.example.com.", "a.b.sub.example.com.", "www.ext.example.com.",
    "www.big.example.com.",                                                   # below cuts
    "WwW.ExAmPlE.CoM.",                                                       # case
    "www.example.org.", "com.",                                               # no zone
]

# Differences we chose on purpose: knot_compare.py gives each one's reason and predicate.
DELIBERATE_DIFFERENCES = [ANY_ANSWER, TRUNCATED_UDP]


def owner_names():
    """Every owner name in the served zones, read with dnspython (as the servers read them)."""
    names = []
    cwd = os.getcwd()
    os.chdir(ZONES_DIR)  # dnspython resolves $INCLUDE against the working directory
    try:
        for file, origin in DEFAULT_ZONES:
            zone = dns.zone.from_file(file, origin=origin, relativize=False, allow_include=True,
                                      check_origin=False)
            names += [name.to_text() for name in zone.nodes]
    finally:
        os.chdir(cwd)
    return sorted(set(names))


def test_meridian_answers_like_knot(servers):
    knot, meridian = servers["knot"], servers["meridian"]
    names = owner_names() + EXTRA_NAMES
    queries = [(name, qtype) for name in names for qtype in TYPES + ["ANY"]]
    # "udp512": a query without EDNS, so the classic 512-octet limit applies.
    asked = ((qname, qtype, transport,
              make_query(qname, qtype, edns=None if transport == "udp512" else 0, payload=1232))
             for transport in TRANSPORTS for qname, qtype in queries)
    outcome = compare(knot, meridian, asked, DELIBERATE_DIFFERENCES)
    report(outcome, f"{len(names)} names x {len(TYPES) + 1} types x {'/'.join(TRANSPORTS)}")


def setup():
    require_program("knotd")
    servers = {"knot": Knot().start()}
    servers["meridian"] = Meridian().start()
    return {"servers": servers}


def teardown(context):
    for name, server in ((context or {}).get("servers") or {}).items():
        print(f"{name} exited with {server.stop()}")


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup, teardown))

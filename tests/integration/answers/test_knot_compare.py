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
    DEFAULT_ZONES, ZONES_DIR, Knot, Meridian, dns, make_query, query, require_program,
    run_tests)

import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402
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

# Each: (why, with the RFC that allows it, and a predicate on the Comparison). A query whose
# comparison matches is counted as skipped, not compared. Keep each predicate narrow: it must
# not hide a difference that has another cause.
DELIBERATE_DIFFERENCES = [
    ("ANY: RFC 8482 §4.1 lets a responder return any one RRset (or a synthesised HINFO); "
     "Knot and Meridian may choose different ones",
     lambda c: c.qtype == "ANY"),
    ("Truncated UDP answers: when both set TC the client must retry over TCP (RFC 2181 §9, "
     "RFC 9471 §3), and which optional additional records fit first is not specified; Knot "
     "leaves room unused in its packet writer, Meridian fills up to the limit. The same "
     "queries over TCP are compared in full",
     lambda c: c.transport.startswith("udp") and "TC" in c.knot[1] and "TC" in c.meridian[1]
     and c.knot[:2] == c.meridian[:2] and all(
         c.knot[2][section] == c.meridian[2][section] for section in ("answer", "authority"))),
]


class Comparison:
    def __init__(self, qname, qtype, transport, knot, meridian):
        self.qname, self.qtype, self.transport = qname, qtype, transport
        self.knot, self.meridian = knot, meridian  # normalise()d replies


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


def normalise(message):
    """rcode, the compared flags, and each section as a set of RRsets (OPT left out)."""
    flags = {name for name, bit in (("QR", dns.flags.QR), ("AA", dns.flags.AA),
                                    ("TC", dns.flags.TC)) if message.flags & bit}
    sections = {}
    for section in ("answer", "authority", "additional"):
        rrsets = set()
        for rrset in getattr(message, section):
            rdatas = frozenset(rd.to_digestable() for rd in rrset)
            rrsets.add((rrset.name.to_text().lower(), dns.rdataclass.to_text(rrset.rdclass),
                        dns.rdatatype.to_text(rrset.rdtype), rrset.ttl, rdatas))
        sections[section] = rrsets
    return dns.rcode.to_text(message.rcode()), flags, sections


def render(rrsets):
    lines = []
    for name, rdclass, rdtype, ttl, rdatas in sorted(rrsets, key=lambda r: r[:4]):
        lines.append(f"{name} {ttl} {rdclass} {rdtype} ({len(rdatas)} rdata)")
    return "; ".join(lines) or "-"


def ask(server, message, transport):
    """normalise()d reply; a UDP query is tried 3 times (the machine may be busy), and no
    answer at all becomes a reply of its own kind, so it shows up as a difference."""
    for _ in range(1 if transport == "tcp" else 3):
        try:
            return normalise(query(server.port, message, transport=transport[:3], timeout=2.0))
        except dns.exception.Timeout:
            continue
    return ("NO ANSWER", set(), {"answer": set(), "authority": set(), "additional": set()})


def differences(knot, meridian):
    """Text for each way two normalise()d replies differ."""
    found = []
    if knot[0] != meridian[0]:
        found.append(f"rcode: knot {knot[0]}, meridian {meridian[0]}")
    if knot[1] != meridian[1]:
        found.append(f"flags: knot {sorted(knot[1])}, meridian {sorted(meridian[1])}")
    for section in ("answer", "authority", "additional"):
        only_knot = knot[2][section] - meridian[2][section]
        only_meridian = meridian[2][section] - knot[2][section]
        if only_knot or only_meridian:
            found.append(f"{section}: only knot [{render(only_knot)}], "
                         f"only meridian [{render(only_meridian)}]")
    return found


def deliberate(comparison):
    for reason, matches in DELIBERATE_DIFFERENCES:
        if matches(comparison):
            return reason
    return None


def test_meridian_answers_like_knot(servers):
    knot, meridian = servers["knot"], servers["meridian"]
    names = owner_names() + EXTRA_NAMES
    queries = [(name, qtype) for name in names for qtype in TYPES + ["ANY"]]
    compared = 0
    skipped = {}  # reason -> count
    mismatches = {}  # the differences found -> the queries showing them
    for transport in TRANSPORTS:
        for qname, qtype in queries:
            # "udp512": a query without EDNS, so the classic 512-octet limit applies.
            message = make_query(qname, qtype, edns=None if transport == "udp512" else 0,
                                 payload=1232)
            knot_reply = ask(knot, message, transport)
            meridian_reply = ask(meridian, message, transport)
            found = differences(knot_reply, meridian_reply)
            if not found:
                compared += 1
                continue
            reason = deliberate(Comparison(qname, qtype, transport, knot_reply, meridian_reply))
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            compared += 1
            mismatches.setdefault("\n      ".join(found), []).append(
                f"{qname} {qtype}/{transport}")
    differing = sum(len(q) for q in mismatches.values())
    print(f"    {len(queries) * len(TRANSPORTS)} queries ({len(names)} names x {len(TYPES) + 1} "
          f"types x {'/'.join(TRANSPORTS)}): {compared} compared, {sum(skipped.values())} skipped as deliberate "
          f"differences, {differing} differ in {len(mismatches)} distinct ways")
    for reason, count in skipped.items():
        print(f"    skipped {count}: {reason[:100]}...")
    for found, where in mismatches.items():
        shown = ", ".join(where[:6]) + (f", ... ({len(where)} queries)" if len(where) > 6 else "")
        print(f"    DIFF {shown}:\n      {found}")
    assert not mismatches, f"{differing} of {compared} queries differ from Knot (above)"


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

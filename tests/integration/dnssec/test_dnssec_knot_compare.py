"""The server under test against Knot DNS on the signed test zones (NSEC, NSEC3, NSEC3 opt-out,
each its own part): for every owner name (of the NSEC3 owners, one asked every type and two
the DNSSEC ones), NXDOMAIN, wildcard, DNAME, empty non-terminal and below-cut names, and
A AAAA NS SOA CNAME MX TXT DS DNSKEY RRSIG NSEC NSEC3 NSEC3PARAM DNAME ANY, both servers must
agree on the rcode, the QR AA TC AD CD flags, the EDNS and DO bits of the response's OPT, and
each section's RRsets (with their RRSIGs, compared as sets), with and without DO, over UDP with
a 512-octet EDNS buffer, without EDNS, with a 4096-octet buffer, and over TCP. Neither may set
AD (RFC 4035 §3.1.6: only a server that validated may). First with the parent zone alone, so
that names below the cuts get referrals (DS and RRSIG, or the proof that there is no DS); then
with both children served too, for DS at a child's apex (answered from the parent, RFC 4035
§3.1.4.1) and the children's own answers.

MERIDIAN_DNSSEC_SERVER=knot compares Knot with a second Knot (see signed_servers.py). Needs
knotd and ldnsutils; skipped otherwise."""

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import dns, make_query, part, require_program, run_tests  # noqa: E402
from knot_compare import ANY_ANSWER, TRUNCATED_UDP, compare, report  # noqa: E402
from signed_servers import (  # noqa: E402
    SERVER_KIND, SignedVariants, require_server_under_test, require_signing_tools, serve)

import dns.flags  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.zone  # noqa: E402

require_program("knotd")
require_signing_tools()
require_server_under_test()

ZONE = "dnssec.test."
TYPES = ["A", "AAAA", "NS", "SOA", "CNAME", "MX", "TXT", "DS", "DNSKEY", "RRSIG", "NSEC", "NSEC3",
         "NSEC3PARAM", "DNAME", "ANY"]
DNSSEC_TYPES = ["DS", "DNSKEY", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM"]
UDP_PAYLOAD = 4096  # what both servers are configured to send at most
SHOWN_DIFFERENCES = 60  # distinct ways to differ printed per comparison; all are counted
HASHED_NAMES = 3  # NSEC3 owner names asked (the first for every type, the others DNSSEC ones)

# (label, EDNS payload or None for no EDNS, DO, CD and AD in the query). The label starts with
# the transport. RFC 6840 §5.7: AD in a query asks for AD in the answer, which an
# authoritative server still must not set. CD in the answer is compared with Knot's (issue 14:
# "CD copied as Knot does"; Knot 3.2 does not copy it, though RFC 4035 §3.1.6 says to).
MODES = [
    ("udp-noedns", None, False, False),
    ("udp512", 512, False, False),
    ("udp512+do", 512, True, False),
    ("udp4096", 4096, False, False),
    ("udp4096+do", 4096, True, False),
    ("udp4096+do+cd+ad", 4096, True, True),
    ("tcp", 1232, False, False),
    ("tcp+do", 1232, True, False),
]

# Names no zone file lists as an owner but whose answers matter.
EXTRA_NAMES = [
    "nx." + ZONE, "nx.www." + ZONE, "a." + ZONE, "zzzz." + ZONE,        # NXDOMAIN (and wrap)
    "foo.wild." + ZONE, "a.b.wild." + ZONE, "foo.wcname." + ZONE,         # wildcards
    "x.sub.wild." + ZONE,                                                 # ENT blocks the *
    "host.dname." + ZONE, "nx.dname." + ZONE, "a.b.dname." + ZONE,        # below the DNAME
    "www.secure." + ZONE, "x.y.secure." + ZONE, "www.insecure." + ZONE,   # below cuts
    "www.legacy.branch." + ZONE,
    "ent." + ZONE, "y.ent." + ZONE, "wild." + ZONE, "sub.wild." + ZONE,   # ENTs
    "branch." + ZONE, "target." + ZONE,
    "WwW.DnSsEc.TeSt.",                                                   # case
    "www.example.org.",                                                   # no zone
]
# With the children served: their names, and the cuts (DS from the parent, the rest from the
# child, RFC 4035 §3.1.4.1).
CHILD_NAMES = [
    "secure." + ZONE, "www.secure." + ZONE, "ns.secure." + ZONE, "nx.secure." + ZONE,
    "x.y.secure." + ZONE, "insecure." + ZONE, "www.insecure." + ZONE, "ns.insecure." + ZONE,
    "nx.insecure." + ZONE,
]

# Each: (why, with the RFC, and a narrow predicate on the Comparison); see knot_compare.py.
NO_PARTIAL_PROOF = (
    "Truncated UDP answers with a proof: issue 14 has Meridian send no part of a proof that "
    "does not fit whole (RFC 4035 §3.1.1: a resolver cannot use half of one), so its authority "
    "section holds only RRsets Knot's also holds, where Knot keeps whatever fitted; both set "
    "TC and the client retries over TCP (RFC 2181 §9), where the same queries are compared in "
    "full",
    lambda c: c.transport.startswith("udp") and "TC" in c.knot[1] and "TC" in c.meridian[1]
    and c.knot[:2] == c.meridian[:2] and c.knot[2]["answer"] == c.meridian[2]["answer"]
    and c.meridian[2]["authority"] < c.knot[2]["authority"])
DELIBERATE_DIFFERENCES = [ANY_ANSWER, TRUNCATED_UDP, NO_PARTIAL_PROOF]


def never_ad(comparison):
    """RFC 4035 §3.1.6: AD only from a server that validated; an authority never did."""
    return [f"AD set by {name} (an authoritative answer, RFC 4035 §3.1.6)"
            for name, reply in (("knot", comparison.knot), ("server under test",
                                                           comparison.meridian))
            if "AD" in reply[1]]


def owner_names(signed):
    """Every owner name of the signed parent, read with dnspython; NSEC3 owners apart."""
    zone = dns.zone.from_file(str(signed.folder / f"{ZONE}zone"), origin=ZONE,
                              relativize=False, check_origin=False)
    names, hashed = [], []
    for name, node in zone.nodes.items():
        kinds = {rdataset.rdtype if rdataset.rdtype != dns.rdatatype.RRSIG else rdataset.covers
                 for rdataset in node.rdatasets}
        (hashed if kinds == {dns.rdatatype.NSEC3} else names).append(name.to_text())
    return sorted(names), sorted(hashed)


def queries(names, hashed):
    """(qname, qtype, mode label, message) for every name x type x mode; the hashed names
    only for the DNSSEC types, but the first of them for every type."""
    asked = [(name, qtype) for name in names for qtype in TYPES]
    for index, name in enumerate(hashed):
        asked += [(name, qtype) for qtype in (TYPES if index == 0 else DNSSEC_TYPES)]
    for label, payload, dnssec, cd_ad in MODES:
        for qname, qtype in asked:
            message = make_query(qname, qtype, edns=None if payload is None else 0,
                                 payload=payload or 1232, dnssec=dnssec)
            if cd_ad:
                message.flags |= dns.flags.CD | dns.flags.AD
            yield qname, qtype, label, message


class Lab:
    """Per variant and scenario, Knot and the server under test, started on first use."""

    def __init__(self):
        self.signed = SignedVariants()
        self.running = []

    def pair(self, variant, with_children):
        signed = self.signed.get(variant)
        if not with_children:
            signed = replace(signed, zones=signed.zones[:1])  # the parent, first
        knot = serve(signed, kind="knot", udp_payload=UDP_PAYLOAD)
        self.running.append(knot)
        tested = serve(signed, udp_payload=UDP_PAYLOAD)
        self.running.append(tested)
        return signed, knot, tested

    def stop(self):
        for server in self.running:
            server.stop()


def setup():
    return {"lab": Lab()}


def teardown(context):
    if context:
        context["lab"].stop()


def compare_variant(lab, variant, with_children):
    signed, knot, tested = lab.pair(variant, with_children)
    if with_children:
        names, hashed = CHILD_NAMES, []
    else:
        names, hashed = owner_names(signed)
        names, hashed = sorted(set(names) | set(EXTRA_NAMES)), hashed[:HASHED_NAMES]
    labels = ("knot", "meridian" if SERVER_KIND == "meridian" else "knot-under-test")
    outcome = compare(knot, tested, queries(names, hashed), DELIBERATE_DIFFERENCES,
                      dnssec=True, names=labels, check=never_ad)
    report(outcome, f"{variant}, {'parent and children' if with_children else 'parent alone'}: "
           f"{len(names)} names{f' + {len(hashed)} hashed' if hashed else ''} x "
           f"{len(TYPES)} types x {len(MODES)} modes ({', '.join(m[0] for m in MODES)})",
           limit=SHOWN_DIFFERENCES)
    for server in (knot, tested):
        server.stop()


# ---------------------------------------------------------------------------------------------


@part("nsec")
def test_nsec_zone_answers_like_knot(lab):
    compare_variant(lab, "nsec", with_children=False)


@part("nsec")
def test_nsec_zone_with_children_answers_like_knot(lab):
    compare_variant(lab, "nsec", with_children=True)


@part("nsec3")
def test_nsec3_zone_answers_like_knot(lab):
    compare_variant(lab, "nsec3", with_children=False)


@part("nsec3")
def test_nsec3_zone_with_children_answers_like_knot(lab):
    compare_variant(lab, "nsec3", with_children=True)


@part("nsec3_optout")
def test_nsec3_optout_zone_answers_like_knot(lab):
    compare_variant(lab, "nsec3_optout", with_children=False)


@part("nsec3_optout")
def test_nsec3_optout_zone_with_children_answers_like_knot(lab):
    compare_variant(lab, "nsec3_optout", with_children=True)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup, teardown))

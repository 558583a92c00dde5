"""Comparing a server's answers with Knot DNS's, query by query: each reply reduced to its
rcode, compared flags and sections (RRsets as sets), the differences named, and the listed
deliberate differences (each with its reason) counted apart. Used by answers/test_knot_compare.py
and dnssec/test_dnssec_knot_compare.py."""

from meridian_harness import dns, query

import dns.exception
import dns.flags
import dns.rcode
import dns.rdataclass
import dns.rdatatype

SECTIONS = ("answer", "authority", "additional")


# Deliberate differences: (why, with the RFC that allows it, and a predicate on the
# Comparison). A query whose comparison matches is counted as skipped, not compared. Keep each
# predicate narrow: it must not hide a difference that has another cause.
ANY_ANSWER = (
    "ANY: RFC 8482 §4.1 lets a responder return any one RRset (or a synthesised HINFO); "
    "Knot and Meridian may choose different ones",
    lambda c: c.qtype == "ANY")
TRUNCATED_UDP = (
    "Truncated UDP answers: when both set TC the client must retry over TCP (RFC 2181 §9, "
    "RFC 9471 §3), and which optional additional records fit first is not specified; Knot "
    "leaves room unused in its packet writer, Meridian fills up to the limit. The same "
    "queries over TCP are compared in full",
    lambda c: c.transport.startswith("udp") and "TC" in c.knot[1] and "TC" in c.meridian[1]
    and c.knot[:2] == c.meridian[:2] and all(
        c.knot[2][section] == c.meridian[2][section] for section in ("answer", "authority")))


class Comparison:
    """One query's two normalise()d replies, for the predicates of a deliberate difference."""

    def __init__(self, qname, qtype, transport, knot, meridian):
        self.qname, self.qtype, self.transport = qname, qtype, transport
        self.knot, self.meridian = knot, meridian  # normalise()d replies


def rrset_type(rrset):
    """The type's text; an RRSIG RRset names the type it covers, RRSIG(A)."""
    text = dns.rdatatype.to_text(rrset.rdtype)
    if rrset.covers != dns.rdatatype.NONE:
        text += f"({dns.rdatatype.to_text(rrset.covers)})"
    return text


def normalise(message, dnssec=False):
    """rcode, the compared flags, and each section as a set of RRsets (OPT left out). The
    flags are QR, AA and TC; with `dnssec` also AD and CD, and from the OPT record EDNS (one
    is there) and DO (RFC 3225 §3: the DO bit is copied into the response)."""
    bits = [("QR", dns.flags.QR), ("AA", dns.flags.AA), ("TC", dns.flags.TC)]
    if dnssec:
        bits += [("AD", dns.flags.AD), ("CD", dns.flags.CD)]
    flags = {name for name, bit in bits if message.flags & bit}
    if dnssec and message.edns >= 0:
        flags.add("EDNS")
        if message.ednsflags & dns.flags.DO:
            flags.add("DO")
    sections = {}
    for section in SECTIONS:
        rrsets = set()
        for rrset in getattr(message, section):
            rdatas = frozenset(rd.to_digestable() for rd in rrset)
            rrsets.add((rrset.name.to_text().lower(), dns.rdataclass.to_text(rrset.rdclass),
                        rrset_type(rrset), rrset.ttl, rdatas))
        sections[section] = rrsets
    return dns.rcode.to_text(message.rcode()), flags, sections


def render(rrsets):
    lines = []
    for name, rdclass, rdtype, ttl, rdatas in sorted(rrsets, key=lambda r: r[:4]):
        lines.append(f"{name} {ttl} {rdclass} {rdtype} ({len(rdatas)} rdata)")
    return "; ".join(lines) or "-"


def ask(server, message, transport, dnssec=False):
    """normalise()d reply; a UDP query is tried 3 times (the machine may be busy), and no
    answer at all becomes a reply of its own kind, so it shows up as a difference."""
    for _ in range(1 if transport == "tcp" else 3):
        try:
            return normalise(query(server.port, message, transport=transport[:3], timeout=2.0),
                             dnssec)
        except dns.exception.Timeout:
            continue
    return ("NO ANSWER", set(), {section: set() for section in SECTIONS})


def differences(knot, meridian, names=("knot", "meridian")):
    """Text for each way two normalise()d replies differ."""
    first, second = names
    found = []
    if knot[0] != meridian[0]:
        found.append(f"rcode: {first} {knot[0]}, {second} {meridian[0]}")
    if knot[1] != meridian[1]:
        found.append(f"flags: {first} {sorted(knot[1])}, {second} {sorted(meridian[1])}")
    for section in SECTIONS:
        only_knot = knot[2][section] - meridian[2][section]
        only_meridian = meridian[2][section] - knot[2][section]
        if only_knot or only_meridian:
            found.append(f"{section}: only {first} [{render(only_knot)}], "
                         f"only {second} [{render(only_meridian)}]")
    return found


def deliberate(comparison, listed):
    """The reason of the first of `listed` (reason, predicate) that matches, else None."""
    for reason, matches in listed:
        if matches(comparison):
            return reason
    return None


class Outcome:
    """What compare() found: counts, skipped by reason, and the queries behind each distinct
    set of differences."""

    def __init__(self):
        self.asked = 0
        self.compared = 0
        self.skipped = {}  # reason -> count
        self.mismatches = {}  # the differences found -> the queries showing them

    def differing(self):
        return sum(len(where) for where in self.mismatches.values())


def compare(knot, meridian, queries, listed, dnssec=False, names=("knot", "meridian"),
            check=None):
    """Asks both servers each of `queries`, (qname, qtype, transport label, message); a
    transport label starts with udp or tcp. `check(comparison)` may return more differences
    (a rule both replies must keep, say)."""
    outcome = Outcome()
    for qname, qtype, transport, message in queries:
        outcome.asked += 1
        knot_reply = ask(knot, message, transport, dnssec)
        meridian_reply = ask(meridian, message, transport, dnssec)
        found = differences(knot_reply, meridian_reply, names)
        comparison = Comparison(qname, qtype, transport, knot_reply, meridian_reply)
        broken = check(comparison) if check else []
        if not found and not broken:
            outcome.compared += 1
            continue
        reason = deliberate(comparison, listed) if not broken else None
        if reason:
            outcome.skipped[reason] = outcome.skipped.get(reason, 0) + 1
            continue
        outcome.compared += 1
        outcome.mismatches.setdefault("\n      ".join(broken + found), []).append(
            f"{qname} {qtype}/{transport}")
    return outcome


def report(outcome, what, limit=None):
    """Prints the counts, the skipped reasons and each distinct difference (the first `limit`
    of them, when given) with the queries that show it; fails when any query differs. `what`
    says what was asked, for the count."""
    print(f"    {outcome.asked} queries ({what}): {outcome.compared} compared, "
          f"{sum(outcome.skipped.values())} skipped as deliberate differences, "
          f"{outcome.differing()} differ in {len(outcome.mismatches)} distinct ways")
    for reason, count in outcome.skipped.items():
        print(f"    skipped {count}: {reason[:100]}...")
    for index, (found, where) in enumerate(outcome.mismatches.items()):
        if limit is not None and index == limit:
            print(f"    ... and {len(outcome.mismatches) - limit} more distinct ways")
            break
        shown = ", ".join(where[:6]) + (f", ... ({len(where)} queries)" if len(where) > 6 else "")
        print(f"    DIFF {shown}:\n      {found}")
    assert not outcome.mismatches, \
        f"{outcome.differing()} of {outcome.compared} queries differ from Knot (above)"

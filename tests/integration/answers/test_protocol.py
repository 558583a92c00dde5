"""Protocol rules around the answer: EDNS0 (RFC 6891), UDP size limits and truncation, NSID
(RFC 5001), CHAOS identity queries, opcodes, QR, QDCOUNT and zone-transfer refusal."""

import socket
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    part,
    Meridian, Skipped, dns, describe, expect, frame, header, kdig, make_query, query, rcode_of,
    read_frame, rrset_of, run_tests, tcp_connect, tcp_raw, udp_raw)

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rrset  # noqa: E402

IDENTITY = "test-pop"
VERSION = "Meridian test"
UDP_PAYLOAD = 1232


def send(server, transport, wire, timeout=2.0):
    return udp_raw(server.port, wire, timeout) if transport == "udp" else \
        tcp_raw(server.port, wire, timeout)


def raw_query(qid=0x1234, flags=0, questions=(("www.example.com.", 1, 1),), additional=b"",
              arcount=0):
    """Header and question section built by hand, for what dnspython will not produce."""
    body = b""
    for name, rdtype, rdclass in questions:
        body += dns.name.from_text(name).to_wire() + struct.pack("!HH", rdtype, rdclass)
    return struct.pack("!HHHHHH", qid, flags, len(questions), 0, 0, arcount) + body + additional


def opt_record(payload=1232, version=0, options=b""):
    # Root owner, TYPE OPT, CLASS = payload, TTL = ext-rcode|version|flags, RDATA = options.
    return b"\x00" + struct.pack("!HHBBHH", 41, payload, 0, version, 0, len(options)) + options


# ---------------------------------------------------------------------------------------------
# EDNS0


def test_opt_is_echoed_only_when_present(server, transport):
    r = query(server.port, "www.example.com.", "A", transport=transport, edns=0)
    expect(r.edns == 0, f"www.example.com. A with EDNS0 over {transport}",
           "an OPT record, version 0", f"edns={r.edns}")
    expect(r.payload >= 512, "www.example.com. A with EDNS0", "OPT payload >= 512", r.payload)
    r = query(server.port, "www.example.com.", "A", transport=transport, edns=None)
    # RFC 6891 §7: no OPT in the response to a query without one.
    expect(r.edns == -1, f"www.example.com. A without EDNS over {transport}", "no OPT record",
           f"edns={r.edns}")


def test_edns_version_1_gets_badvers(server, transport):
    # RFC 6891 §6.1.3: BADVERS with an OPT of the highest version we implement (0).
    r = query(server.port, "www.example.com.", "A", transport=transport, edns=1)
    expect(r.rcode() == dns.rcode.BADVERS and r.edns == 0 and not r.answer,
           f"www.example.com. A with EDNS version 1 over {transport}",
           "BADVERS, OPT version 0, empty answer", f"rcode={dns.rcode.to_text(r.rcode())} "
           f"edns={r.edns}\n{describe(r)}")


def test_two_opt_records_give_formerr(server, transport):
    # RFC 6891 §6.1.1: more than one OPT is FORMERR.
    wire = raw_query(additional=opt_record() + opt_record(), arcount=2)
    reply = send(server, transport, wire)
    expect(reply is not None and rcode_of(reply) == dns.rcode.FORMERR,
           f"two OPT records over {transport}", "FORMERR", describe(reply))


def test_opt_with_bad_rdata_length_gives_formerr(server, transport):
    # An option header claiming more octets than the OPT RDATA holds.
    option = struct.pack("!HH", 3, 10) + b"ab"
    reply = send(server, transport, raw_query(additional=opt_record(options=option), arcount=1))
    expect(reply is not None and rcode_of(reply) == dns.rcode.FORMERR,
           f"OPT with an overlong option over {transport}", "FORMERR", describe(reply))


# ---------------------------------------------------------------------------------------------
# UDP size and truncation


def udp_reply(server, qname, qtype, edns, payload=1232):
    wire = make_query(qname, qtype, edns=edns, payload=payload).to_wire()
    reply = udp_raw(server.port, wire, 2.0)
    expect(reply is not None, f"{qname} {qtype} over UDP", "an answer", "no answer")
    return reply


def is_tc(reply):
    return bool(header(reply)[1] & dns.flags.TC)


def test_udp_without_edns_is_limited_to_512_octets(server):
    reply = udp_reply(server, "mediumtxt.example.com.", "TXT", edns=None)
    expect(len(reply) <= 512 and is_tc(reply), "mediumtxt.example.com. TXT without EDNS",
           "<= 512 octets with TC (RFC 1035 §4.2.1)", f"{len(reply)} octets, TC={is_tc(reply)}")


def test_udp_response_fits_requesters_size(server):
    # About 900 octets: fits 4096 and 1232, not 600.
    reply = udp_reply(server, "mediumtxt.example.com.", "TXT", edns=0, payload=4096)
    r = dns.message.from_wire(reply)
    expect(not is_tc(reply) and len(rrset_of(r, "answer", "mediumtxt.example.com.", "TXT")) == 7,
           "mediumtxt.example.com. TXT, EDNS 4096", "all 7 TXT records without TC",
           f"{len(reply)} octets, TC={is_tc(reply)}")
    reply = udp_reply(server, "mediumtxt.example.com.", "TXT", edns=0, payload=600)
    expect(len(reply) <= 600 and is_tc(reply), "mediumtxt.example.com. TXT, EDNS 600",
           "<= 600 octets with TC", f"{len(reply)} octets, TC={is_tc(reply)}")


def test_udp_response_capped_by_configured_payload(server):
    # RFC 6891 §6.2.5: min(requester's size, our udp_payload = 1232).
    reply = udp_reply(server, "bigtxt.example.com.", "TXT", edns=0, payload=4096)
    expect(len(reply) <= UDP_PAYLOAD and is_tc(reply), "bigtxt.example.com. TXT, EDNS 4096",
           f"<= {UDP_PAYLOAD} octets with TC", f"{len(reply)} octets, TC={is_tc(reply)}")
    r = dns.message.from_wire(reply)
    expect(r.edns == 0 and r.payload == UDP_PAYLOAD, "bigtxt.example.com. TXT, EDNS 4096",
           f"OPT advertising our payload {UDP_PAYLOAD}", f"edns={r.edns} payload={r.payload}")


def test_truncation_keeps_whole_rrsets(server):
    # RFC 2181 §9 / RFC 1035 §7.3: TC set, and never a partial RRset a resolver might cache.
    cases = [("bigtxt.example.com.", "TXT", None), ("bigtxt.example.com.", "TXT", 4096),
             ("manya.example.com.", "A", None), ("manya.example.com.", "A", 1232),
             ("mediumtxt.example.com.", "TXT", None)]
    for qname, qtype, payload in cases:
        full = query(server.port, qname, qtype, transport="tcp")
        complete = {(rrset.name, rrset.rdtype): set(rrset) for section in
                    (full.answer, full.authority, full.additional) for rrset in section}
        reply = udp_reply(server, qname, qtype, edns=None if payload is None else 0,
                          payload=payload or 1232)
        what = f"{qname} {qtype} over UDP, EDNS payload {payload}"
        expect(is_tc(reply), what, "TC set", describe(reply))
        try:
            r = dns.message.from_wire(reply)
        except Exception as error:  # noqa: BLE001
            raise AssertionError(f"{what}: the truncated reply does not parse: {error}")
        for rrset in r.answer:
            expect(set(rrset) == complete.get((rrset.name, rrset.rdtype)), what,
                   "only complete RRsets in the answer", f"{len(rrset)} of "
                   f"{len(complete.get((rrset.name, rrset.rdtype), ()))} records of {rrset.name}")


def test_tcp_carries_the_whole_large_rrset(server):
    r = query(server.port, "bigtxt.example.com.", "TXT", transport="tcp")
    got = rrset_of(r, "answer", "bigtxt.example.com.", "TXT")
    expect(got is not None and len(got) == 40 and not r.flags & dns.flags.TC,
           "bigtxt.example.com. TXT over TCP", "all 40 records, no TC", describe(r))


def test_referral_whose_glue_does_not_fit_sets_tc(server):
    # RFC 9471 §3.1: in-domain glue is required; if it does not all fit, set TC.
    reply = udp_reply(server, "www.big.example.com.", "A", edns=None)
    expect(len(reply) <= 512 and is_tc(reply), "www.big.example.com. A without EDNS",
           "<= 512 octets with TC", f"{len(reply)} octets, TC={is_tc(reply)}")
    r = query(server.port, "www.big.example.com.", "A", transport="tcp")
    glue = [rrset for rrset in r.additional if rrset.rdtype in (1, 28)]
    expect(len(glue) == 40, "www.big.example.com. A over TCP", "all 40 glue RRsets",
           describe(r))


# ---------------------------------------------------------------------------------------------
# Identity: NSID and CHAOS


def test_nsid_returns_identity(server, transport):
    nsid = dns.edns.GenericOption(dns.edns.NSID, b"")
    r = query(server.port, "www.example.com.", "A", transport=transport, options=[nsid])
    got = [option.data if hasattr(option, "data") else option.nsid for option in r.options
           if option.otype == dns.edns.NSID]
    expect(got == [IDENTITY.encode()], f"www.example.com. A with NSID over {transport}",
           f"NSID {IDENTITY!r}", got)
    r = query(server.port, "www.example.com.", "A", transport=transport)
    # RFC 5001 §2.1: only when asked.
    expect(not [o for o in r.options if o.otype == dns.edns.NSID],
           f"www.example.com. A without NSID over {transport}", "no NSID option", r.options)


@part("kdig")
def test_kdig_nsid_shows_identity(server):
    result = kdig(server.port, "www.example.com", "A", "+nsid")
    if result is None:
        raise Skipped("kdig is not installed (apt install knot-dnsutils)")
    expect(result.nsid == IDENTITY, "kdig +nsid www.example.com A", IDENTITY, result.text)


def chaos_txt(server, transport, qname):
    r = query(server.port, qname, "TXT", rdclass="CH", transport=transport)
    rrset = rrset_of(r, "answer", qname, "TXT")
    return r, (None if rrset is None else [b"".join(rd.strings).decode() for rd in rrset])


def test_chaos_identity_names_return_identity(server, transport):
    for qname in ("id.server.", "hostname.bind."):
        r, got = chaos_txt(server, transport, qname)
        expect(r.rcode() == dns.rcode.NOERROR and got == [IDENTITY],
               f"{qname} CH TXT over {transport}", f'NOERROR, TXT "{IDENTITY}"', describe(r))


def test_chaos_version_returns_configured_string(server, transport):
    r, got = chaos_txt(server, transport, "version.bind.")
    expect(r.rcode() == dns.rcode.NOERROR and got == [VERSION],
           f"version.bind. CH TXT over {transport}", f'NOERROR, TXT "{VERSION}"', describe(r))


def test_chaos_version_refused_when_not_configured():
    with Meridian(server={"version": None}) as quiet:
        for transport in ("udp", "tcp"):
            r, got = chaos_txt(quiet, transport, "version.bind.")
            expect(r.rcode() == dns.rcode.REFUSED and not got,
                   f"version.bind. CH TXT over {transport}, no version configured", "REFUSED",
                   describe(r))


# ---------------------------------------------------------------------------------------------
# Header checks


def test_other_opcodes_get_notimp(server, transport):
    # RFC 1035 §4.1.1: opcode copied into the response; we implement QUERY only.
    for opcode in (1, 2, 3, 4, 5, 6, 15):
        wire = raw_query(flags=opcode << 11)
        reply = send(server, transport, wire)
        expect(reply is not None and rcode_of(reply) == dns.rcode.NOTIMP
               and (header(reply)[1] >> 11) & 0xF == opcode and header(reply)[1] & 0x8000,
               f"opcode {opcode} over {transport}", "NOTIMP, QR set, opcode echoed",
               describe(reply) if reply is None else f"flags={header(reply)[1]:#06x}")


def test_rd_is_copied_and_ra_clear(server, transport):
    r = query(server.port, "www.example.com.", "A", transport=transport, rd=True)
    expect(r.flags & dns.flags.RD and not r.flags & dns.flags.RA,
           f"www.example.com. A with RD over {transport}", "RD copied, RA clear",
           dns.flags.to_text(r.flags))


def test_response_bit_set_is_dropped(server, transport):
    # RFC 1035 §4.1.1: a message with QR=1 is a response; answering it invites loops.
    wire = raw_query(flags=0x8000)
    if transport == "udp":
        reply = udp_raw(server.port, wire, 0.7)
    else:
        with tcp_connect(server.port, 0.7) as s:
            s.sendall(frame(wire))
            try:
                reply = read_frame(s)
            except socket.timeout:
                reply = None
    expect(reply is None, f"QR=1 over {transport}", "no answer", describe(reply))
    r = query(server.port, "www.example.com.", "A", transport=transport)
    expect(r.rcode() == dns.rcode.NOERROR, "www.example.com. A afterwards", "NOERROR",
           describe(r))


def test_qdcount_zero_or_two_gives_formerr(server, transport):
    for questions in ((), (("www.example.com.", 1, 1), ("mail.example.com.", 1, 1))):
        reply = send(server, transport, raw_query(questions=questions))
        expect(reply is not None and rcode_of(reply) == dns.rcode.FORMERR,
               f"QDCOUNT {len(questions)} over {transport}", "FORMERR", describe(reply))


def test_zone_transfers_are_refused(server, transport):
    for qtype in ("AXFR", "IXFR"):
        message = make_query("example.com.", qtype)
        if qtype == "IXFR":
            soa = dns.rrset.from_text("example.com.", 0, "IN", "SOA",
                                      "ns1.example.com. hostmaster.example.com. 1 1 1 1 1")
            message.authority.append(soa)
        reply = send(server, transport, message.to_wire())
        expect(reply is not None and rcode_of(reply) == dns.rcode.REFUSED,
               f"example.com. {qtype} over {transport}", "REFUSED", describe(reply))


@part("ipv6")
def test_ipv6_listener_answers(server):
    if not server.ipv6:
        raise Skipped("no ::1 on this machine")
    reply = udp_raw(server.port, make_query("www.example.com.", "A").to_wire(), 2.0,
                    address="::1")
    expect(reply is not None and rcode_of(reply) == 0, "www.example.com. A to [::1] over UDP",
           "NOERROR", describe(reply))


def setup():
    return Meridian().start()


def teardown(server):
    if server is not None:
        print(f"meridian exited with {server.stop()}")


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup, teardown))

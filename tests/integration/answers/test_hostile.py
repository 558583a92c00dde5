"""A catalogue of named hostile and malformed packets, each with the answer it must get: FORMERR
echoing the ID when the header is readable, or no answer; and after each one the server still
answers a good query over the same transport. Over UDP and TCP, plus TCP streams whose framing
lies. Last, the answer path's limits on hostile zone data: long CNAME chains, CNAME and DNAME
loops, additional sections that would overflow the answer. The seeded random and mutated
packets are in test_malformed.py."""

import random
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    DEFAULT_ZONES, Meridian, describe, dns, expect, frame, header, make_query, query, rcode_of,
    read_frame, run_tests, stop_server, tcp_connect, tcp_raw, udp_raw)

import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

# What each case must get back.
FORMERR = "FORMERR"    # QR set, the query's ID and opcode, rcode 1, no answer records
DROPPED = "no answer"  # nothing at all (over TCP: nothing, or the connection closed)

QID = 0xBEEF
TSIG_KEY = "hostile-key."
TSIG_SECRET = "aG9zdGlsZS1rZXktc2VjcmV0LWZvci10ZXN0cy0zMi1i"  # base64
SEED = 20240613


def wire_name(text):
    return dns.name.from_text(text).to_wire()


WWW = wire_name("www.example.com.")
A_IN = struct.pack("!HH", 1, 1)
QUESTION = WWW + A_IN
QUESTION_END = 12 + len(QUESTION)  # where the first record after the question starts


def hdr(qid=QID, flags=0, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def rr(owner, rtype, rdata, rclass=1, ttl=0, rdlength=None):
    """A resource record; `rdlength` may lie about the RDATA that follows."""
    length = len(rdata) if rdlength is None else rdlength
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, length) + rdata


def opt(options=b"", owner=b"\x00", rdlength=None):
    return rr(owner, 41, options, rclass=1232, rdlength=rdlength)


def option(code, body, length=None):
    return struct.pack("!HH", code, len(body) if length is None else length) + body


def with_opt(*options):
    """The good question with one OPT carrying `options`."""
    return hdr(ar=1) + QUESTION + opt(b"".join(options))


def ecs(family, source, scope, address):
    return option(8, struct.pack("!HBB", family, source, scope) + address)


def cookie(length):
    return option(10, bytes(range(1, length + 1)))


def tsig_rdata(algorithm=wire_name("hmac-sha256."), mac=bytes(32), mac_size=None, other=b"",
               other_len=None, extra=b""):
    """TSIG RDATA (RFC 8945 §4.2) whose MAC Size and Other Len may lie."""
    return (algorithm + struct.pack("!HIH", 0, int(time.time()), 300)
            + struct.pack("!H", len(mac) if mac_size is None else mac_size) + mac
            + struct.pack("!HHH", QID, 0, len(other) if other_len is None else other_len)
            + other + extra)


def tsig(rdata=None, owner=None, rdlength=None):
    return rr(wire_name(TSIG_KEY) if owner is None else owner, 250,
              tsig_rdata() if rdata is None else rdata, rclass=255, rdlength=rdlength)


def signed(tsig_record):
    """The good question followed by `tsig_record` as the last additional record."""
    return hdr(ar=1) + QUESTION + tsig_record


def garbage(length, rng, qr=False):
    data = bytearray(rng.randrange(256) for _ in range(length))
    data[0:2] = struct.pack("!H", QID)
    data[2] = (data[2] | 0x80) if qr else (data[2] & 0x07)  # opcode QUERY, or a response
    return bytes(data)


LONG_LABEL = b"\x3f" + b"a" * 63
# Where the RDATA of a TSIG record right after the question starts (owner, then 10 octets).
TSIG_RDATA_AT = QUESTION_END + len(wire_name(TSIG_KEY)) + 10
RNG = random.Random(SEED)

# (name, message bytes, expectation). Each is sent alone in a datagram and as one TCP frame.
CASES = [
    # Headers and the question (RFC 1035 §4.1.1, §4.1.2; RFC 9619 for QDCOUNT).
    ("empty message", b"", DROPPED),
    ("one octet", b"\x12", DROPPED),
    ("header cut at 11 octets", hdr()[:11], DROPPED),
    ("response bit set on a good query", hdr(flags=0x8000) + QUESTION, DROPPED),
    ("response bit set, garbage after the header", hdr(flags=0x8400) + b"\xff" * 40, DROPPED),
    ("header only, QDCOUNT 1", hdr(), FORMERR),
    ("QDCOUNT 0 and nothing else", hdr(qd=0), FORMERR),
    ("QDCOUNT 2 with one question", hdr(qd=2) + QUESTION, FORMERR),
    ("QDCOUNT 2 with two good questions", hdr(qd=2) + QUESTION + QUESTION, FORMERR),
    ("QDCOUNT 65535", hdr(qd=65535) + QUESTION, FORMERR),
    ("every count 65535", hdr(qd=65535, an=65535, ns=65535, ar=65535) + QUESTION, FORMERR),
    ("question name cut mid-label", hdr() + b"\x03ww", FORMERR),
    ("question name without its root label", hdr() + WWW[:-1], FORMERR),
    ("question without type and class", hdr() + WWW, FORMERR),
    ("question with type but no class", hdr() + WWW + b"\x00\x01", FORMERR),
    ("question class cut to one octet", hdr() + WWW + b"\x00\x01\x00", FORMERR),
    ("trailing octets after the question", hdr() + QUESTION + b"\x00\x00\x00", FORMERR),
    ("ANCOUNT 3 with nothing after the question", hdr(an=3) + QUESTION, FORMERR),
    ("NSCOUNT 1, record cut inside its fixed part", hdr(ns=1) + QUESTION + b"\x00\x00\x01\x00",
     FORMERR),
    ("ARCOUNT 1 with nothing after the question", hdr(ar=1) + QUESTION, FORMERR),
    ("question type OPT (RFC 6891 §6.1.1)", hdr() + WWW + struct.pack("!HH", 41, 1), FORMERR),
    ("NOTIFY with its question cut", hdr(flags=0x2000) + WWW[:5], FORMERR),
    ("UPDATE with its zone section cut", hdr(flags=0x2800) + WWW + b"\x00\x06", FORMERR),

    # Labels and compression pointers (RFC 1035 §3.1, §4.1.4).
    ("compression pointer to itself", hdr() + b"\xc0\x0c" + A_IN, FORMERR),
    ("compression pointer loop through a label", hdr() + b"\x01a\xc0\x0c" + A_IN, FORMERR),
    ("two pointers pointing at each other", hdr() + b"\xc0\x0e\xc0\x0c" + A_IN, FORMERR),
    ("forward compression pointer", hdr() + b"\xc0\x12" + A_IN + WWW, FORMERR),
    ("compression pointer beyond the end", hdr() + b"\xc0\xff" + A_IN, FORMERR),
    ("compression pointer to offset 16383", hdr() + b"\xff\xff" + A_IN, FORMERR),
    ("compression pointer cut after its first octet", hdr() + b"\x03www\xc0", FORMERR),
    # ID 0x0000 reads as the root name: a pointer must lead to a name, never into the header.
    ("compression pointer into the header", hdr(qid=0) + b"\xc0\x00" + A_IN, FORMERR),
    ("label type 01 (length octet 0x40)", hdr() + b"\x40" + b"a" * 64 + b"\x00" + A_IN, FORMERR),
    ("label type 10 (length octet 0x80)", hdr() + b"\x80" + b"a" * 10 + b"\x00" + A_IN, FORMERR),
    ("label of 63 octets cut short", hdr() + b"\x3f" + b"a" * 20, FORMERR),
    ("name of 256 octets, one over RFC 1035 §2.3.4",
     hdr() + LONG_LABEL * 3 + b"\x3e" + b"a" * 62 + b"\x00" + A_IN, FORMERR),
    ("name of 269 octets", hdr() + LONG_LABEL * 4 + WWW[4:] + A_IN, FORMERR),
    ("answer record owner pointing beyond the end",
     hdr(an=1) + QUESTION + rr(b"\xc0\xff", 1, bytes(4)), FORMERR),
    ("answer record owner pointing forward",
     hdr(an=1) + QUESTION + rr(struct.pack("!H", 0xC000 | QUESTION_END + 20), 1, bytes(4))
     + WWW, FORMERR),
    ("additional record owner pointing to itself",
     hdr(ar=1) + QUESTION + rr(struct.pack("!H", 0xC000 | QUESTION_END), 1, bytes(4)), FORMERR),
    ("authority record owner with label type 01",
     hdr(ns=1) + QUESTION + rr(b"\x41" + b"a" * 65 + b"\x00", 1, bytes(4)), FORMERR),
    ("record owner over 255 octets through a pointer",
     hdr(an=1) + QUESTION + rr(LONG_LABEL * 3 + b"\x30" + b"a" * 48 + b"\xc0\x0c", 1, bytes(4)),
     FORMERR),
    ("second question's name loops", hdr(qd=2) + QUESTION + b"\xc0\x21" + A_IN, FORMERR),

    # RDATA lengths in queries (RFC 1035 §3.2.1; RFC 3596 §2.2).
    ("answer record RDLENGTH past the end", hdr(an=1) + QUESTION + rr(WWW, 1, bytes(4),
                                                                       rdlength=40), FORMERR),
    ("authority record RDLENGTH 65535", hdr(ns=1) + QUESTION + rr(WWW, 16, b"x" * 10,
                                                                   rdlength=65535), FORMERR),
    ("RDLENGTH shorter than the RDATA sent", hdr(an=1) + QUESTION + rr(WWW, 16, b"\x05hello",
                                                                       rdlength=3), FORMERR),
    ("record cut inside its RDATA", hdr(ar=1) + QUESTION + rr(WWW, 16, b"\x05hello")[:-2],
     FORMERR),
    ("A record with RDLENGTH 5", hdr(an=1) + QUESTION + rr(WWW, 1, bytes(5)), FORMERR),
    ("AAAA record with RDLENGTH 4", hdr(ar=1) + QUESTION + rr(WWW, 28, bytes(4)), FORMERR),

    # The OPT record (RFC 6891 §6.1.1, §6.1.2).
    ("OPT RDLENGTH beyond the end", hdr(ar=1) + QUESTION + opt(option(3, b""), rdlength=100),
     FORMERR),
    ("OPT RDLENGTH 65535", hdr(ar=1) + QUESTION + opt(b"", rdlength=65535), FORMERR),
    ("OPT cut inside its fixed part", hdr(ar=1) + QUESTION + opt()[:6], FORMERR),
    ("OPT in the answer section", hdr(an=1) + QUESTION + opt(), FORMERR),
    ("OPT in the authority section", hdr(ns=1) + QUESTION + opt(), FORMERR),
    ("two OPT records", hdr(ar=2) + QUESTION + opt() + opt(), FORMERR),
    ("OPT owned by a name other than the root", hdr(ar=1) + QUESTION + opt(owner=WWW), FORMERR),
    ("OPT option header cut (RDLENGTH 2)", hdr(ar=1) + QUESTION + opt(b"\x00\x03"), FORMERR),
    ("OPT option length running past RDLENGTH", with_opt(option(3, b"", length=9)), FORMERR),
    ("OPT option length 65535", with_opt(option(12, b"\x00" * 8, length=65535)), FORMERR),

    # EDNS Client Subnet (RFC 7871 §6; §7.2.1: a malformed option gets FORMERR).
    ("ECS family 0", with_opt(ecs(0, 0, 0, b"")), FORMERR),
    ("ECS family 3", with_opt(ecs(3, 24, 0, b"\xc6\x33\x64")), FORMERR),
    ("ECS IPv4 source prefix 33", with_opt(ecs(1, 33, 0, b"\xc6\x33\x64\x07\x80")), FORMERR),
    ("ECS IPv6 source prefix 129", with_opt(ecs(2, 129, 0, b"\x20\x01" + bytes(15))), FORMERR),
    ("ECS address bits set past the source prefix", with_opt(ecs(1, 23, 0, b"\xc6\x33\x65")),
     FORMERR),
    ("ECS address longer than the prefix needs", with_opt(ecs(1, 24, 0, b"\xc6\x33\x64\x07")),
     FORMERR),
    ("ECS address shorter than the prefix needs", with_opt(ecs(1, 24, 0, b"\xc6\x33")), FORMERR),
    ("ECS IPv6 /56 with 8 address octets",
     with_opt(ecs(2, 56, 0, b"\x20\x01\x0d\xb8\x00\x01\x02\x00")), FORMERR),
    ("ECS source prefix 0 with an address octet", with_opt(ecs(1, 0, 0, b"\x00")), FORMERR),
    ("ECS scope prefix non-zero in a query", with_opt(ecs(1, 24, 24, b"\xc6\x33\x64")), FORMERR),
    ("ECS option of 2 octets", with_opt(option(8, b"\x00\x01")), FORMERR),
    ("ECS option of 0 octets", with_opt(option(8, b"")), FORMERR),
    ("two ECS options", with_opt(ecs(1, 24, 0, b"\xc6\x33\x64"), ecs(1, 24, 0, b"\xc6\x33\x64")),
     FORMERR),

    # DNS Cookies (RFC 7873 §5.2.2: a COOKIE option whose length is not 8 or 16..40).
    ("COOKIE of 0 octets", with_opt(cookie(0)), FORMERR),
    ("COOKIE of 1 octet", with_opt(cookie(1)), FORMERR),
    ("COOKIE of 7 octets", with_opt(cookie(7)), FORMERR),
    ("COOKIE of 9 octets", with_opt(cookie(9)), FORMERR),
    ("COOKIE of 15 octets", with_opt(cookie(15)), FORMERR),
    ("COOKIE of 41 octets", with_opt(cookie(41)), FORMERR),
    ("COOKIE of 200 octets", with_opt(cookie(200)), FORMERR),

    # TSIG records whose lengths lie (RFC 8945 §4.2; §5.2: FORMERR), signed with a key the
    # server knows, so nothing stops at an unknown key name.
    ("TSIG RDLENGTH past the end of the message", signed(tsig(rdlength=200)), FORMERR),
    ("TSIG with empty RDATA", signed(tsig(rdata=b"")), FORMERR),
    ("TSIG cut after Time Signed", signed(tsig(rdata=tsig_rdata()[:19])), FORMERR),
    ("TSIG MAC Size larger than the RDATA", signed(tsig(rdata=tsig_rdata(mac_size=200))),
     FORMERR),
    ("TSIG MAC Size 65535", signed(tsig(rdata=tsig_rdata(mac_size=65535))), FORMERR),
    ("TSIG MAC Size shorter than the MAC sent", signed(tsig(rdata=tsig_rdata(mac_size=8))),
     FORMERR),
    ("TSIG Other Len larger than the rest", signed(tsig(rdata=tsig_rdata(other_len=60))),
     FORMERR),
    ("TSIG with octets after Other Data", signed(tsig(rdata=tsig_rdata(extra=b"\x00" * 6))),
     FORMERR),
    ("TSIG algorithm name running past RDLENGTH",
     signed(tsig(rdata=b"\x0bhmac-sha256\x3f" + b"x" * 10)), FORMERR),
    ("TSIG algorithm name pointing to itself",
     signed(tsig(rdata=struct.pack("!H", 0xC000 | TSIG_RDATA_AT)
                 + tsig_rdata()[len(wire_name("hmac-sha256.")):])), FORMERR),
    ("TSIG owner pointing beyond the end", signed(tsig(owner=b"\xc0\xff")), FORMERR),
    ("TSIG followed by an OPT", hdr(ar=2) + QUESTION + tsig() + opt(), FORMERR),
    ("two TSIG records", hdr(ar=2) + QUESTION + tsig() + tsig(), FORMERR),
    ("TSIG in the answer section", hdr(an=1) + QUESTION + tsig(), FORMERR),

    # Large garbage.
    ("4,000 random octets", garbage(4000, RNG), FORMERR),
    ("4,000 random octets with the response bit", garbage(4000, RNG, qr=True), DROPPED),
]

# Only over UDP: the datagram is larger than the receive buffer (a datagram larger than any
# query we answer is dropped unread; over TCP the same bytes are a frame, see TCP_STREAMS).
UDP_ONLY_CASES = [
    ("UDP datagram of 65,507 random octets", garbage(65507, RNG), DROPPED),
]


# ---------------------------------------------------------------------------------------------
# Sending a case and judging the reply


def udp_exchange(server, wire, expectation):
    return udp_raw(server.port, wire, timeout=0.4 if expectation == DROPPED else 3.0)


def check_reply(reply, wire, expectation, what):
    """Judges one reply (bytes or None) against the case's expectation."""
    if reply is None:
        expect(expectation == DROPPED, what, expectation, "no answer")
        return
    expect(expectation != DROPPED, what, "no answer", describe(reply))
    ok = (len(reply) >= 12 and rcode_of(reply) == dns.rcode.FORMERR
          and header(reply)[1] & 0x8000 and header(reply)[3] == 0
          and reply[:2] == wire[:2] and (reply[2] & 0x78) == (wire[2] & 0x78))
    expect(ok, what, "FORMERR with QR set, the query's ID and opcode, and no answer records",
           reply.hex() if len(reply) < 12 else describe(reply))


def good_query_answered(server, transport, after):
    expect(server.is_running(), f"after {after}", "the server process still running",
           f"exited with {server.process.poll()}\n{server.log_text()[-2000:]}")
    r = query(server.port, "www.example.com.", "A", transport=transport, timeout=3.0)
    expect(r.rcode() == dns.rcode.NOERROR and r.answer, f"www.example.com. A after {after}",
           "a normal answer", describe(r))


GOOD = make_query("www.example.com.", "A")


def good_answer_on(sock, what):
    """A good query on an open connection: answered, or the connection closed (never a hang)."""
    GOOD.id = 0x600D
    try:
        sock.sendall(frame(GOOD.to_wire()))
        reply = read_frame(sock)
    except (ConnectionResetError, BrokenPipeError):
        return
    except socket.timeout:
        reply = b"timeout"
    if reply is None:
        return  # closed: allowed after a malformed message
    expect(reply != b"timeout", what, "an answer to a good query on the same connection, or "
           "the connection closed", "no answer and the connection still open")
    r = dns.message.from_wire(reply)
    expect(r.id == 0x600D and r.rcode() == dns.rcode.NOERROR and r.answer, what,
           "the good query answered on the same connection", describe(r))


def tcp_exchange(server, wire, expectation, what):
    """The case as one frame; then, when the connection stays open, a good query on it."""
    with tcp_connect(server.port, 3.0) as s:
        try:
            s.sendall(frame(wire))
            s.settimeout(0.4 if expectation == DROPPED else 3.0)
            reply = read_frame(s)
        except socket.timeout:
            reply = None
        except (ConnectionResetError, BrokenPipeError):
            reply, s = None, None
        check_reply(reply, wire, expectation, what)
        if s is not None:
            s.settimeout(3.0)
            good_answer_on(s, f"a good query on the connection after {what}")


def test_catalogue_has_sixty_distinct_cases():
    names = [name for name, _, _ in CASES + UDP_ONLY_CASES] + [name for name, _, _ in TCP_STREAMS]
    expect(len(names) == len(set(names)), "case names", "distinct",
           sorted(n for n in names if names.count(n) > 1))
    packets = [wire for _, wire, _ in CASES + UDP_ONLY_CASES]
    expect(len(packets) == len(set(packets)), "case packets", "distinct", "duplicates")
    expect(len(names) >= 60, "the catalogue", "at least 60 cases", len(names))
    print(f"    {len(CASES)} packets over UDP and TCP, {len(UDP_ONLY_CASES)} over UDP only, "
          f"{len(TCP_STREAMS)} TCP streams")


def run_cases(server, transport, cases):
    failures = []
    for name, wire, expectation in cases:
        what = f"{name!r} over {transport} ({len(wire)} octets: {wire[:48].hex()})"
        try:
            if transport == "udp":
                check_reply(udp_exchange(server, wire, expectation), wire, expectation, what)
            else:
                tcp_exchange(server, wire, expectation, what)
            good_query_answered(server, transport, f"{name!r} over {transport}")
        except AssertionError as error:
            failures.append(str(error))
            if not server.is_running():
                break
    expect(not failures, f"{len(failures)} of {len(cases)} cases over {transport}",
           "every case as expected", "\n" + "\n".join(failures))


def test_hostile_packets_get_formerr_or_nothing(server, transport):
    run_cases(server, transport, CASES + (UDP_ONLY_CASES if transport == "udp" else []))


# ---------------------------------------------------------------------------------------------
# TCP streams whose framing lies (RFC 1035 §4.2.2, RFC 7766 §8). Each step is bytes to send,
# a pause in seconds, or SHUT (half-close: no more from the client). Expectations:
# CLOSED (the connection ends, nothing answered), or a list of what the frames read back must
# be, in order: FORMERR (with ID), "answer" (the good query answered); then the connection is
# tried with a good query (answered, or closed).

SHUT = "half-close"
RESET = "reset"
CLOSED = "closed without an answer"


def good_wire(qid):
    message = make_query("www.example.com.", "A")
    message.id = qid
    return message.to_wire()


MALFORMED = hdr() + QUESTION + b"\x00"  # a trailing octet: FORMERR, the framing intact

TCP_STREAMS = [
    ("frame length 0", [b"\x00\x00"], CLOSED),
    ("frame length 1", [b"\x00\x01\x00"], CLOSED),
    ("frame length 11 (shorter than a header)", [frame(hdr()[:11])], CLOSED),
    ("frame length 100 with 20 octets, then half-close", [b"\x00\x64" + hdr() + b"\x03www\x07ex",
                                                          SHUT], CLOSED),
    ("frame length 65535 with 100 octets, then half-close",
     [b"\xff\xff" + hdr() + bytes(88), SHUT], CLOSED),
    ("length prefix alone, then half-close", [b"\x00\x28", SHUT], CLOSED),
    ("half a length prefix, then half-close", [b"\x00", SHUT], CLOSED),
    ("frame length 40 with 20 octets, then reset", [b"\x00\x28" + hdr() + bytes(8), 0.1, RESET],
     CLOSED),
    ("65,535 random octets with the response bit clear",
     [frame(garbage(65535, RNG))], [FORMERR]),
    ("65,535 zero octets", [frame(bytes(2) + bytes(65533))], [FORMERR]),
    ("65,535 octets of 0xFF (a response: not answered)", [frame(b"\xff" * 65535)], []),
    ("65,535-octet frame: a good question then trailing garbage",
     [frame((hdr() + QUESTION).ljust(65535, b"\x5a"))], [FORMERR]),
    ("length prefix split across writes before a malformed message",
     [frame(MALFORMED)[:1], 0.2, frame(MALFORMED)[1:]], [FORMERR]),
    ("length prefix and message split octet by octet",
     [bytes([octet]) for octet in frame(MALFORMED)[:6]] + [frame(MALFORMED)[6:]], [FORMERR]),
    ("malformed frame then a good query in one write",
     [frame(MALFORMED) + frame(good_wire(0x0A0A))], [FORMERR, "answer"]),
    ("good query then a frame whose length lies, then half-close",
     [frame(good_wire(0x0B0B)) + b"\x01\x00" + hdr(), SHUT], ["answer", CLOSED]),
]


def read_until_closed(sock, limit=4):
    """Frames until the peer closes or nothing comes for the socket's timeout: (frames,
    closed)."""
    frames = []
    for _ in range(limit):
        try:
            reply = read_frame(sock)
        except socket.timeout:
            return frames, False
        except OSError:
            return frames, True
        if reply is None:
            return frames, True
        frames.append(reply)
    return frames, False


def play_stream(server, steps, expectation, what):
    s = tcp_connect(server.port, 2.0)
    try:
        for step in steps:
            if isinstance(step, float):
                time.sleep(step)
            elif step == SHUT:
                s.shutdown(socket.SHUT_WR)
            elif step == RESET:
                # SO_LINGER 0: close() sends RST with the frame half sent.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                return
            else:
                s.sendall(step)
        s.settimeout(2.0)
        frames, closed = read_until_closed(s)
        wanted = [] if expectation == CLOSED else [e for e in expectation if e != CLOSED]
        must_close = expectation == CLOSED or CLOSED in expectation
        got = [describe(f) for f in frames]
        expect(len(frames) == len(wanted), what, f"{len(wanted)} frame(s) back: {wanted}", got)
        sent = b"".join(step for step in steps if isinstance(step, bytes))
        for reply, kind in zip(frames, wanted):
            if kind == FORMERR:
                check_reply(reply, sent[2:], FORMERR, what)
            else:
                r = dns.message.from_wire(reply)
                expect(r.rcode() == dns.rcode.NOERROR and r.answer, what, "the good query answered",
                       describe(r))
        if must_close:
            expect(closed, what, "the connection closed", "still open after 2 s")
        elif not closed:
            good_answer_on(s, f"a good query on the connection after {what}")
    finally:
        s.close()


def test_tcp_streams_whose_framing_lies(server):
    failures = []
    for name, steps, expectation in TCP_STREAMS:
        try:
            play_stream(server, steps, expectation, f"TCP stream: {name}")
            good_query_answered(server, "tcp", f"TCP stream {name!r}")
        except AssertionError as error:
            failures.append(str(error))
            if not server.is_running():
                break
    expect(not failures, f"{len(failures)} of {len(TCP_STREAMS)} TCP streams",
           "every stream as expected", "\n" + "\n".join(failures))


def test_good_packets_near_the_limits_are_answered(server, transport):
    """The other side of the line: well-formed neighbours of the cases above get answers."""
    cases = [
        ("COOKIE of 8 octets (client cookie only)", with_opt(cookie(8))),
        ("COOKIE of 16 octets", with_opt(cookie(16))),
        ("COOKIE of 40 octets", with_opt(cookie(40))),
        ("ECS /24", with_opt(ecs(1, 24, 0, b"\xc6\x33\x64"))),
        ("ECS source prefix 0", with_opt(ecs(1, 0, 0, b""))),
        ("an unknown option", with_opt(option(65001, b"\x01\x02"))),
        ("a compression pointer to the question name",
         hdr(an=1) + QUESTION + rr(b"\xc0\x0c", 1, bytes(4))),
    ]
    for name, wire in cases:
        what = f"{name} over {transport}"
        if transport == "udp":
            reply = udp_raw(server.port, wire, timeout=2.0)
        else:
            with tcp_connect(server.port, 2.0) as s:
                s.sendall(frame(wire))
                reply = read_frame(s)
        expect(reply is not None, what, "an answer", "none")
        r = dns.message.from_wire(reply)
        expect(r.id == QID and r.rcode() == dns.rcode.NOERROR and r.answer, what,
               "NOERROR with the answer", describe(r))


# ---------------------------------------------------------------------------------------------
# Limits of the answer path, on a zone of its own (zones/zone_answer.cpp): a CNAME chain is
# followed for 12 links, CNAME and DNAME loops give each RRset once, and additional data gives
# way to a whole answer (RFC 2181 §9), for at most 32 target hosts, each once.


def limits_zone():
    lines = ["$ORIGIN limits.test.", "$TTL 300", "@ SOA ns1 hostmaster 1 7200 900 1209600 60",
             "@ NS ns1", "ns1 A 192.0.2.1"]
    lines += [f"c{i:02d} CNAME c{i + 1:02d}" for i in range(1, 25)] + ["c25 CNAME end",
                                                                      "end A 192.0.2.99"]
    lines += ["loop-a CNAME loop-b", "loop-b CNAME loop-c", "loop-c CNAME loop-a"]
    lines += ["d1 DNAME d2.limits.test.", "d2 DNAME d1.limits.test."]
    for i in range(1, 41):
        if i <= 10:
            lines.append(f"mx10 MX 10 host{i:02d}")
        lines += [f"mx40 MX 10 host{i:02d}", f"mx40 MX 20 host{i:02d}",
                  f"host{i:02d} A 192.0.2.{100 + i}", f"host{i:02d} AAAA 2001:db8::{100 + i}"]
    return "\n".join(lines) + "\n"


def ask(server, qname, qtype, transport="udp", **kwargs):
    """The answer parsed one record at a time, so a record sent twice shows twice (dnspython
    otherwise merges duplicates into one RRset)."""
    wire = make_query(qname, qtype, **kwargs).to_wire()
    reply = udp_raw(server.port, wire, 3.0) if transport == "udp" else tcp_raw(server.port, wire)
    expect(reply is not None, f"{qname} {qtype} over {transport}", "an answer", "none")
    return dns.message.from_wire(reply, one_rr_per_rrset=True)


def records(message, section):
    """(owner, type, rdata) of each record in a section, in order."""
    return [(rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype), rd.to_text())
            for rrset in getattr(message, section) for rd in rrset]


def test_cname_chain_of_25_links_is_cut_at_12(server, transport):
    r = ask(server, "c01.limits.test.", "A", transport)
    expected = [(f"c{i:02d}.limits.test.", "CNAME", f"c{i + 1:02d}.limits.test.")
                for i in range(1, 13)]
    expect(r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC
           and records(r, "answer") == expected, f"c01.limits.test. A over {transport}",
           "NOERROR, no TC, the first 12 links in order", describe(r))
    # The resolver asks again from the last target and gets the rest of the chain.
    r = ask(server, "c25.limits.test.", "A", transport)
    expect(records(r, "answer") == [("c25.limits.test.", "CNAME", "end.limits.test."),
                                    ("end.limits.test.", "A", "192.0.2.99")],
           f"c25.limits.test. A over {transport}", "the end of the chain", describe(r))


def test_cname_and_dname_loops_give_each_rrset_once(server, transport):
    r = ask(server, "loop-a.limits.test.", "A", transport)
    expect(r.rcode() == dns.rcode.NOERROR and records(r, "answer") == [
        ("loop-a.limits.test.", "CNAME", "loop-b.limits.test."),
        ("loop-b.limits.test.", "CNAME", "loop-c.limits.test."),
        ("loop-c.limits.test.", "CNAME", "loop-a.limits.test.")],
        f"loop-a.limits.test. A over {transport}", "each link of the loop once", describe(r))
    r = ask(server, "a.d1.limits.test.", "A", transport)
    expect(r.rcode() == dns.rcode.NOERROR and records(r, "answer") == [
        ("d1.limits.test.", "DNAME", "d2.limits.test."),
        ("a.d1.limits.test.", "CNAME", "a.d2.limits.test."),
        ("d2.limits.test.", "DNAME", "d1.limits.test."),
        ("a.d2.limits.test.", "CNAME", "a.d1.limits.test.")],
        f"a.d1.limits.test. A over {transport}", "each DNAME of the loop once", describe(r))


def test_additional_data_gives_way_to_a_whole_answer(server):
    # Ten MX records fit in 512 octets, their twenty addresses do not.
    r = ask(server, "mx10.limits.test.", "MX", edns=None)
    size = len(r.to_wire())
    expect(r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC
           and len(records(r, "answer")) == 10 and 0 < len(records(r, "additional")) < 20,
           "mx10.limits.test. MX over UDP without EDNS",
           "all 10 MX, no TC, only the addresses that fit", describe(r))
    expect(size <= 512, "mx10.limits.test. MX over UDP without EDNS", "at most 512 octets", size)
    r = ask(server, "mx10.limits.test.", "MX", payload=512)
    expect(not r.flags & dns.flags.TC and len(records(r, "answer")) == 10 and r.opt is not None,
           "mx10.limits.test. MX with EDNS 512", "all 10 MX, no TC, and the OPT", describe(r))
    r = ask(server, "mx10.limits.test.", "MX", "tcp")
    expect(len(records(r, "additional")) == 20, "mx10.limits.test. MX over TCP",
           "every host's A and AAAA", describe(r))


def test_additional_addresses_are_bounded_and_never_repeated(server):
    r = ask(server, "mx40.limits.test.", "MX", "tcp")
    extra = records(r, "additional")
    expect(len(records(r, "answer")) == 80 and len(extra) == len(set(extra)) == 64,
           "mx40.limits.test. MX over TCP (40 hosts, each named twice)",
           "80 MX; A and AAAA of 32 hosts, each once", describe(r))


def start_server():
    return Meridian(
        zones=DEFAULT_ZONES + (("limits.test.zone", "limits.test."),),
        files={"zones/limits.test.zone": limits_zone()},
        extra_config=f"""[[tsig]]
name = "{TSIG_KEY}"
algorithm = "hmac-sha256"
secret = "{TSIG_SECRET}"
""").start()


if __name__ == "__main__":
    sys.exit(run_tests(globals(), start_server, stop_server))

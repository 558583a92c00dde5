"""Seeded random and mutated packets over UDP and TCP, in bounded numbers: every answer is a
response to the packet's ID and opcode, FORMERR where the question is broken, and the server
keeps answering normal queries (it never crashes or hangs). The named hostile packets, each
with its expected answer, are in test_hostile.py."""

import random
import select
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    LOOPBACK, describe, dns, expect, frame, header, make_query, query, rcode_of,
    read_frame, run_tests, start_default_meridian, stop_server, tcp_connect)

import dns.rcode  # noqa: E402

SEED = 20240101
RANDOM_PACKETS = 1000
MUTATED_PACKETS = 1000
TCP_FUZZ_PACKETS = 200


def send_tcp(server, wire, timeout):
    """One framed message on a new connection: the reply, or None (silence or close)."""
    with tcp_connect(server.port, timeout) as s:
        try:
            s.sendall(frame(wire))
            return read_frame(s)
        except (socket.timeout, ConnectionResetError, BrokenPipeError):
            return None


def expect_still_answering(server, transport, after):
    expect(server.is_running(), f"after {after}", "the server process still running",
           f"exited with {server.process.poll()}\n{server.log_text()[-2000:]}")
    r = query(server.port, "www.example.com.", "A", transport=transport, timeout=3.0)
    expect(r.rcode() == dns.rcode.NOERROR and r.answer, f"www.example.com. A after {after}",
           "a normal answer", describe(r))


# ---------------------------------------------------------------------------------------------
# Seeded random and mutated packets. The oracle: a packet with QR=1 gets no answer; one whose
# header or question does not parse strictly gets FORMERR or nothing; any answer at all is a
# response (QR=1) to the same ID and opcode. Valid-looking packets may get any such answer.


def question_parses(wire):
    """True when the header says QDCOUNT=1 and the question is whole, without pointers."""
    if len(wire) < 12 or header(wire)[2] != 1:
        return False
    offset, length = 12, 0
    while True:
        if offset >= len(wire):
            return False
        label = wire[offset]
        if label == 0:
            offset += 1
            break
        if label > 63:
            return False
        length += label + 1
        offset += label + 1
        if length > 254:
            return False
    return offset + 4 <= len(wire)


def check_fuzz_reply(wire, reply, what):
    flags = header(wire)[1] if len(wire) >= 12 else 0
    expect(not (len(wire) >= 12 and flags & 0x8000), what, "no answer to a packet with QR=1",
           describe(reply))
    expect(len(reply) >= 12 and header(reply)[1] & 0x8000 and reply[:2] == wire[:2], what,
           "a response with QR set and the query's ID", reply[:12].hex())
    opcode = (flags >> 11) & 0xF
    expect((header(reply)[1] >> 11) & 0xF == opcode, what, f"opcode {opcode} echoed",
           (header(reply)[1] >> 11) & 0xF)
    if opcode == 0 and not question_parses(wire):
        expect(rcode_of(reply) == dns.rcode.FORMERR, what, "FORMERR for a broken question",
               f"rcode {rcode_of(reply)}")


def fuzz_packets(rng):
    valid = [make_query(name, qtype).to_wire() for name, qtype in (
        ("www.example.com.", "A"), ("x.dname.example.com.", "A"), ("foo.wild.example.com.", "TXT"),
        ("www.sub.example.com.", "A"))]
    valid.append(make_query("example.com.", "MX", options=[
        dns.edns.GenericOption(dns.edns.NSID, b"")]).to_wire())
    packets = []
    for _ in range(RANDOM_PACKETS):
        packets.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))))
    for _ in range(MUTATED_PACKETS):
        packet = bytearray(rng.choice(valid))
        for _ in range(rng.randrange(1, 6)):
            choice = rng.randrange(4)
            if choice == 0:
                packet[rng.randrange(len(packet))] = rng.randrange(256)
            elif choice == 1:
                packet = packet[:rng.randrange(len(packet))] or packet
            elif choice == 2:
                position = rng.randrange(len(packet))
                packet[position:position] = bytes(rng.randrange(256)
                                                  for _ in range(rng.randrange(1, 8)))
            elif len(packet) > 12:
                packet[rng.randrange(12, len(packet))] = rng.choice((0xC0, 0x3F, 0x40, 0xFF, 0))
        packets.append(bytes(packet))
    return packets


def with_id(packet, qid):
    """Gives each packet a distinct ID so late replies can be matched."""
    return struct.pack("!H", qid) + packet[2:] if len(packet) >= 2 else packet


def test_random_and_mutated_packets_over_udp(server):
    rng = random.Random(SEED)
    packets = [with_id(p, i) for i, p in enumerate(fuzz_packets(rng))]
    by_id = {i: p for i, p in enumerate(packets) if len(p) >= 2}
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((LOOPBACK, server.port))
        for start in range(0, len(packets), 50):
            for packet in packets[start:start + 50]:
                try:
                    s.send(packet)
                except ConnectionRefusedError:
                    pass
            deadline = time.monotonic() + 0.3
            while time.monotonic() < deadline:
                ready, _, _ = select.select([s], [], [], 0.1)
                if not ready:
                    break
                try:
                    reply = s.recv(65535)
                except ConnectionRefusedError:
                    break
                qid = struct.unpack("!H", reply[:2])[0] if len(reply) >= 2 else -1
                expect(qid in by_id, "a fuzz reply", "the ID of a packet we sent", reply.hex())
                check_fuzz_reply(by_id[qid], reply, f"fuzz packet #{qid} {by_id[qid].hex()}")
                answered += 1
            expect_still_answering(server, "udp", f"fuzz packets {start}..{start + 49}")
    print(f"    {len(packets)} fuzz packets over UDP (seed {SEED}), {answered} answered")


def test_random_and_mutated_packets_over_tcp(server):
    rng = random.Random(SEED + 1)
    packets = fuzz_packets(rng)
    rng.shuffle(packets)
    for number, packet in enumerate(packets[:TCP_FUZZ_PACKETS]):
        packet = with_id(packet, number)
        reply = send_tcp(server, packet, 0.2)
        if reply is not None:
            check_fuzz_reply(packet, reply, f"TCP fuzz packet #{number} {packet.hex()}")
        if number % 50 == 49:
            expect_still_answering(server, "tcp", f"TCP fuzz packets up to #{number}")
    expect_still_answering(server, "tcp", "the TCP fuzz packets")
    expect_still_answering(server, "udp", "the TCP fuzz packets")


if __name__ == "__main__":
    sys.exit(run_tests(globals(), start_default_meridian, stop_server))

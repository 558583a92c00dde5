"""DNS over TCP as RFC 7766 describes it: two-octet framing, pipelining, messages split across
writes, idle timeouts, slow clients that must not stall others, and the connection cap."""

import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    Meridian, describe, dns, expect, frame, make_query, query, read_frame, run_tests, tcp_connect)

import dns.rcode  # noqa: E402


def nodelay(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def query_wire(qname, qtype="A", qid=None):
    message = make_query(qname, qtype)
    if qid is not None:
        message.id = qid
    return message.to_wire()


def is_closed(sock, within):
    """True when the peer closes (EOF or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def expect_udp_answer(server, after):
    r = query(server.port, "www.example.com.", "A", transport="udp", timeout=2.0)
    expect(r.rcode() == dns.rcode.NOERROR and r.answer, f"www.example.com. A over UDP {after}",
           "a normal answer", describe(r))


def expect_tcp_answer(server, after, timeout=2.0):
    r = query(server.port, "www.example.com.", "A", transport="tcp", timeout=timeout)
    expect(r.rcode() == dns.rcode.NOERROR and r.answer, f"www.example.com. A over TCP {after}",
           "a normal answer", describe(r))


# ---------------------------------------------------------------------------------------------
# Framing and pipelining (RFC 1035 §4.2.2, RFC 7766 §6.2.1 and §8)


def test_two_octet_length_framing(server):
    with tcp_connect(server.port) as s:
        s.sendall(frame(query_wire("www.example.com.", qid=0x4242)))
        length = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
        body = s.recv(length, socket.MSG_WAITALL)
    expect(len(body) == length, "www.example.com. A over TCP", f"{length} octets as framed",
           len(body))
    r = dns.message.from_wire(body)
    expect(r.id == 0x4242 and r.answer, "www.example.com. A over TCP",
           "the answer with ID 0x4242", describe(r))


def test_connection_stays_open_for_more_queries(server):
    with tcp_connect(server.port) as s:
        for number in range(3):
            s.sendall(frame(query_wire("www.example.com.", qid=100 + number)))
            reply = read_frame(s)
            expect(reply is not None and dns.message.from_wire(reply).id == 100 + number,
                   f"query {number + 1} of 3 on one connection", "an answer", describe(reply))


def test_pipelined_queries_in_one_write_are_all_answered(server):
    names = ["www.example.com.", "mail.example.com.", "ns1.example.com.", "nx.example.com.",
             "foo.wild.example.com.", "www.sub2.example.com.", "chain1.example.com.",
             "www.example.org."] * 3
    wires = [query_wire(name, qid=1000 + i) for i, name in enumerate(names)]
    with tcp_connect(server.port, 3.0) as s:
        s.sendall(b"".join(frame(w) for w in wires))
        replies = {}
        for _ in wires:
            reply = read_frame(s)
            if reply is None:
                break
            r = dns.message.from_wire(reply)
            replies[r.id] = r
    # RFC 7766 §6.2.1.1: answers may come in any order; every ID must come back.
    missing = sorted(set(range(1000, 1000 + len(wires))) - set(replies))
    expect(not missing, f"{len(wires)} pipelined queries in one write",
           "an answer for every ID", f"missing IDs {missing}")
    for i, name in enumerate(names):
        got = replies[1000 + i].question[0].name.to_text()
        expect(got == name, f"pipelined query {1000 + i}", f"question {name}", got)


def test_query_split_across_writes(server):
    wire = frame(query_wire("www.example.com.", qid=0x5151))
    with nodelay(tcp_connect(server.port, 3.0)) as s:
        for piece in (wire[:1], wire[1:2], wire[2:9], wire[9:20], wire[20:]):
            s.sendall(piece)
            time.sleep(0.1)
        reply = read_frame(s)
    expect(reply is not None and dns.message.from_wire(reply).id == 0x5151,
           "www.example.com. A written in five pieces", "the answer", describe(reply))


# ---------------------------------------------------------------------------------------------
# Idle timeout and slow clients (RFC 7766 §6.2.3, §10)


def test_idle_connection_is_closed_after_timeout(idle_server):
    with tcp_connect(idle_server.port) as s:
        started = time.monotonic()
        closed = is_closed(s, 5.0)
        elapsed = time.monotonic() - started
    expect(closed, "an idle TCP connection, tcp_idle_timeout = 1", "closed by the server",
           "still open after 5 s")
    expect(elapsed >= 0.5, "an idle TCP connection, tcp_idle_timeout = 1",
           "closed after about 1 s, not at once", f"closed after {elapsed:.2f} s")


def test_connection_idle_after_an_answer_is_closed(idle_server):
    with tcp_connect(idle_server.port) as s:
        s.sendall(frame(query_wire("www.example.com.")))
        reply = read_frame(s)
        expect(reply is not None, "www.example.com. A", "an answer", "none")
        expect(is_closed(s, 5.0), "a connection idle after its answer, tcp_idle_timeout = 1",
               "closed by the server", "still open after 5 s")


def test_slow_clients_do_not_stall_others(server):
    silent = tcp_connect(server.port)
    half_length = tcp_connect(server.port)
    half_length.sendall(b"\x00")
    wire = query_wire("www.example.com.")
    half_message = tcp_connect(server.port)
    half_message.sendall(frame(wire)[:10])
    try:
        started = time.monotonic()
        expect_tcp_answer(server, "while three clients stall", timeout=2.0)
        expect_udp_answer(server, "while three clients stall")
        elapsed = time.monotonic() - started
        expect(elapsed < 1.5, "queries while three clients stall", "answered promptly",
               f"{elapsed:.2f} s")
        # The slow client can still finish its query.
        half_message.sendall(frame(wire)[10:])
        reply = read_frame(half_message)
        expect(reply is not None, "the rest of a half-sent query", "an answer", "none")
    finally:
        for s in (silent, half_length, half_message):
            s.close()


# ---------------------------------------------------------------------------------------------
# Connection cap (tcp_max_connections per worker; here 4 with one worker). RFC 7766 §6.2.3: a
# full worker closes its longest idle connection to serve a new one, rather than refusing it
# (slowloris clients would otherwise hold every slot; test_tcp_limits.py has the flood).


def served(sock, qid, within):
    """True when a query on `sock` is answered within `within` seconds."""
    sock.settimeout(within)
    try:
        sock.sendall(frame(query_wire("www.example.com.", qid=qid)))
        reply = read_frame(sock)
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        return False
    return reply is not None and dns.message.from_wire(reply).id == qid


def test_a_full_worker_closes_its_longest_idle_connection_for_a_new_one(capped_server):
    held = [tcp_connect(capped_server.port) for _ in range(4)]
    extra = []
    try:
        for number, s in enumerate(held):
            expect(served(s, 200 + number, 2.0), f"connection {number + 1} of 4 (the cap)",
                   "answered", "not answered")
            time.sleep(0.05)  # an order of idleness: connection 1 has been idle the longest
        for number in range(2):
            s = tcp_connect(capped_server.port, 2.0)
            extra.append(s)
            expect(served(s, 300 + number, 2.0),
                   f"connection {5 + number} while 4 are open, tcp_max_connections = 4",
                   "answered", "not answered")
            expect(is_closed(held[number], 2.0),
                   f"connection {number + 1}, the longest idle when connection {5 + number} came",
                   "closed by the server to make room", "still open")
        for number in (2, 3):
            expect(served(held[number], 400 + number, 2.0),
                   f"connection {number + 1}, idle for less long", "still answered",
                   "not answered")
        expect_udp_answer(capped_server, "while TCP is at its cap")
    finally:
        for s in held + extra:
            s.close()


def setup():
    return {"server": Meridian().start(),
            "idle_server": Meridian(server={"tcp_idle_timeout": 1}).start(),
            "capped_server": Meridian(server={"workers": 1, "tcp_max_connections": 4,
                                              "tcp_max_connections_per_client": 0}).start()}


def teardown(servers):
    for name, server in (servers or {}).items():
        print(f"{name}: meridian exited with {server.stop()}")


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup, teardown))

"""TCP limits under hostile clients (RFC 7766 §6.2.3 and §10): slowloris connections that
trickle bytes cannot keep fresh clients out, a frame must arrive whole within
tcp_query_timeout, one client address has a cap, memory lent to a burst of large frames goes
back, and the server raises its open-file limit for its connections."""

import errno
import random
import re
import resource
import select
import socket
import struct
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    Meridian, Skipped, dns, expect, frame, free_port, make_query, read_frame, run_meridian,
    run_tests, skip_notice, tcp_connect)

# Descriptors this process needs at most at once: 2,100 slowloris connections plus the fresh
# clients, or 2,000 connections of the memory burst, plus some for Python and the harness.
NEEDED_FILES = 2400


def raise_open_file_limit():
    """Raises this process's soft RLIMIT_NOFILE to what the floods need; the error to skip
    them with when the hard limit is too low, else None."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < NEEDED_FILES:
        reason = f"the hard RLIMIT_NOFILE is {hard}; a flood needs {NEEDED_FILES} descriptors"
        skip_notice(reason)
        return reason
    if soft != resource.RLIM_INFINITY and soft < NEEDED_FILES:
        resource.setrlimit(resource.RLIMIT_NOFILE, (NEEDED_FILES, hard))
    return None


TOO_FEW_FILES = None  # set by main: why the floods cannot run here, or None


def require_files():
    if TOO_FEW_FILES:
        raise Skipped(TOO_FEW_FILES)


def query_wire(qid):
    message = make_query("www.example.com.", "A")
    message.id = qid
    return message.to_wire()


def answered(port, qid, timeout, source="127.0.0.1"):
    """True when a fresh connection from `source` gets the answer to one query in time."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(frame(query_wire(qid)))
        reply = read_frame(s)
    except OSError:
        return False
    finally:
        s.close()
    return reply is not None and dns.message.from_wire(reply).id == qid


def is_closed(sock, within):
    """True when the peer closes (EOF or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def metrics(server):
    """The server's /metrics as {name: value} for unlabelled samples."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics",
                                timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+) ([0-9.e+]+)", line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


def resident_kib(pid):
    """VmRSS of `pid` in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def open_file_limits(pid):
    """(soft, hard) 'Max open files' of `pid`, from /proc."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            fields = line.split()
            return fields[3], fields[4]
    raise RuntimeError(f"no 'Max open files' in /proc/{pid}/limits")


def source_address(number, spread):
    """One of `spread` loopback source addresses, 127.0.1.1 on (all of 127.0.0.0/8 is local)."""
    return f"127.0.1.{1 + number % spread}"


def start_server(settings, with_http=False, lowered_soft_limit=None):
    """A Meridian with `settings` in [server]; /metrics on a free port when `with_http`. With
    `lowered_soft_limit`, it starts with that soft RLIMIT_NOFILE (it must raise it itself)."""
    http_port = free_port() if with_http else None
    extra = (f'[control]\nhttp = "127.0.0.1:{http_port}"\nsocket = ""\ndrain_seconds = 0\n'
             if with_http else "")
    server = Meridian(server=settings, extra_config=extra)
    server.http_port = http_port
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if lowered_soft_limit is not None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowered_soft_limit, hard))
    try:
        server.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return server


class Slowloris:
    """`count` connections from `spread` loopback addresses, each sending the next byte of a
    framed query every `interval` seconds, so no frame ever completes; one the server closes
    is opened again at its next turn, as an attacker would. Runs in a thread until stop()."""

    def __init__(self, port, count, spread, interval=2.0):
        self.port = port
        self.count = count
        self.spread = spread
        self.interval = interval
        self.payload = frame(query_wire(0x5105))
        self.sockets = [None] * count
        self.sent = [0] * count
        self.reopened = 0
        self.failed_connects = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.epoll = select.epoll()

    def open(self, slot):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((source_address(slot, self.spread), 0))
            code = s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            self.failed_connects += 1
            return
        if code not in (0, errno.EINPROGRESS):
            s.close()
            self.failed_connects += 1
            return
        self.sockets[slot] = s
        self.sent[slot] = 0
        self.epoll.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)

    def drop(self, slot):
        s = self.sockets[slot]
        if s is not None:
            self.epoll.unregister(s.fileno())
            s.close()
            self.sockets[slot] = None

    def send_next_byte(self, slot):
        s = self.sockets[slot]
        # The last octet is never sent: the frame stays incomplete for as long as we like.
        position = self.sent[slot] % (len(self.payload) - 1)
        try:
            if s.send(self.payload[position:position + 1]) == 1:
                self.sent[slot] += 1
        except (BlockingIOError, InterruptedError):
            pass  # still connecting, or the window is full: try at the next turn
        except OSError as error:
            if error.errno == errno.ENOTCONN:
                return
            self.drop(slot)

    def watch_closures(self, timeout):
        """Drops the sockets the server closed; the slot is opened again at its next turn."""
        by_fd = {s.fileno(): slot for slot, s in enumerate(self.sockets) if s is not None}
        for fd, _ in self.epoll.poll(timeout):
            slot = by_fd.get(fd)
            if slot is None:
                continue
            try:
                data = self.sockets[slot].recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                self.drop(slot)

    def run(self):
        # Bounded: the test stops it, and it gives up by itself after five minutes.
        deadline = time.monotonic() + 300
        turn = time.monotonic()
        first = True
        while not self.stopping.is_set() and time.monotonic() < deadline:
            for slot in range(self.count):
                if self.stopping.is_set():
                    break
                if self.sockets[slot] is None:
                    self.open(slot)
                    if not first:
                        self.reopened += 1
                    if self.sockets[slot] is None:
                        continue
                self.send_next_byte(slot)
            first = False
            turn += self.interval
            while not self.stopping.is_set() and time.monotonic() < turn:
                self.watch_closures(min(0.2, max(0.0, turn - time.monotonic())))

    def open_count(self):
        return sum(1 for s in self.sockets if s is not None)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=30)
        for slot in range(self.count):
            self.drop(slot)
        self.epoll.close()


# ---------------------------------------------------------------------------------------------
# Slowloris: eviction keeps TCP open to fresh clients (issue 13, defect 20)


def test_fresh_clients_are_answered_under_2100_slowloris_connections():
    require_files()
    # Two workers of 1,024 each, as by default; a query timeout far longer than the test, so
    # only eviction (not the per-frame deadline) can make room for the fresh clients.
    server = start_server({"workers": 2, "tcp_max_connections": 1024, "tcp_idle_timeout": 60,
                           "tcp_query_timeout": 120}, with_http=True)
    attack = Slowloris(server.port, 2100, spread=40)
    try:
        attack.start()
        # Bounded: until the attacker has (nearly) all its connections open, at most 20 s.
        deadline = time.monotonic() + 20
        while attack.open_count() < 2050 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(4.5)  # two more turns: every slot has sent bytes and is held by the server
        during = metrics(server)
        held = during.get("meridian_tcp_connections_open", 0)
        print(f"slowloris connections open on the server: {held:.0f} "
              f"(attacker has {attack.open_count()}, reopened {attack.reopened})")
        expect(held >= 2000, "2,100 slowloris connections against 2 x 1,024 slots",
               "at least 2,000 of them held by the server (the table is full)", held)
        fresh = 40
        ok = 0
        for number in range(fresh):
            if answered(server.port, 0x1000 + number, timeout=2.0):
                ok += 1
            time.sleep(0.1)
        share = ok / fresh
        print(f"fresh TCP clients answered under 2,100 slowloris connections: {ok} of {fresh} "
              f"({share:.0%})")
        after = metrics(server)
        evicted = after.get("meridian_tcp_connections_evicted_total", 0)
        print(f"connections evicted: {evicted:.0f}")
        expect(share >= 0.8, "fresh TCP clients while 2,100 slowloris connections trickle",
               "at least 80% answered", f"{ok} of {fresh}")
        expect(evicted >= ok, "meridian_tcp_connections_evicted_total",
               f"at least one eviction per fresh client answered ({ok})", evicted)
        expect(attack.failed_connects == 0, "the attacker's connections",
               "all opened (the test measured what it meant to)",
               f"{attack.failed_connects} failed")
    finally:
        attack.stop()
        print(f"meridian exited with {server.stop()}")


def test_a_frame_trickled_slower_than_the_query_timeout_is_closed():
    server = start_server({"workers": 1, "tcp_idle_timeout": 30, "tcp_query_timeout": 2},
                          with_http=True)
    try:
        payload = frame(query_wire(0x7777))
        with tcp_connect(server.port, 2.0) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            started = time.monotonic()
            closed = False
            # One byte every half second: each would restart an idle timer, never the frame's
            # deadline. Bounded by the frame's length (about 17 s if never closed).
            for position in range(len(payload) - 1):
                try:
                    s.sendall(payload[position:position + 1])
                except OSError:
                    closed = True
                    break
                if is_closed(s, 0.5):
                    closed = True
                    break
            elapsed = time.monotonic() - started
        print(f"a frame trickled at 2 octets/s closed after {elapsed:.1f} s "
              f"(tcp_query_timeout = 2)")
        expect(closed, "a frame trickled one byte every 0.5 s, tcp_query_timeout = 2",
               "closed by the server", f"still open after {elapsed:.1f} s")
        expect(1.5 <= elapsed <= 4.5, "a frame trickled slower than the query timeout",
               "closed about 2 s after its first byte", f"after {elapsed:.1f} s")
        timeouts = metrics(server).get("meridian_tcp_query_timeouts_total", 0)
        expect(timeouts == 1, "meridian_tcp_query_timeouts_total", 1, timeouts)
        # A client that sends whole queries, each in time, keeps its connection past the
        # query timeout (RFC 7766 §6.2.3: the idle timeout, 30 s here, decides).
        with tcp_connect(server.port, 2.0) as s:
            for number in range(6):
                s.sendall(frame(query_wire(0x100 + number)))
                reply = read_frame(s)
                expect(reply is not None and dns.message.from_wire(reply).id == 0x100 + number,
                       f"query {number + 1} of 6, 0.8 s apart, on one connection",
                       "answered (the connection outlives tcp_query_timeout)", reply)
                time.sleep(0.8)
    finally:
        print(f"meridian exited with {server.stop()}")


def test_one_client_address_is_capped_and_others_are_not():
    # One worker, so the cap is exact: 8 connections from one address, the 9th refused.
    server = start_server({"workers": 1, "tcp_max_connections": 100,
                           "tcp_max_connections_per_client": 8}, with_http=True)
    held = []
    try:
        for number in range(8):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.settimeout(2.0)
            s.bind(("127.0.0.9", 0))
            s.connect(("127.0.0.1", server.port))
            s.sendall(frame(query_wire(0x900 + number)))
            reply = read_frame(s)
            expect(reply is not None, f"connection {number + 1} of 8 from 127.0.0.9",
                   "answered", "not answered")
        refused = 0
        for number in range(3):
            if not answered(server.port, 0x990 + number, 1.0, source="127.0.0.9"):
                refused += 1
        expect(refused == 3, "3 more connections from 127.0.0.9 while it holds 8 (its cap)",
               "all 3 closed unanswered", f"{3 - refused} answered")
        expect(answered(server.port, 0x999, 2.0, source="127.0.0.10"),
               "a connection from 127.0.0.10 while 127.0.0.9 is at its cap", "answered",
               "not answered")
        count = metrics(server).get("meridian_tcp_connections_client_refused_total", 0)
        expect(count == 3, "meridian_tcp_connections_client_refused_total", 3, count)
        # Closing one of its connections gives the address its slot back.
        held.pop().close()
        ok = False
        deadline = time.monotonic() + 5
        while not ok and time.monotonic() < deadline:
            ok = answered(server.port, 0x9AA, 1.0, source="127.0.0.9")
        expect(ok, "a connection from 127.0.0.9 after it closed one of its 8", "answered",
               "not answered within 5 s")
    finally:
        for s in held:
            s.close()
        print(f"meridian exited with {server.stop()}")


# ---------------------------------------------------------------------------------------------
# Memory lent to large frames goes back (issue 13, defect 21)


def test_memory_lent_to_a_burst_of_large_frames_is_given_back():
    require_files()
    server = start_server({"workers": 2, "tcp_max_connections": 1024}, with_http=True)
    connections = []
    try:
        for number in range(20):  # warm up: buffers, answer path, connection objects
            answered(server.port, number, 2.0)
        time.sleep(0.5)
        before = resident_kib(server.process.pid)
        # 2,000 connections each send all but the last octet of a 65,000-octet frame, so the
        # server must keep a large partial frame for each of them.
        body = bytes(random.Random(21).getrandbits(8) for _ in range(65000))
        partial = struct.pack("!H", len(body)) + body[:-1]
        for number in range(2000):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            connections.append(s)
            s.settimeout(5.0)
            s.bind((source_address(number, 40), 0))
            s.connect(("127.0.0.1", server.port))
            s.setblocking(False)
            try:
                s.send(partial)
            except (BlockingIOError, ConnectionResetError, BrokenPipeError):
                pass  # the server's window is full, or it closed us: both are fine here
        time.sleep(1.5)
        peak = resident_kib(server.process.pid)
        during = metrics(server)
        for s in connections:
            s.close()
        connections.clear()
        # Bounded: RSS settles within a few seconds once every connection has closed.
        deadline = time.monotonic() + 10
        after = resident_kib(server.process.pid)
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if metrics(server).get("meridian_tcp_connections_open", 1) == 0:
                after = resident_kib(server.process.pid)
                break
        time.sleep(1.0)
        after = resident_kib(server.process.pid)
        final = metrics(server)
        print(f"RSS before the burst {before / 1024:.1f} MiB, during {peak / 1024:.1f} MiB, "
              f"after it closed {after / 1024:.1f} MiB")
        print(f"buffers in use during the burst: {during.get('meridian_tcp_buffers_in_use', 0):.0f}"
              f", connections closed for want of a buffer: "
              f"{final.get('meridian_tcp_buffer_shortages_total', 0):.0f}")
        expect(final.get("meridian_tcp_buffers_in_use", -1) == 0, "meridian_tcp_buffers_in_use",
               "0 once every connection closed", final.get("meridian_tcp_buffers_in_use"))
        expect(peak - before <= 96 * 1024, "RSS during 2,000 partial 65,000-octet frames",
               "at most 96 MiB above the start (lending is bounded)",
               f"{(peak - before) / 1024:.1f} MiB above")
        expect(after - before <= 24 * 1024, "RSS after the 2,000 connections closed",
               "back within 24 MiB of the start",
               f"{before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after")
    finally:
        for s in connections:
            s.close()
        print(f"meridian exited with {server.stop()}")


# ---------------------------------------------------------------------------------------------
# Descriptors and configuration


def test_the_server_raises_its_soft_open_file_limit_to_the_hard_one():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        raise Skipped(f"the hard RLIMIT_NOFILE is {hard}: nothing above 1024 to raise to")
    server = start_server({"workers": 1}, lowered_soft_limit=1024)
    try:
        server_soft, server_hard = open_file_limits(server.process.pid)
        print(f"the server started with a soft limit of 1024 and runs with {server_soft} "
              f"(hard {server_hard})")
        expect(server_soft == server_hard, "the server's Max open files (soft, hard)",
               "soft raised to the hard limit", (server_soft, server_hard))
    finally:
        print(f"meridian exited with {server.stop()}")


def test_bad_tcp_limits_are_reported_with_file_and_line():
    server = Meridian()
    config = server.write_config()
    try:
        text = config.read_text().replace(
            "[server]\n",
            "[server]\ntcp_query_timeout = 0\ntcp_max_connections_per_client = -1\n", 1)
        config.write_text(text)
        completed = run_meridian("check", "--config", config)
        output = completed.stdout + completed.stderr
        expect(completed.returncode != 0, "meridian check with tcp_query_timeout = 0",
               "an error exit", completed.returncode)
        # Lines 2 and 3: right under [server], before listen.
        expect(re.search(r"meridian\.toml:2: .*tcp_query_timeout", output),
               "meridian check with tcp_query_timeout = 0", "meridian.toml:2: naming the key",
               output)
        expect(re.search(r"meridian\.toml:3: .*tcp_max_connections_per_client", output),
               "meridian check with tcp_max_connections_per_client = -1",
               "meridian.toml:3: naming the key", output)
    finally:
        server.stop()  # never started: removes its temp folder


if __name__ == "__main__":
    TOO_FEW_FILES = raise_open_file_limit()
    sys.exit(run_tests(globals()))

"""The HTTP control endpoint under a flood of slow clients: /health answers within a second
while 500 slow connections are held and right after they are gone, slow clients are closed at
the whole-request deadline (5 s) however they drip, one client address cannot take every
connection, the connection cap evicts instead of refusing, and running out of descriptors
neither wedges the endpoint nor spins the main loop. The BGP watcher withdraws the PoP when
/health does not answer within its --timeout (1 s by default)."""

import errno
import os
import resource
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up

from meridian_harness import (  # noqa: E402
    LOOPBACK, Meridian, Skipped, expect, free_port, part, run_tests)

ORIGIN = "burst.example."
DEADLINE = 5.0  # seconds a connection has for a whole request (server/control/http_endpoint)
PER_CLIENT = 32  # connections one client address may hold
MAX_CONNECTIONS = 1024  # connections the endpoint holds at most


def raise_descriptor_limit():
    """This process needs a descriptor per slow connection; the server inherits the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


DESCRIPTORS = raise_descriptor_limit()


def control_server():
    """A Meridian with [control] http on a free loopback port."""
    http_port = free_port()
    zone = (f"$ORIGIN {ORIGIN}\n$TTL 60\n@ SOA ns1 hostmaster 1 7200 3600 1209600 60\n"
            "@ NS ns1\nns1 A 192.0.2.1\n")
    control = "\n".join(["[control]", f'http = "127.0.0.1:{http_port}"', 'socket = "control.sock"',
                         "check_interval = 0.1", "rise = 1", "fall = 100"])
    server = Meridian(zones=[("burst.example.zone", ORIGIN)],
                      files={"zones/burst.example.zone": zone}, extra_config=control + "\n")
    server.http_port = http_port
    server.start()
    # Ready (200) before any flood: a later 503 would be the self-check's, not the flood's.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and health(server)[0] != 200:
        time.sleep(0.05)
    expect(health(server)[0] == 200, "/health after start", "200", server.log_text())
    return server


def health(server, source=LOOPBACK, timeout=3.0):
    """(HTTP status or None, seconds taken) of one GET /health on a new connection."""
    started = time.monotonic()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.bind((source, 0))
            s.connect((LOOPBACK, server.http_port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            reply = b""
            while len(reply) < 65536 and time.monotonic() - started < timeout:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except OSError:  # refused, reset, timed out
        return None, time.monotonic() - started
    elapsed = time.monotonic() - started
    fields = reply.split(b"\r\n", 1)[0].split(b" ")
    return (int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None), elapsed


def expect_health_within_a_second(server, when, source=LOOPBACK):
    status, elapsed = health(server, source)
    print(f"  /health {when}: {status} in {elapsed * 1000:.1f} ms", flush=True)
    expect(status == 200 and elapsed < 1.0, f"/health {when}", "200 within 1 s",
           f"{status} after {elapsed:.3f} s")


class SlowClients:
    """`count` connections to the HTTP port from `sources` (taken in turn). Every `drip`-th one
    sends a partial request one byte a second from a thread, the others send nothing. Connects
    are non-blocking: one the server never accepts stays in its listen queue or SYN_SENT."""

    PARTIAL = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "

    def __init__(self, server, count, sources=(LOOPBACK,), drip=2):
        self.sockets = []
        self.opened = []
        try:
            for index in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.sockets.append(s)
                s.setblocking(False)
                s.bind((sources[index % len(sources)], 0))
                status = s.connect_ex((LOOPBACK, server.http_port))
                expect(status in (0, errno.EINPROGRESS), "a non-blocking connect", "started",
                       os.strerror(status))
                self.opened.append(time.monotonic())
        except BaseException:
            self.close()
            raise
        self.dripping = self.sockets[::drip] if drip else []
        self.sent = [0] * len(self.dripping)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self):
        for _ in range(120):  # two minutes at most
            for index, s in enumerate(self.dripping):
                position = self.sent[index]
                byte = self.PARTIAL[position:position + 1] or b"a"
                try:
                    self.sent[index] += s.send(byte)
                except OSError:  # not connected yet, or closed
                    pass
            if self.stop.wait(1.0):
                return

    def is_closed_by_server(self, s):
        """True once the server closed it (end of stream or reset); it never gets a reply."""
        try:
            for _ in range(16):
                if not s.recv(4096, socket.MSG_DONTWAIT):
                    return True
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:  # reset
            return True
        return False

    def count_open(self, sockets=None):
        return sum(not self.is_closed_by_server(s) for s in (sockets or self.sockets))

    def close(self):
        if hasattr(self, "stop"):
            self.stop.set()
            self.thread.join(timeout=5)
        for s in self.sockets:
            s.close()
        self.sockets = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_health_answers_during_and_after_500_silent_connections():
    # Held for 12 s: past libmicrohttpd's idle timeout (10 s), when the connections it held
    # timed out together and it left the listen socket out of its epoll set for good.
    server = control_server()
    try:
        with SlowClients(server, 500, drip=0):
            time.sleep(1.5)
            for second in range(4):
                expect_health_within_a_second(server, f"with 500 silent connections ({second})")
                time.sleep(2.5)
        for attempt in range(3):
            expect_health_within_a_second(server, f"after they closed ({attempt})")
            time.sleep(0.5)
        expect(server.is_running(), "the server", "still running", server.log_text())
    finally:
        server.stop()


def test_health_answers_during_and_after_500_dripping_connections():
    server = control_server()
    try:
        with SlowClients(server, 500, drip=1):
            time.sleep(1.5)  # every connect started, a byte or two dripped
            for second in range(3):
                expect_health_within_a_second(server, f"with 500 dripping connections "
                                              f"({second})")
                time.sleep(1.0)
        for attempt in range(3):
            expect_health_within_a_second(server, f"after they closed ({attempt})")
            time.sleep(0.5)
        expect(server.is_running(), "the server", "still running", server.log_text())
    finally:
        server.stop()


def test_slow_clients_are_closed_at_the_whole_request_deadline():
    server = control_server()
    try:
        with SlowClients(server, 10, sources=("127.0.0.2",), drip=2) as slow:
            closed_after = {}
            deadline = time.monotonic() + DEADLINE + 6
            while len(closed_after) < len(slow.sockets) and time.monotonic() < deadline:
                for index, s in enumerate(slow.sockets):
                    if index not in closed_after and slow.is_closed_by_server(s):
                        closed_after[index] = time.monotonic() - slow.opened[index]
                time.sleep(0.1)
            figures = ", ".join(f"{'drip' if index % 2 == 0 else 'silent'} {seconds:.2f} s"
                                for index, seconds in sorted(closed_after.items()))
            print(f"  closed by the server after: {figures}", flush=True)
            dripped = [slow.sent[index] for index in range(len(slow.dripping))]
            expect(len(closed_after) == len(slow.sockets), "slow clients, half dripping a byte "
                   "a second", f"every one closed within {DEADLINE + 6:.0f} s",
                   f"{len(closed_after)} of {len(slow.sockets)} ({figures}; bytes dripped "
                   f"{dripped})")
            expect(all(DEADLINE - 1 <= seconds <= DEADLINE + 2.5
                       for seconds in closed_after.values()),
                   "when each slow client was closed", f"at the {DEADLINE:.0f} s deadline",
                   figures)
        expect_health_within_a_second(server, "after the slow clients")
    finally:
        server.stop()


def test_one_client_address_cannot_take_every_connection():
    server = control_server()
    try:
        with SlowClients(server, 10, sources=("127.0.0.4",), drip=0) as other:
            time.sleep(0.3)
            with SlowClients(server, 100, sources=("127.0.0.3",), drip=0) as greedy:
                time.sleep(1.0)
                expect_health_within_a_second(server, "with one greedy client")
                kept = greedy.count_open()
                others = other.count_open()
                print(f"  the greedy client keeps {kept} of 100, the other {others} of 10",
                      flush=True)
                expect(kept <= PER_CLIENT, "connections one address keeps",
                       f"at most {PER_CLIENT} (its oldest closed)", kept)
                expect(others == 10, "another address's connections", "all 10 kept", others)
    finally:
        server.stop()


@part("many_descriptors")
def test_health_answers_when_the_connection_cap_is_full():
    if DESCRIPTORS < 1600:
        raise Skipped(f"needs 1,600 descriptors (RLIMIT_NOFILE is {DESCRIPTORS})")
    server = control_server()
    try:
        # 40 addresses of 30 each: no address over its own cap, 1,200 over the endpoint's.
        sources = tuple(f"127.0.1.{index}" for index in range(1, 41))
        with SlowClients(server, 1200, sources=sources, drip=3) as flood:
            time.sleep(1.5)
            expect_health_within_a_second(server, "with 1,200 slow connections from 40 "
                                          "addresses")
            held = flood.count_open()
            print(f"  {held} of 1,200 still open", flush=True)
            expect(held <= MAX_CONNECTIONS + 64, "connections the server holds",
                   f"about {MAX_CONNECTIONS} (the rest evicted)", held)
        expect_health_within_a_second(server, "after the flood closed")
    finally:
        server.stop()


def cpu_seconds(pid):
    """User and system CPU time of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_running_out_of_descriptors_neither_wedges_nor_spins():
    server = control_server()
    pid = server.process.pid
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        # Room for 20 connections more than the server holds now: far below its cap, so the
        # flood makes accept(2) fail with EMFILE. 15 connections per address stay under the
        # per-client cap: only the descriptor limit is in play.
        in_use = open_descriptors(pid)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use + 20, hard))
        sources = tuple(f"127.0.2.{index}" for index in range(1, 21))
        with SlowClients(server, 300, sources=sources, drip=2):
            time.sleep(1.0)
            expect_health_within_a_second(server, "with the descriptors used up")
            expect_health_within_a_second(server, "again, with the descriptors used up")
        expect_health_within_a_second(server, "after the flood closed")

        # No descriptor left at all: a connection waits in the listen queue, but the main
        # loop must not spin on accept(2) failing.
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_descriptors(pid), hard))
        with SlowClients(server, 20, sources=("127.0.2.100",), drip=0):
            started, cpu_before = time.monotonic(), cpu_seconds(pid)
            log_before = server.log.stat().st_size
            time.sleep(2.0)
            share = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - started)
            logged = server.log.stat().st_size - log_before
            print(f"  with no descriptor left: {share * 100:.0f}% of a core, {logged} bytes "
                  "logged in 2 s", flush=True)
            expect(share < 0.15 and logged < 4096, "while accept(2) fails with EMFILE",
                   "no busy loop, no log flood", f"{share * 100:.0f}% of a core, {logged} "
                   "bytes logged")
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (DESCRIPTORS, hard))
        time.sleep(0.3)
        expect_health_within_a_second(server, "once descriptors are back")
        expect(server.is_running(), "the server", "still running", server.log_text())
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(run_tests(globals()))

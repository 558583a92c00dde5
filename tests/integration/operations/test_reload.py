"""Hitless reload through the real binary: SIGHUP re-reads the config and the zones that
changed; a broken zone keeps its previous version; a broken config changes nothing; and 100
reloads alternating between two versions of a zone, under a steady query load, lose no query
while every answer comes from one version or the other."""

import os
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
import dns.message  # noqa: E402

from meridian_harness import Meridian, expect, query, run_tests  # noqa: E402

ORIGIN = "reload.example."


def zone(serial, extra=""):
    return (f"$ORIGIN {ORIGIN}\n$TTL 60\n@ SOA ns1 hostmaster {serial} 7200 3600 1209600 60\n"
            f"@ NS ns1\nns1 A 192.0.2.1\nversion TXT \"v{serial}\"\n{extra}")


def start():
    return Meridian(zones=[("reload.example.zone", ORIGIN), ("example.com.zone", "example.com.")],
                    files={"zones/reload.example.zone": zone(1)}).start()


def zone_path(server):
    return server.tmpdir / "zones" / "reload.example.zone"


def sighup_and_wait(server, timeout=10.0):
    """Sends SIGHUP and waits (bounded) for the reload's summary line; returns the new log."""
    before = server.log_text()
    done = before.count("meridian: reloaded in") + before.count("meridian: reload failed")
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = server.log_text()
        if text.count("meridian: reloaded in") + text.count("meridian: reload failed") > done:
            return text[len(before):]
        time.sleep(0.005)
    raise AssertionError(f"no reload summary within {timeout}s; log:\n{server.log_text()}")


def serial(server):
    reply = query(server.port, ORIGIN, "SOA")
    return reply.answer[0][0].serial


def test_sighup_reloads_the_changed_zone(server):
    zone_path(server).write_text(zone(2))
    log = sighup_and_wait(server)
    expect(serial(server) == 2, "SOA serial after SIGHUP", 2, serial(server))
    expect(f"{ORIGIN} serial 1 -> 2" in log and "1 zone files parsed, 1 unchanged" in log,
           "the reload's log line", "what changed, what was parsed", log)


def test_broken_zone_keeps_its_previous_version(server):
    zone_path(server).write_text(zone(3, "broken A 300.1.2.3\n"))
    log = sighup_and_wait(server)
    expect(f"{zone_path(server)}:7:" in log and "still serving the previous version" in log,
           "log after a broken zone", "file:line of the error and the kept version", log)
    expect(serial(server) == 2, "serial after a broken reload", 2, serial(server))
    zone_path(server).write_text(zone(3))
    sighup_and_wait(server)
    expect(serial(server) == 3, "serial once the zone is fixed", 3, serial(server))


def test_broken_config_changes_nothing(server):
    config = server.config.read_text()
    zone_path(server).write_text(zone(4))
    server.config.write_text(config + "\n[server\n")
    try:
        log = sighup_and_wait(server)
        expect("reload failed" in log and f"{server.config}:" in log, "log after a broken config",
               "the file, the line and 'reload failed'", log)
        expect(serial(server) == 3, "serial after a failed reload", 3, serial(server))
    finally:
        server.config.write_text(config)
    sighup_and_wait(server)
    expect(serial(server) == 4, "serial once the config is fixed", 4, serial(server))


class Prober(threading.Thread):
    """Sends TXT queries for version.reload.example at a steady rate from one socket and
    checks every answer; a query unanswered within a second counts as lost."""

    def __init__(self, port, rate=2000, allowed=()):
        super().__init__(daemon=True)
        self.port, self.interval, self.allowed = port, 1.0 / rate, set(allowed)
        self.sent, self.answered, self.wrong, self.seen = 0, 0, [], set()
        self.stop_event = threading.Event()
        self.outstanding = {}

    def run(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.connect(("127.0.0.1", self.port))
        sock.setblocking(False)
        template = dns.message.make_query(f"version.{ORIGIN}", "TXT").to_wire()
        next_send = time.monotonic()
        query_id = 0
        while not self.stop_event.is_set() or (self.outstanding and
                                               time.monotonic() < self.stop_deadline):
            now = time.monotonic()
            if not self.stop_event.is_set() and now >= next_send:
                query_id = (query_id + 1) & 0xFFFF
                sock.send(struct.pack("!H", query_id) + template[2:])
                self.outstanding[query_id] = now
                self.sent += 1
                next_send += self.interval
            try:
                while True:
                    data = sock.recv(4096)
                    (reply_id,) = struct.unpack("!H", data[:2])
                    if self.outstanding.pop(reply_id, None) is None:
                        continue
                    self.answered += 1
                    text = dns.message.from_wire(data).answer[0][0].strings[0].decode()
                    self.seen.add(text)
                    if text not in self.allowed:
                        self.wrong.append(text)
            except BlockingIOError:
                pass
            time.sleep(min(self.interval / 2, 0.0005))
        sock.close()

    def finish(self):
        self.stop_deadline = time.monotonic() + 2.0
        self.stop_event.set()
        self.join(timeout=5)


def test_reloads_under_load_lose_no_query(server):
    current = serial(server)
    a, b = current + 1, current + 2
    prober = Prober(server.port, allowed={f"v{current}", f"v{a}", f"v{b}"})
    prober.start()
    started = time.monotonic()
    try:
        for i in range(100):
            zone_path(server).write_text(zone(a if i % 2 == 0 else b))
            log = sighup_and_wait(server)
            expect("reloaded in" in log, f"reload {i + 1}", "a reload", log)
            time.sleep(0.02)  # spread the reloads over a few seconds of load
    finally:
        prober.finish()
    elapsed = time.monotonic() - started
    lost = prober.sent - prober.answered
    print(f"    {prober.sent} queries over {elapsed:.1f} s and 100 reloads: "
          f"{prober.answered} answered, {lost} lost, {len(prober.wrong)} from neither version")
    expect(prober.sent > 1000, "queries sent during the reloads", "> 1000", prober.sent)
    expect(lost == 0, "queries lost during 100 reloads", 0, lost)
    expect(not prober.wrong, "answers from neither version", "none", prober.wrong[:5])
    expect({f"v{a}", f"v{b}"} <= prober.seen, "versions seen by the prober", "both",
           sorted(prober.seen))
    expect(serial(server) == b, "serial after the last reload", b, serial(server))


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup=start, teardown=lambda s: s.stop()))

"""How Meridian as a secondary copes with what a primary may send, against a scripted primary
(dnspython on loopback): IXFR refused -> AXFR; the whole zone in answer to IXFR; differences
that do not apply -> AXFR; a transfer cut off midway changes nothing. Every wait is bounded."""

import os
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dns.message  # noqa: E402
import dns.opcode  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.rrset  # noqa: E402

from meridian_harness import (  # noqa: E402
    LOOPBACK, Meridian, expect, free_port, query, run_meridian, run_tests)

ORIGIN = "scripted.example."


def version(serial):
    """The zone at `serial`: www's address follows the serial."""
    return [dns.rrset.from_text(ORIGIN, 60, "IN", "SOA",
                                f"ns1.{ORIGIN} hostmaster.{ORIGIN} {serial} 3600 600 1209600 60"),
            dns.rrset.from_text(ORIGIN, 60, "IN", "NS", f"ns1.{ORIGIN}"),
            dns.rrset.from_text("ns1." + ORIGIN, 60, "IN", "A", "192.0.2.1"),
            dns.rrset.from_text("www." + ORIGIN, 60, "IN", "A", f"192.0.2.{serial}")]


class ScriptedPrimary:
    """UDP SOA answers and TCP transfers on one free loopback port, in a thread. `mode` says
    how the next IXFR is answered: "ixfr", "refuse", "whole", "bad_delete", "cut"."""

    def __init__(self):
        self.port = free_port()
        self.serial = 1
        self.mode = "ixfr"
        self.requests = []  # "SOA", "IXFR", "AXFR" in the order received
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((LOOPBACK, self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((LOOPBACK, self.port))
        self.tcp.listen(8)
        self.stopping = False
        self.threads = [threading.Thread(target=self.serve_udp, daemon=True),
                        threading.Thread(target=self.serve_tcp, daemon=True)]
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping = True
        self.udp.close()
        self.tcp.close()

    def serve_udp(self):
        while not self.stopping:
            try:
                data, client = self.udp.recvfrom(65535)
            except OSError:
                return
            request = dns.message.from_wire(data)
            self.requests.append("SOA")
            response = dns.message.make_response(request)
            response.flags |= dns.flags.AA
            response.answer.append(version(self.serial)[0])
            self.udp.sendto(response.to_wire(), client)

    def serve_tcp(self):
        while not self.stopping:
            try:
                connection, _ = self.tcp.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                try:
                    length = struct.unpack("!H", connection.recv(2))[0]
                    data = b""
                    while len(data) < length:
                        data += connection.recv(length - len(data))
                    self.transfer(connection, dns.message.from_wire(data))
                except (OSError, struct.error):
                    pass

    def send(self, connection, response):
        wire = response.to_wire()
        connection.sendall(struct.pack("!H", len(wire)) + wire)

    def transfer(self, connection, request):
        qtype = request.question[0].rdtype
        self.requests.append(dns.rdatatype.to_text(qtype))
        response = dns.message.make_response(request)
        response.flags |= dns.flags.AA
        new = version(self.serial)
        if qtype == dns.rdatatype.IXFR and self.mode == "refuse":
            response.set_rcode(dns.rcode.NOTIMP)
            self.send(connection, response)
            return
        if qtype == dns.rdatatype.IXFR and self.mode in ("ixfr", "bad_delete"):
            theirs = request.authority[0][0].serial
            old = version(theirs)
            deleted = old[3] if self.mode == "ixfr" else dns.rrset.from_text(
                "www." + ORIGIN, 60, "IN", "A", "203.0.113.1")  # a record they never had
            response.answer = [new[0], old[0], deleted, new[0], new[3], new[0]]
            self.send(connection, response)
            return
        if self.mode == "cut":
            response.answer = new[:3]  # no closing SOA, and the connection closes
            self.send(connection, response)
            return
        response.answer = new + [new[0]]  # AXFR, or AXFR-style IXFR ("whole")
        self.send(connection, response)


def serial_of(server):
    try:
        reply = query(server.port, ORIGIN, "SOA", timeout=1.0)
    except dns.exception.Timeout:
        return None
    return reply.answer[0][0].serial if reply.rcode() == 0 and reply.answer else None


def www_of(server):
    reply = query(server.port, "www." + ORIGIN, "A", timeout=1.0)
    return reply.answer[0][0].address if reply.answer else None


def wait_for(what, condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def notify(server):
    message = dns.message.make_query(ORIGIN, "SOA")
    message.set_opcode(dns.opcode.NOTIFY)
    reply = dns.query.udp(message, LOOPBACK, port=server.port, timeout=2.0)
    expect(reply.rcode() == dns.rcode.NOERROR, "NOTIFY from the primary's address", "NOERROR",
           reply)


def change(context, serial, mode):
    primary, meridian = context["primary"], context["meridian"]
    primary.serial, primary.mode = serial, mode
    before = len(meridian.log_text())
    notify(meridian)
    return before


def setup():
    primary = ScriptedPrimary()
    meridian = Meridian(zones=[], extra_config=f'''[[zone]]
origin = "{ORIGIN}"
primaries = ["{LOOPBACK}:{primary.port}"]
file = "cache/scripted.example.zone"
''')
    meridian.start()
    wait_for("the first AXFR", lambda: serial_of(meridian) == 1)
    return {"primary": primary, "meridian": meridian, "context": None}


def teardown(context):
    if context:
        context["meridian"].stop()
        context["primary"].stop()


def test_plain_ixfr_applies_the_differences(meridian, primary):
    context = {"primary": primary, "meridian": meridian}
    start = change(context, 2, "ixfr")
    wait_for("serial 2", lambda: serial_of(meridian) == 2)
    log = meridian.log_text()[start:]
    expect("IXFR from" in log and "serial 1 -> 2" in log, "the log", "an IXFR line", log)
    expect(www_of(meridian) == "192.0.2.2", "www after the IXFR", "192.0.2.2", www_of(meridian))


def test_refused_ixfr_falls_back_to_axfr(meridian, primary):
    start = change({"primary": primary, "meridian": meridian}, 3, "refuse")
    wait_for("serial 3", lambda: serial_of(meridian) == 3)
    log = meridian.log_text()[start:]
    expect("AXFR from" in log and "IXFR answered NOTIMPL, trying AXFR" in log,
           "the log", "a fallback to AXFR", log)
    expect(www_of(meridian) == "192.0.2.3", "www", "192.0.2.3", www_of(meridian))


def test_whole_zone_in_answer_to_ixfr_is_taken(meridian, primary):
    start = change({"primary": primary, "meridian": meridian}, 4, "whole")
    wait_for("serial 4", lambda: serial_of(meridian) == 4)
    log = meridian.log_text()[start:]
    expect("AXFR-style IXFR from" in log, "the log", "an AXFR-style IXFR", log)


def test_differences_that_do_not_apply_fall_back_to_axfr(meridian, primary):
    start = change({"primary": primary, "meridian": meridian}, 5, "bad_delete")
    wait_for("serial 5", lambda: serial_of(meridian) == 5)
    log = meridian.log_text()[start:]
    expect("does not have" in log and "falling back to AXFR" in log and "AXFR from" in log,
           "the log", "the cause, then an AXFR", log)
    expect(www_of(meridian) == "192.0.2.5", "www", "192.0.2.5", www_of(meridian))


def test_transfer_cut_off_midway_changes_nothing(meridian, primary):
    start = change({"primary": primary, "meridian": meridian}, 6, "cut")
    wait_for("the failed refresh", lambda: "refresh failed, nothing changed" in
             meridian.log_text()[start:])
    log = meridian.log_text()[start:]
    expect("closed the connection mid-transfer" in log, "the cause", "a closed connection", log)
    expect(serial_of(meridian) == 5 and www_of(meridian) == "192.0.2.5",
           "still the previous version", "serial 5", serial_of(meridian))
    kept = (meridian.tmpdir / "cache" / "scripted.example.zone").read_text()
    expect("192.0.2.5" in kept and "192.0.2.6" not in kept, "the kept copy", "version 5", kept)


def test_reload_leaves_secondary_changes_for_a_restart(meridian, primary):
    meridian.extra_config += f'''
[[zone]]
origin = "added.example."
primaries = ["{LOOPBACK}:{primary.port}"]
file = "cache/added.example.zone"
'''
    meridian.write_config()
    before = len(meridian.log_text())
    os.kill(meridian.process.pid, signal.SIGHUP)
    wait_for("the reload", lambda: "reloaded in" in meridian.log_text()[before:])
    log = meridian.log_text()[before:]
    expect("changes to secondary zones" in log and "take effect on restart" in log,
           "the reload's log", "a note that the change waits for a restart", log)
    reply = query(meridian.port, "www.added.example.", "A", timeout=1.0)
    expect(reply.rcode() == dns.rcode.SERVFAIL, "the new zone until a restart", "SERVFAIL",
           reply)
    expect(serial_of(meridian) == 5, "the running secondary zone", 5, serial_of(meridian))


def test_check_validates_secondary_zones(meridian):
    good = meridian.tmpdir / "check-good.toml"
    good.write_text(f'''[server]
listen = ["{LOOPBACK}:5399"]

[[zone]]
origin = "other.example."
primaries = ["192.0.2.1"]
file = "cache/never-transferred.zone"
''')
    result = run_meridian("check", "--config", good)
    expect(result.returncode == 0 and "SERVFAIL until it is transferred" in result.stderr,
           "check of a secondary zone without a copy", "ok, with a warning",
           result.stdout + result.stderr)
    bad = meridian.tmpdir / "check-bad.toml"
    bad.write_text(f'''[server]
listen = ["{LOOPBACK}:5399"]

[[zone]]
origin = "other.example."
primaries = ["192.0.2.1:53", "nowhere:53"]
tsig = "missing-key"
file = "cache/other.zone"
''')
    result = run_meridian("check", "--config", bad)
    expect(result.returncode == 1 and f"{bad}:6: bad primary address 'nowhere:53'" in result.stderr
           and f"{bad}:7: unknown TSIG key 'missing-key'" in result.stderr,
           "check of a broken secondary zone", "both errors at their lines", result.stderr)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup=setup, teardown=teardown))

"""How Meridian as a secondary copes with what a primary may send, against a scripted primary
(dnspython on loopback): IXFR refused -> AXFR; the whole zone in answer to IXFR; differences
that do not apply -> AXFR; a transfer cut off midway changes nothing; reloads that add a
secondary zone, move it to another primary, remove it, or fail to load; a copy that cannot be
written is an error in the log, /metrics and `ctl status`; a transfer or a zone file beyond
max_zone_records is refused and the previous version kept. Every wait is bounded."""

import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
import dns.message  # noqa: E402
import dns.opcode  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.rrset  # noqa: E402

from meridian_harness import (  # noqa: E402
    LOOPBACK, Meridian, expect, free_port, query, run_meridian, run_tests, wait_for_value,
    zone_file)

ORIGIN = "scripted.example."
ADDED = "added.example."  # the zone the reload tests add, move and remove
SLOW_SECONDS = 1.5


def version(serial, origin=ORIGIN, extra=0):
    """The zone at `serial`: www's address follows the serial; `extra` records more."""
    return [dns.rrset.from_text(origin, 60, "IN", "SOA",
                                f"ns1.{origin} hostmaster.{origin} {serial} 3600 600 1209600 60"),
            dns.rrset.from_text(origin, 60, "IN", "NS", f"ns1.{origin}"),
            dns.rrset.from_text("ns1." + origin, 60, "IN", "A", "192.0.2.1"),
            dns.rrset.from_text("www." + origin, 60, "IN", "A", f"192.0.2.{serial}")] + \
        [dns.rrset.from_text(f"extra{i}." + origin, 60, "IN", "A", "192.0.2.99")
         for i in range(extra)]


class ScriptedPrimary:
    """UDP SOA answers and TCP transfers on one free loopback port, in a thread. `mode` says
    how the next IXFR is answered: "ixfr", "refuse", "whole", "bad_delete", "cut"; "slow"
answers every transfer as AXFR after SLOW_SECONDS."""

    def __init__(self):
        self.port = free_port()
        self.serial = 1
        self.mode = "ixfr"
        self.extra = 0  # records beyond the usual four in each version sent
        self.requests = []  # "SOA", "IXFR", "AXFR" in the order received
        self.asked = []  # (request, zone) in the order received
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
            origin = request.question[0].name.to_text()
            self.requests.append("SOA")
            self.asked.append(("SOA", origin))
            response = dns.message.make_response(request)
            response.flags |= dns.flags.AA
            response.answer.append(version(self.serial, origin)[0])
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
        origin = request.question[0].name.to_text()
        self.requests.append(dns.rdatatype.to_text(qtype))
        self.asked.append((dns.rdatatype.to_text(qtype), origin))
        response = dns.message.make_response(request)
        response.flags |= dns.flags.AA
        new = version(self.serial, origin, self.extra)
        if self.mode == "slow":
            time.sleep(SLOW_SECONDS)
        if qtype == dns.rdatatype.IXFR and self.mode == "refuse":
            response.set_rcode(dns.rcode.NOTIMP)
            self.send(connection, response)
            return
        if qtype == dns.rdatatype.IXFR and self.mode in ("ixfr", "bad_delete"):
            theirs = request.authority[0][0].serial
            old = version(theirs, origin)
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


def serial_of(server, origin=ORIGIN):
    try:
        reply = query(server.port, origin, "SOA", timeout=1.0)
    except dns.exception.Timeout:
        return None
    return reply.answer[0][0].serial if reply.rcode() == 0 and reply.answer else None


def www_of(server, origin=ORIGIN):
    reply = query(server.port, "www." + origin, "A", timeout=1.0)
    return reply.answer[0][0].address if reply.answer else None


def wait_for(what, condition, timeout=15.0):
    return wait_for_value(what, condition, timeout)


def notify_reply(server, origin=ORIGIN):
    message = dns.message.make_query(origin, "SOA")
    message.set_opcode(dns.opcode.NOTIFY)
    return dns.query.udp(message, LOOPBACK, port=server.port, timeout=2.0)


def notify(server):
    reply = notify_reply(server)
    expect(reply.rcode() == dns.rcode.NOERROR, "NOTIFY from the primary's address", "NOERROR",
           reply)


def change(context, serial, mode):
    primary, meridian = context["primary"], context["meridian"]
    primary.serial, primary.mode = serial, mode
    before = len(meridian.log_text())
    notify(meridian)
    return before


def secondary_zone(origin, port, file):
    return f'''
[[zone]]
origin = "{origin}"
primaries = ["{LOOPBACK}:{port}"]
file = "{file}"
'''


def reload_with(meridian, extra_config, expected):
    """Rewrites the config with `extra_config`, sends SIGHUP, waits for `expected` in the log
    and returns the log since the SIGHUP."""
    meridian.extra_config = extra_config
    meridian.write_config()
    before = len(meridian.log_text())
    os.kill(meridian.process.pid, signal.SIGHUP)
    wait_for(repr(expected), lambda: expected in meridian.log_text()[before:])
    return meridian.log_text()[before:]


def setup():
    primary = ScriptedPrimary()
    meridian = Meridian(zones=[], extra_config=secondary_zone(
        ORIGIN, primary.port, "cache/scripted.example.zone"))
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


def test_reload_adds_a_secondary_zone(meridian, primary):
    primary.mode = "ixfr"
    first = secondary_zone(ORIGIN, primary.port, "cache/scripted.example.zone")
    log = reload_with(meridian, first + secondary_zone(ADDED, primary.port,
                                                      "cache/added.example.zone"),
                      f"secondary {ADDED}: added by reload")
    wait_for("the added zone's first transfer",
             lambda: serial_of(meridian, ADDED) == primary.serial)
    expect(www_of(meridian, ADDED) == f"192.0.2.{primary.serial}", "www in the added zone",
           f"192.0.2.{primary.serial}", www_of(meridian, ADDED))
    expect(("AXFR", ADDED) in primary.asked, "the primary's requests", f"an AXFR of {ADDED}",
           primary.asked)
    kept = meridian.tmpdir / "cache" / "added.example.zone"
    wait_for("the added zone's kept copy", kept.exists)
    expect(serial_of(meridian) == 5, "the secondary zone that was there", 5, serial_of(meridian))
    expect("take effect on restart" not in log, "the reload's log", "no restart note", log)


def test_reload_moves_a_secondary_zone_to_another_primary(meridian, primary):
    second = ScriptedPrimary()
    try:
        second.serial = 20
        before = len(primary.asked)
        first = secondary_zone(ORIGIN, primary.port, "cache/scripted.example.zone")
        log = reload_with(meridian, first + secondary_zone(ADDED, second.port,
                                                          "cache/added.example.zone"),
                          f"secondary {ADDED}: reload changed its primaries; refreshing now")
        wait_for("the transfer from the new primary", lambda: serial_of(meridian, ADDED) == 20)
        expect(("SOA", ADDED) in second.asked and ("IXFR", ADDED) in second.asked,
               "the new primary's requests", f"an SOA query and an IXFR of {ADDED}", second.asked)
        expect((ADDED not in [name for _, name in primary.asked[before:]]),
               "the old primary's requests since", f"none for {ADDED}", primary.asked[before:])
        log = meridian.log_text()
        expect(f"from {LOOPBACK}:{second.port}, serial {primary.serial} -> 20" in log,
               "the log", "the transfer from the new primary", log[-2000:])
        expect(www_of(meridian, ADDED) == "192.0.2.20", "www in the moved zone", "192.0.2.20",
               www_of(meridian, ADDED))
    finally:
        second.stop()


def test_reload_removes_a_secondary_zone(meridian, primary):
    reload_with(meridian, secondary_zone(ORIGIN, primary.port, "cache/scripted.example.zone"),
                f"secondary {ADDED}: removed by reload")
    reply = query(meridian.port, "www." + ADDED, "A", timeout=1.0)
    expect(reply.rcode() == dns.rcode.REFUSED, "a query for the removed zone", "REFUSED", reply)
    reply = notify_reply(meridian, ADDED)
    expect(reply.rcode() == dns.rcode.REFUSED, "a NOTIFY for the removed zone", "REFUSED", reply)
    expect(f"NOTIFY for {ADDED} from {LOOPBACK} refused: not a secondary zone here"
           in meridian.log_text(), "the log", "the refused NOTIFY", meridian.log_text()[-2000:])
    asked = len(primary.asked)
    time.sleep(0.5)  # a refresh the NOTIFY wrongly started would have asked by now
    expect(ADDED not in [name for _, name in primary.asked[asked:]], "the primary's requests",
           f"none for {ADDED}", primary.asked[asked:])
    expect(serial_of(meridian) == 5, "the secondary zone that stays", 5, serial_of(meridian))


def add_and_begin_transfer(meridian, primary, first, cache_file):
    """Reloads with ADDED (from `primary`, kept in `cache_file`) after the zones `first`, and
    waits for its transfer to begin."""
    asked = len(primary.asked)
    reload_with(meridian, first + secondary_zone(ADDED, primary.port, cache_file),
                f"secondary {ADDED}: added by reload")
    wait_for("the transfer to begin",
             lambda: ("AXFR", ADDED) in primary.asked[asked:], timeout=5.0)


def test_reload_removing_a_zone_mid_transfer_drops_the_transfer(meridian, primary):
    first = secondary_zone(ORIGIN, primary.port, "cache/scripted.example.zone")
    kept = meridian.tmpdir / "cache" / "in-flight.example.zone"
    primary.mode = "slow"
    try:
        add_and_begin_transfer(meridian, primary, first, "cache/in-flight.example.zone")
        log = reload_with(meridian, first, f"secondary {ADDED}: removed by reload")
        expect("the transfer in progress will be dropped" in log, "the reload's log",
               "the transfer in flight named", log)
        start = len(meridian.log_text())
        time.sleep(SLOW_SECONDS + 1.0)  # the primary has answered and the result came back
    finally:
        primary.mode = "ixfr"
    log = meridian.log_text()[start:]
    expect(f"secondary {ADDED}" not in log and not kept.exists(),
           "after the dropped transfer", "nothing logged, published or written", log)
    reply = query(meridian.port, "www." + ADDED, "A", timeout=1.0)
    expect(reply.rcode() == dns.rcode.REFUSED, "a query for the removed zone", "REFUSED", reply)
    expect(serial_of(meridian) == 5, "the secondary zone that stays", 5, serial_of(meridian))


def test_reload_changing_primaries_mid_transfer_drops_it_and_asks_the_new_one(meridian,
                                                                            primary):
    first = secondary_zone(ORIGIN, primary.port, "cache/scripted.example.zone")
    second = ScriptedPrimary()
    primary.mode = "slow"
    try:
        second.serial = 30
        add_and_begin_transfer(meridian, primary, first, "cache/moved.example.zone")
        start = len(meridian.log_text())
        reload_with(meridian, first + secondary_zone(ADDED, second.port,
                                                    "cache/moved.example.zone"),
                    f"secondary {ADDED}: reload changed its primaries; refreshing now")
        wait_for("serial 30 from the new primary", lambda: serial_of(meridian, ADDED) == 30)
        log = meridian.log_text()[start:]
        expect("dropped, a reload changed the zone's primaries or key meanwhile" in log
               and f"AXFR from {LOOPBACK}:{second.port}, serial 30" in log
               and f"AXFR from {LOOPBACK}:{primary.port}" not in log,
               "the log", "the old transfer dropped, then one from the new primary", log)
        kept = (meridian.tmpdir / "cache" / "moved.example.zone").read_text()
        expect("192.0.2.30" in kept, "the kept copy", "serial 30 from the new primary", kept)
    finally:
        primary.mode = "ixfr"
        second.stop()
    reload_with(meridian, first, f"secondary {ADDED}: removed by reload")


def test_broken_config_on_reload_keeps_the_secondary_zones(meridian, primary):
    good = meridian.extra_config
    try:
        # The broken config drops the zone that is served and adds one that cannot load.
        reload_with(meridian, f'''
[[zone]]
origin = "{ADDED}"
primaries = ["nowhere:53"]
file = "cache/added.example.zone"
''', "reload failed")
        expect(serial_of(meridian) == 5, "the secondary zone after the failed reload", 5,
               serial_of(meridian))
        reply = query(meridian.port, "www." + ADDED, "A", timeout=1.0)
        expect(reply.rcode() == dns.rcode.REFUSED, "the zone the broken config named",
               "REFUSED", reply)
        # Its NOTIFY is still accepted and its primary still asked; the new version waits
        # for a config that loads, since publishing it is a reload.
        start = len(meridian.log_text())
        primary.serial = 7
        notify(meridian)
        wait_for("the refresh after the failed reload", lambda: "serial 5 -> 7" in
                 meridian.log_text()[start:])
        expect(f"{ORIGIN} (NOTIFY from {LOOPBACK}): IXFR from {LOOPBACK}:{primary.port}"
               in meridian.log_text()[start:] and "removed by reload" not in
               meridian.log_text()[start:], "the log", "an IXFR from the first primary",
               meridian.log_text()[start:])
        expect(serial_of(meridian) == 5, "while the config is broken", 5, serial_of(meridian))
        reload_with(meridian, good, "reloaded in")
        wait_for("serial 7 once the config loads", lambda: serial_of(meridian) == 7)
    finally:
        if meridian.extra_config != good:
            meridian.extra_config = good
            meridian.write_config()


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


def with_control(origin, port, file, more=""):
    """A server following `origin` from `port`, kept in `file`, with [control]: HTTP on a free
    port and a control socket in its folder."""
    http_port = free_port()
    server = Meridian(zones=[], extra_config=secondary_zone(origin, port, file) + more +
                      f'\n[control]\nhttp = "{LOOPBACK}:{http_port}"\nsocket = "control.sock"\n')
    server.http_port = http_port
    return server


def metrics_of(server):
    with urllib.request.urlopen(f"http://{LOOPBACK}:{server.http_port}/metrics",
                                timeout=5) as response:
        return response.read().decode()


def test_a_copy_that_cannot_be_written_is_an_error_in_the_log_metrics_and_status():
    primary = ScriptedPrimary()
    # A file where the copy's folder should be: a write fails there even as root.
    server = with_control(ORIGIN, primary.port, "blocked/scripted.example.zone")
    (server.tmpdir / "blocked").write_text("a file, not a folder\n")
    try:
        server.start()
        wait_for("the first AXFR", lambda: serial_of(server) == 1)
        # Served all the same: the primary's data beats a fault of the local disk.
        wait_for("the error in the log", lambda: "ERROR: the copy was not kept on disk" in
                 server.log_text())
        log = server.log_text()
        expect(f"secondary {ORIGIN} (start, no copy yet): ERROR: the copy was not kept on disk "
               f"(cannot create {server.tmpdir / 'blocked'}" in log, "the log",
               "the error naming the folder", log)
        metrics = metrics_of(server)
        expect("meridian_secondary_copy_write_failures_total 1\n" in metrics and
               f'meridian_secondary_copy_failing{{zone="{ORIGIN}"}} 1\n' in metrics,
               "/metrics", "one failed write, the zone failing",
               "\n".join(line for line in metrics.splitlines() if "copy" in line))
        status = run_meridian("ctl", "--socket", server.tmpdir / "control.sock", "status")
        expect(status.returncode == 0 and re.search(
               rf"^copy error +{re.escape(ORIGIN)} not kept on disk: cannot create "
               rf"{re.escape(str(server.tmpdir / 'blocked'))}", status.stdout, re.MULTILINE),
               "ctl status", "a copy error row", status.stdout + status.stderr)

        # Once the folder can be made, the next transfer writes the copy and the error clears.
        (server.tmpdir / "blocked").unlink()
        primary.serial, primary.mode = 2, "whole"
        notify(server)
        wait_for("serial 2", lambda: serial_of(server) == 2)
        kept = server.tmpdir / "blocked" / "scripted.example.zone"
        wait_for("the copy on disk", kept.exists)
        metrics = metrics_of(server)
        expect("meridian_secondary_copy_write_failures_total 1\n" in metrics and
               "meridian_secondary_copy_failing{" not in metrics, "/metrics after the fix",
               "the count kept, no zone failing", metrics)
        status = run_meridian("ctl", "--socket", server.tmpdir / "control.sock", "status")
        expect("copy error" not in status.stdout, "ctl status after the fix", "no copy error",
               status.stdout)
    finally:
        server.stop()
        primary.stop()


def test_a_transfer_beyond_max_zone_records_is_refused_and_the_previous_version_kept():
    primary = ScriptedPrimary()
    server = Meridian(zones=[], extra_config=secondary_zone(
        ORIGIN, primary.port, "cache/scripted.example.zone") + "max_zone_records = 4\n")
    try:
        server.start()
        wait_for("the first AXFR", lambda: serial_of(server) == 1)  # four records
        primary.serial, primary.mode = 2, "whole"
        primary.extra = 1  # one record more: five
        start = len(server.log_text())
        notify(server)
        wait_for("the refused transfer", lambda: "refresh failed, nothing changed" in
                 server.log_text()[start:])
        log = server.log_text()[start:]
        expect("more records than max_zone_records (4)" in log, "the log",
               "the limit named", log)
        expect(serial_of(server) == 1 and www_of(server) == "192.0.2.1",
               "what is served", "still serial 1", serial_of(server))
        kept = (server.tmpdir / "cache" / "scripted.example.zone").read_text()
        expect("192.0.2.1" in kept and "extra" not in kept, "the kept copy", "serial 1", kept)
    finally:
        server.stop()
        primary.stop()


def test_check_refuses_a_zone_file_beyond_max_zone_records(meridian):
    config = meridian.tmpdir / "check-limit.toml"
    (meridian.tmpdir / "big.example.zone").write_text(
        zone_file("big.example.", "a A 192.0.2.2\nb A 192.0.2.3\n"))  # five records
    config.write_text(f'''[server]
listen = ["{LOOPBACK}:5399"]

[[zone]]
file = "big.example.zone"
max_zone_records = 4
''')
    result = run_meridian("check", "--config", config)
    expect(result.returncode == 1 and
           f"{config}:6: {meridian.tmpdir / 'big.example.zone'} holds 5 records of big.example., "
           "more than max_zone_records (4)" in result.stderr,
           "check of a zone file beyond its limit", "exit 1, the error at the limit's line",
           result.stderr)
    config.write_text(config.read_text().replace("max_zone_records = 4", "max_zone_records = 5"))
    result = run_meridian("check", "--config", config)
    expect(result.returncode == 0, "check within the limit", "exit 0", result.stderr)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup=setup, teardown=teardown))

"""Transfers out with Knot DNS (Debian's knotd 3.2) as a secondary of Meridian: Knot AXFRs the
zone with TSIG; after the zone file changes and SIGHUP, Meridian sends NOTIFY and Knot follows
with IXFR, and its copy matches Meridian's. A transfer without TSIG, with a wrong secret or an
unknown key, from an address outside the ACL, or AXFR over UDP, is refused; IXFR over UDP gets
the SOA alone; an IXFR from an older serial gets the differences in RFC 1995 order."""

import base64
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import shutil
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
import dns.message  # noqa: E402
import dns.opcode  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.tsig  # noqa: E402
import dns.tsigkeyring  # noqa: E402

from meridian_harness import (  # noqa: E402
    LOOPBACK, Knot, Meridian, expect, free_port, poll, query, require_program, read_frame,
    run_tests, toml_string, toml_table, udp_raw)

ORIGIN = "xfr.test."
KEY_NAME = "transfer-key"
SECRET = base64.b64encode(bytes(range(7, 39))).decode()
WRONG_SECRET = base64.b64encode(b"not the shared secret at all!!!").decode()
WAIT = 20.0  # seconds any one step may take, at most


def zone(serial, records):
    return (f"$ORIGIN {ORIGIN}\n$TTL 300\n"
            f"@ SOA ns1 hostmaster {serial} 3600 600 86400 300\n@ NS ns1\n"
            f"ns1 A 192.0.2.1\n{records}")


VERSION_1 = "www A 192.0.2.10\nold TXT \"removed in 2\"\nmail MX 10 mx1\nmx1 A 192.0.2.25\n"
VERSION_2 = "www A 192.0.2.20\nnew TXT \"added in 2\"\nmail MX 10 mx1\nmx1 A 192.0.2.25\n"
VERSION_3 = "www A 192.0.2.20\nnew TXT \"added in 2\"\nmail MX 20 mx1\nmx1 A 192.0.2.25\n"


class KnotSecondary(Knot):
    """knotd following Meridian for ORIGIN: `master:` with the TSIG key, NOTIFY accepted from
    Meridian with the key, the journal kept (IXFR), the zone never written to a file."""

    def __init__(self, primary_port, port):
        self.binary = require_program("knotd")
        self.port = port
        self.primary_port = primary_port
        self.server_lines = []
        self.tmpdir = Path(tempfile.mkdtemp(prefix="meridian-knot2-"))
        for folder in ("run", "storage", "zones"):
            (self.tmpdir / folder).mkdir()
        self.config = self.tmpdir / "knot.conf"
        self.log = self.tmpdir / "knot.log"
        self.process = None

    def config_text(self):
        return self.server_sections() + self.tsig_sections(KEY_NAME, SECRET,
                                                           self.primary_port) + f"""acl:
  - id: notify_from_meridian
    address: {LOOPBACK}
    key: {KEY_NAME}
    action: notify
  - id: transfer_to_test
    address: {LOOPBACK}
    action: transfer
template:
  - id: default
    storage: {self.tmpdir / 'zones'}
    zonefile-sync: -1
    zonefile-load: none
    journal-content: changes
    semantic-checks: off
zone:
  - domain: {ORIGIN}
    master: meridian
    acl: [notify_from_meridian, transfer_to_test]
"""

    def start(self):
        self.launch()
        return self


def tsig_table(name=KEY_NAME):
    """Meridian's [[tsig]] table for the key `name` with SECRET."""
    return toml_table("tsig", name=name, algorithm="hmac-sha256", secret=SECRET)


def kdig_axfr(port, *options):
    """kdig's whole output, stderr too: it reports a refused transfer there."""
    args = [shutil.which("kdig") or "/usr/bin/kdig", f"@{LOOPBACK}", "-p", str(port),
            "+timeout=2", "+retry=0", *options, ORIGIN, "AXFR"]
    completed = subprocess.run(args, capture_output=True, text=True, timeout=15,
                               stdin=subprocess.DEVNULL)
    return completed.stdout + completed.stderr


def keyring(secret=SECRET, name=KEY_NAME):
    return dns.tsigkeyring.from_text({name: ("hmac-sha256", secret)})


def soa_serial(port):
    """Knot's or Meridian's serial for ORIGIN, or None while it has none."""
    try:
        reply = query(port, ORIGIN, "SOA", timeout=0.5)
    except Exception:  # noqa: BLE001 -- not answering yet
        return None
    if reply.rcode() != dns.rcode.NOERROR or not reply.answer:
        return None
    return reply.answer[0][0].serial


def wait_for(what, condition, logs):
    if poll(condition, WAIT, 0.1):
        return
    raise AssertionError(f"{what} within {WAIT}s; logs:\n" + "\n".join(log() for log in logs))


def axfr_records(port):
    """{(owner, type, rdata text)} of a whole-zone transfer from `port` (unsigned)."""
    message = dns.message.make_query(ORIGIN, "AXFR")
    records = set()
    for reply in dns.query.xfr(LOOPBACK, ORIGIN, port=port, lifetime=5):
        for rrset in reply.answer:
            for rdata in rrset:
                records.add((str(rrset.name), rrset.ttl, dns.rdatatype.to_text(rrset.rdtype),
                             rdata.to_text()))
    del message
    return records


def meridian_records(server):
    """The same set, as Meridian serves it (signed AXFR from the allowed address)."""
    records = set()
    for reply in dns.query.xfr(LOOPBACK, ORIGIN, port=server.port, keyring=keyring(),
                               keyname=KEY_NAME, lifetime=5):
        for rrset in reply.answer:
            for rdata in rrset:
                records.add((str(rrset.name), rrset.ttl, dns.rdatatype.to_text(rrset.rdtype),
                             rdata.to_text()))
    return records


def setup():
    require_program("knotd")
    require_program("kdig")
    knot_port = free_port()
    extra = tsig_table() + "\n" + tsig_table("other-key") + f"""
[[zone]]
file = "zones/xfr.test.zone"
origin = "{ORIGIN}"
allow_transfer = [{{ address = "127.0.0.1/32", key = "{KEY_NAME}" }}]
notify = [{{ address = {toml_string(f"{LOOPBACK}:{knot_port}")}, key = "{KEY_NAME}" }}]
"""
    meridian = Meridian(zones=[], extra_config=extra,
                        files={"zones/xfr.test.zone": zone(1, VERSION_1)}).start()
    knot = KnotSecondary(meridian.port, knot_port).start()
    return {"meridian": meridian, "knot": knot}


def teardown(context):
    if context:
        for server in context.values():
            server.stop()


def reload_with(meridian, serial, records):
    path = meridian.tmpdir / "zones" / "xfr.test.zone"
    before = meridian.log_text().count("meridian: reloaded in")
    path.write_text(zone(serial, records))
    # The zone cache compares mtime and size: make sure a same-second edit still shows.
    stamp = time.time() + serial
    os.utime(path, (stamp, stamp))
    os.kill(meridian.process.pid, signal.SIGHUP)
    wait_for("a reload summary", lambda: meridian.log_text().count("meridian: reloaded in") > before,
             [meridian.log_text])


def test_knot_transfers_the_zone_with_tsig(meridian, knot):
    wait_for("Knot serving serial 1", lambda: soa_serial(knot.port) == 1,
             [meridian.log_text, knot.log_text])
    expect(f"AXFR {ORIGIN} serial 1 to 127.0.0.1 key {KEY_NAME}." in meridian.log_text(),
           "Meridian logged the signed AXFR to Knot", "an AXFR log line", meridian.log_text())
    expect(axfr_records(knot.port) == meridian_records(meridian), "Knot's copy",
           meridian_records(meridian), axfr_records(knot.port))


def test_reload_notifies_knot_which_follows_with_ixfr(meridian, knot):
    wait_for("Knot serving serial 1", lambda: soa_serial(knot.port) == 1,
             [meridian.log_text, knot.log_text])
    reload_with(meridian, 2, VERSION_2)
    wait_for("Knot serving serial 2", lambda: soa_serial(knot.port) == 2,
             [meridian.log_text, knot.log_text])
    log = meridian.log_text()
    expect(f"NOTIFY {ORIGIN} serial 2 to {LOOPBACK}:{knot.port} answered (rcode 0)" in log,
           "Meridian's NOTIFY answered by Knot", "a NOTIFY log line", log)
    expect(f"IXFR {ORIGIN} to 127.0.0.1 key {KEY_NAME}.: serial 1 -> 2 in 1 difference" in log,
           "Meridian served an IXFR", "an IXFR log line", log)
    expect(re.search(r"IXFR, incoming", knot.log_text()) is not None,
           "Knot's log shows an incoming IXFR", "IXFR, incoming", knot.log_text())
    www = query(knot.port, "www." + ORIGIN, "A")
    expect(www.answer and www.answer[0][0].address == "192.0.2.20", "www at Knot after IXFR",
           "192.0.2.20", www)
    gone = query(knot.port, "old." + ORIGIN, "TXT")
    expect(gone.rcode() == dns.rcode.NXDOMAIN, "a removed name at Knot", "NXDOMAIN", gone)
    expect(axfr_records(knot.port) == meridian_records(meridian), "Knot's copy after IXFR",
           meridian_records(meridian), axfr_records(knot.port))

    reload_with(meridian, 3, VERSION_3)
    wait_for("Knot serving serial 3", lambda: soa_serial(knot.port) == 3,
             [meridian.log_text, knot.log_text])
    expect(axfr_records(knot.port) == meridian_records(meridian), "Knot's copy after a 2nd IXFR",
           meridian_records(meridian), axfr_records(knot.port))


def test_ixfr_from_an_older_serial_sends_each_difference(meridian):
    if soa_serial(meridian.port) != 3:
        raise AssertionError("needs the reloads of the previous test")
    request = dns.message.make_query(ORIGIN, "IXFR")
    request.authority.append(dns.rrset.from_text(ORIGIN, 300, "IN", "SOA",
                                                 f"ns1.{ORIGIN} hostmaster.{ORIGIN} 1 3600 600 86400 300"))
    request.use_tsig(keyring(), keyname=KEY_NAME)
    # One record per RRset: dnspython would otherwise merge the SOAs into one.
    reply = dns.query.tcp(request, LOOPBACK, port=meridian.port, timeout=3, one_rr_per_rrset=True)
    sequence = [(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rdata.to_text())
                for rrset in reply.answer for rdata in rrset]
    soas = [s for s in sequence if s[1] == "SOA"]
    serials = [int(s[2].split()[2]) for s in soas]
    # current, then (old, new) for each difference, then current again (RFC 1995 §4).
    expect(serials == [3, 1, 2, 2, 3, 3], "IXFR SOA sequence from serial 1", [3, 1, 2, 2, 3, 3],
           serials)
    expect(("old." + ORIGIN, "TXT", '"removed in 2"') in sequence and
           ("www." + ORIGIN, "A", "192.0.2.10") in sequence and
           ("mail." + ORIGIN, "MX", "20 mx1." + ORIGIN) in sequence, "records of the differences",
           "old TXT, old www A, new MX", sequence)


def test_ixfr_from_the_current_serial_gets_the_soa_alone(meridian):
    request = dns.message.make_query(ORIGIN, "IXFR")
    current = soa_serial(meridian.port)
    request.authority.append(dns.rrset.from_text(
        ORIGIN, 300, "IN", "SOA", f"ns1.{ORIGIN} hostmaster.{ORIGIN} {current} 3600 600 86400 300"))
    request.use_tsig(keyring(), keyname=KEY_NAME)
    reply = dns.query.tcp(request, LOOPBACK, port=meridian.port, timeout=3)
    expect(len(reply.answer) == 1 and reply.answer[0].rdtype == dns.rdatatype.SOA,
           "IXFR of a current client", "one SOA", reply)


def test_ixfr_over_udp_gets_the_current_soa(meridian):
    request = dns.message.make_query(ORIGIN, "IXFR")
    request.authority.append(dns.rrset.from_text(ORIGIN, 300, "IN", "SOA",
                                                 f"ns1.{ORIGIN} hostmaster.{ORIGIN} 1 3600 600 86400 300"))
    request.use_tsig(keyring(), keyname=KEY_NAME)
    reply = dns.query.udp(request, LOOPBACK, port=meridian.port, timeout=3)
    expect(reply.rcode() == dns.rcode.NOERROR and len(reply.answer) == 1 and
           reply.answer[0].rdtype == dns.rdatatype.SOA and
           reply.answer[0][0].serial == soa_serial(meridian.port),
           "IXFR over UDP (the client should come back over TCP)", "the current SOA alone", reply)


def test_axfr_over_udp_is_refused(meridian):
    request = dns.message.make_query(ORIGIN, "AXFR")
    request.use_tsig(keyring(), keyname=KEY_NAME)
    reply = dns.query.udp(request, LOOPBACK, port=meridian.port, timeout=3)
    expect(reply.rcode() == dns.rcode.REFUSED, "AXFR over UDP", "REFUSED", reply)


def test_axfr_without_tsig_is_refused(meridian):
    reply = dns.query.tcp(dns.message.make_query(ORIGIN, "AXFR"), LOOPBACK, port=meridian.port,
                          timeout=3)
    expect(reply.rcode() == dns.rcode.REFUSED and not reply.answer, "unsigned AXFR", "REFUSED",
           reply)
    result = kdig_axfr(meridian.port)
    expect("REFUSED" in result, "unsigned AXFR with kdig", "REFUSED", result)


def test_axfr_with_a_wrong_secret_is_notauth_badsig(meridian):
    result = kdig_axfr(meridian.port, "-y", f"hmac-sha256:{KEY_NAME}:{WRONG_SECRET}")
    expect("BADSIG" in result, "kdig AXFR with a wrong secret", "BADSIG", result)
    request = dns.message.make_query(ORIGIN, "AXFR")
    request.use_tsig(keyring(WRONG_SECRET), keyname=KEY_NAME)
    try:
        reply = dns.query.tcp(request, LOOPBACK, port=meridian.port, timeout=3)
    except dns.tsig.PeerBadSignature:
        return  # dnspython read NOTAUTH with TSIG error BADSIG
    raise AssertionError(f"dnspython with a wrong secret: expected BADSIG, got {reply}")


def test_axfr_with_an_unknown_key_is_notauth_badkey(meridian):
    result = kdig_axfr(meridian.port, "-y", f"hmac-sha256:nobody-key:{SECRET}")
    expect("BADKEY" in result, "kdig AXFR with an unknown key", "BADKEY", result)
    request = dns.message.make_query(ORIGIN, "AXFR")
    request.use_tsig(keyring(name="nobody-key"), keyname="nobody-key")
    try:
        reply = dns.query.tcp(request, LOOPBACK, port=meridian.port, timeout=3)
    except dns.tsig.PeerBadKey:
        return
    raise AssertionError(f"dnspython with an unknown key: expected BADKEY, got {reply}")


def test_a_key_the_acl_does_not_name_is_refused(meridian):
    result = kdig_axfr(meridian.port, "-y", f"hmac-sha256:other-key:{SECRET}")
    expect("REFUSED" in result, "AXFR signed with a known key not in the ACL", "REFUSED",
           result)


def test_an_address_outside_the_acl_is_refused(meridian):
    result = kdig_axfr(meridian.port, "-b", "127.0.0.2", "-y",
                  f"hmac-sha256:{KEY_NAME}:{SECRET}")
    expect("REFUSED" in result and "192.0.2" not in result,
           "AXFR from 127.0.0.2 with the right key", "REFUSED", result)


def test_meridian_still_answers_queries(meridian):
    reply = query(meridian.port, "www." + ORIGIN, "A")
    expect(reply.answer and reply.answer[0][0].address == "192.0.2.20", "www after the tests",
           "192.0.2.20", reply)
    expect(udp_raw(meridian.port, dns.message.make_query(ORIGIN, "SOA").to_wire()) is not None,
           "an ordinary SOA query", "an answer", None)


def test_a_slow_transfer_blocks_neither_queries_nor_reloads():
    """One worker, a zone of 60000 records, a client that reads its AXFR slowly: the worker
    keeps answering, a reload publishes meanwhile, and the transfer still delivers the version
    it started with, whole."""
    hosts = 60000
    records = "".join(f"h{i} TXT \"host number {i} of the big zone\"\n" for i in range(hosts))
    big = "big.test."
    text = lambda serial: (f"$ORIGIN {big}\n$TTL 300\n@ SOA ns1 hostmaster {serial} 3600 600 "
                           f"86400 300\n@ NS ns1\nns1 A 192.0.2.1\n{records}")
    extra = f"""[[zone]]
file = "zones/big.test.zone"
origin = "{big}"
allow_transfer = [{{ address = "127.0.0.1" }}]
"""
    with Meridian(zones=[], server={"workers": 1}, extra_config=extra,
                  files={"zones/big.test.zone": text(1)}) as server:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # make the server wait
        sock.settimeout(10)
        sock.connect((LOOPBACK, server.port))
        wire = dns.message.make_query(big, "AXFR").to_wire()
        sock.sendall(struct.pack("!H", len(wire)) + wire)
        first = read_frame(sock)
        expect(dns.message.from_wire(first, one_rr_per_rrset=True).answer[0].rdtype ==
               dns.rdatatype.SOA, "the first AXFR message", "starts with the SOA", first[:32])
        time.sleep(0.3)  # the server now has more to write than the client takes
        started = time.monotonic()
        reply = query(server.port, "h5." + big, "TXT", timeout=2)
        expect(reply.answer and time.monotonic() - started < 1.0,
               "a UDP query to the one worker while the transfer waits", "an answer within 1s",
               reply)
        reply = query(server.port, big, "SOA", transport="tcp", timeout=2)
        expect(reply.answer and reply.answer[0][0].serial == 1, "a TCP query meanwhile",
               "serial 1", reply)
        path = server.tmpdir / "zones" / "big.test.zone"
        path.write_text(text(2))
        os.utime(path, (time.time() + 5, time.time() + 5))
        before = server.log_text().count("meridian: reloaded in")
        os.kill(server.process.pid, signal.SIGHUP)
        wait_for("a reload while the transfer is open",
                 lambda: server.log_text().count("meridian: reloaded in") > before,
                 [server.log_text])
        expect(query(server.port, big, "SOA").answer[0][0].serial == 2, "serial after reload",
               2, None)
        serials, count = [], 0
        messages = [first]
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            message = dns.message.from_wire(messages[-1], one_rr_per_rrset=True)
            for rrset in message.answer:
                count += 1
                if rrset.rdtype == dns.rdatatype.SOA:
                    serials.append(rrset[0].serial)
            if len(serials) == 2:
                break
            messages.append(read_frame(sock))
        sock.close()
        expect(serials == [1, 1] and count == hosts + 4, "the transfer begun before the reload",
               f"serial 1 throughout, {hosts + 4} records", (serials, count, len(messages)))


def test_notify_is_signed_and_retried_with_backoff_until_answered():
    """NOTIFY at start, then after a reload to a secondary that ignores the first two:
    Meridian retries after about 1 s and 2 s more, stops once answered, and every NOTIFY
    carries the new SOA and a valid TSIG."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((LOOPBACK, 0))
    listener.settimeout(WAIT)
    extra = tsig_table() + f"""
[[zone]]
file = "zones/xfr.test.zone"
origin = "{ORIGIN}"
notify = [{{ address = "{LOOPBACK}:{listener.getsockname()[1]}", key = "{KEY_NAME}" }}]
"""
    with Meridian(zones=[], extra_config=extra,
                  files={"zones/xfr.test.zone": zone(1, VERSION_1)}) as server:
        # At start, a NOTIFY for the serial being served: a secondary learns at once what
        # changed while the primary was down.
        data, sender = listener.recvfrom(65535)
        notify = dns.message.from_wire(data, keyring=keyring())
        expect(notify.opcode() == dns.opcode.NOTIFY and notify.answer[0][0].serial == 1,
               "NOTIFY at start", "serial 1", notify)
        listener.sendto(dns.message.make_response(notify).to_wire(), sender)
        wait_for("the answer to the NOTIFY at start",
                 lambda: f"NOTIFY {ORIGIN} serial 1 to" in server.log_text(), [server.log_text])
        reload_with(server, 2, VERSION_2)
        arrivals = []
        notify = None
        for attempt in range(3):
            data, sender = listener.recvfrom(65535)
            arrivals.append(time.monotonic())
            notify = dns.message.from_wire(data, keyring=keyring())  # raises on a bad TSIG
            expect(notify.opcode() == dns.opcode.NOTIFY and notify.had_tsig and
                   notify.question[0].rdtype == dns.rdatatype.SOA and
                   notify.answer[0][0].serial == 2, f"NOTIFY #{attempt + 1}",
                   "signed NOTIFY for the SOA with serial 2", notify)
            if attempt == 2:
                listener.sendto(dns.message.make_response(notify).to_wire(), sender)
        gaps = [round(b - a, 2) for a, b in zip(arrivals, arrivals[1:])]
        expect(0.8 <= gaps[0] <= 1.6 and 1.8 <= gaps[1] <= 2.6, "intervals between attempts",
               "about 1 s, then 2 s", gaps)
        wait_for("Meridian logging the answer",
                 lambda: f"NOTIFY {ORIGIN} serial 2 to {LOOPBACK}:{listener.getsockname()[1]} "
                         "answered (rcode 0)" in server.log_text(), [server.log_text])
        listener.settimeout(4.5)
        try:
            extra_notify = listener.recvfrom(65535)
        except socket.timeout:
            extra_notify = None
        expect(extra_notify is None, "a NOTIFY after the answer", "none", extra_notify)
    listener.close()


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup=setup, teardown=teardown))

"""Meridian as a secondary of Knot DNS (Debian's knotd 3.2) as hidden primary, with TSIG:
the first transfer is an AXFR; a change on the primary sends NOTIFY and Meridian follows with
an IXFR; NOTIFY from elsewhere is REFUSED and unsigned NOTIFY is NOTAUTH; a wrong key on
Meridian's side transfers nothing and keeps the old data; a restart with the primary down
serves the copy kept on disk; and a zone whose SOA EXPIRE passes without a refresh answers
SERVFAIL. Every wait is bounded."""

import base64
import socket
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
import dns.message  # noqa: E402
import dns.opcode  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.tsig  # noqa: E402
import dns.tsigkeyring  # noqa: E402

from meridian_harness import (  # noqa: E402
    LOOPBACK, Knot, Meridian, expect, query, require_program, run_tests, stop_pid, toml_table,
    wait_for_value)

ZONE = "secondary.example."
EXPIRING = "expiring.example."
KEY_NAME = "transfer-key"
SECRET = base64.b64encode(b"a secret shared by knot and meridian").decode()
WRONG_SECRET = base64.b64encode(b"a secret nobody else shares").decode()


def zone_text(origin, serial, records="", timers="3600 600 1209600"):
    return (f"$ORIGIN {origin}\n$TTL 60\n"
            f"@ SOA ns1 hostmaster {serial} {timers} 60\n"
            f"@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n{records}")


# Knot serves IXFR from its journal: `zonefile-load: difference` stores what changed
# between the loaded zone file and the next one.
class KnotPrimary(Knot):
    def __init__(self, secondary_port):
        super().__init__(zones=[(ZONE[:-1] + ".zone", ZONE), (EXPIRING[:-1] + ".zone", EXPIRING)])
        self.secondary_port = secondary_port
        self.write_zone(ZONE, zone_text(ZONE, 1))
        # Short timers: refreshed every second while Knot runs, expired 8 s after it stops.
        self.write_zone(EXPIRING, zone_text(EXPIRING, 1, timers="1 1 8"))

    def zone_path(self, origin):
        return self.tmpdir / "zones" / (origin[:-1] + ".zone")

    def write_zone(self, origin, text):
        self.zone_path(origin).write_text(text)

    def config_text(self):
        zones = "\n".join(f"  - domain: {origin}\n    file: {file}" for file, origin in self.zones)
        return self.server_sections() + self.tsig_sections(KEY_NAME, SECRET,
                                                           self.secondary_port) + f"""acl:
  - id: secondaries
    address: 127.0.0.0/8
    key: {KEY_NAME}
    action: transfer
template:
  - id: default
    storage: {self.tmpdir / 'zones'}
    journal-content: changes
    zonefile-load: difference
    zonefile-sync: -1
    semantic-checks: off
    notify: meridian
    acl: secondaries
zone:
{zones}
"""

    def reload_zone(self, origin):
        knotc = require_program("knotc")
        subprocess.run([knotc, "-s", str(self.tmpdir / "run" / "knot.sock"), "zone-reload",
                        origin], check=True, capture_output=True, timeout=10)


def secondary_config(knot_port, secret=SECRET):
    tables = []
    for origin in (ZONE, EXPIRING):
        tables.append(f'''[[zone]]
origin = "{origin}"
primaries = ["{LOOPBACK}:{knot_port}"]
tsig = "{KEY_NAME}"
file = "cache/{origin[:-1]}.zone"
''')
    tables.append(toml_table("tsig", name=KEY_NAME, algorithm="hmac-sha256", secret=secret))
    return "\n".join(tables)


def wait_for(what, condition, timeout=20.0):
    """Polls `condition` (bounded); returns its first true value or fails with `what`."""
    return wait_for_value(what, condition, timeout)


def answer(server, name, qtype="A"):
    try:
        return query(server.port, name, qtype, timeout=1.0)
    except dns.exception.Timeout:
        return None


def serial(server, origin=ZONE):
    reply = answer(server, origin, "SOA")
    if reply is None or reply.rcode() != dns.rcode.NOERROR or not reply.answer:
        return None
    return reply.answer[0][0].serial


def restart(server, secret=SECRET):
    """Stops Meridian by its PID and starts it again on the same folder (the cache stays)."""
    stop_pid(server.process)
    server._log_file.close()
    server.extra_config = secondary_config(server.knot_port, secret)
    server.start()


def notify_message(origin, key=None):
    message = dns.message.make_query(origin, "SOA")
    message.set_opcode(dns.opcode.NOTIFY)
    message.flags |= dns.flags.AA
    if key:
        message.use_tsig(key, keyname=KEY_NAME + ".", algorithm=dns.tsig.HMAC_SHA256)
    return message


def setup():
    require_program("knotd")
    meridian = Meridian(zones=[])
    knot = KnotPrimary(meridian.port)
    knot.start(ready_timeout=15.0)
    meridian.knot_port = knot.port
    meridian.extra_config = secondary_config(knot.port)
    meridian.start()
    return {"meridian": meridian, "knot": knot}


def teardown(context):
    if context:
        for server in context.values():
            server.stop()


def test_first_transfer_is_an_axfr(meridian):
    wait_for("serial 1 from the first transfer", lambda: serial(meridian) == 1)
    log = meridian.log_text()
    expect(f"secondary {ZONE} (start, no copy yet): AXFR from" in log,
           "the log names the first transfer an AXFR", "an AXFR line", log)
    reply = answer(meridian, "www." + ZONE)
    expect(reply.rcode() == dns.rcode.NOERROR and reply.answer[0][0].address == "192.0.2.80"
           and reply.flags & dns.flags.AA, "www A after the AXFR", "192.0.2.80 with AA",
           reply)
    cached = (meridian.tmpdir / "cache" / "secondary.example.zone").read_text()
    expect("192.0.2.80" in cached, "the transferred zone is kept in its file", "www's address",
           cached)


def test_notify_then_ixfr_brings_the_change(meridian, knot):
    wait_for("serial 1", lambda: serial(meridian) == 1)
    knot.write_zone(ZONE, zone_text(ZONE, 2, "new A 192.0.2.99\n"))
    knot.reload_zone(ZONE)
    wait_for("serial 2 after NOTIFY", lambda: serial(meridian) == 2)
    log = meridian.log_text()
    expect(f"NOTIFY for {ZONE} from 127.0.0.1: refreshing now" in log,
           "Meridian logs Knot's NOTIFY", "a NOTIFY line", log)
    expect(f"secondary {ZONE} (NOTIFY from 127.0.0.1): IXFR from {LOOPBACK}:{knot.port}, "
           f"serial 1 -> 2" in log, "the change came by IXFR", "an IXFR line", log)
    reply = answer(meridian, "new." + ZONE)
    expect(reply.rcode() == dns.rcode.NOERROR and reply.answer[0][0].address == "192.0.2.99",
           "the record the IXFR added", "192.0.2.99", reply)


def test_notify_from_a_non_primary_is_refused(meridian, transport):
    keyring = dns.tsigkeyring.from_text({KEY_NAME + ".": SECRET})
    message = notify_message(ZONE, keyring)
    send = dns.query.udp if transport == "udp" else dns.query.tcp
    reply = send(message, LOOPBACK, port=meridian.port, timeout=2.0, source="127.0.0.9")
    expect(reply.rcode() == dns.rcode.REFUSED and reply.opcode() == dns.opcode.NOTIFY,
           f"NOTIFY from 127.0.0.9 over {transport}", "REFUSED", reply)
    expect("NOTIFY for secondary.example. from 127.0.0.9 refused" in meridian.log_text(),
           "the refusal is logged", "a log line", meridian.log_text())


def test_unsigned_notify_is_notauth_and_signed_one_is_answered(meridian, transport):
    send = dns.query.udp if transport == "udp" else dns.query.tcp
    unsigned = send(notify_message(ZONE), LOOPBACK, port=meridian.port, timeout=2.0)
    expect(unsigned.rcode() == dns.rcode.NOTAUTH, "unsigned NOTIFY from the primary's address",
           "NOTAUTH", unsigned)
    wrong = dns.tsigkeyring.from_text({KEY_NAME + ".": WRONG_SECRET})
    try:
        send(notify_message(ZONE, wrong), LOOPBACK, port=meridian.port, timeout=2.0)
        raise AssertionError("a NOTIFY signed with the wrong secret was answered without error")
    except dns.tsig.PeerBadSignature:
        pass  # NOTAUTH with TSIG error BADSIG, as RFC 8945 §5.2.2 asks
    keyring = dns.tsigkeyring.from_text({KEY_NAME + ".": SECRET})
    signed = send(notify_message(ZONE, keyring), LOOPBACK, port=meridian.port, timeout=2.0)
    expect(signed.rcode() == dns.rcode.NOERROR and signed.opcode() == dns.opcode.NOTIFY and
           signed.flags & dns.flags.AA and signed.had_tsig,
           "a NOTIFY signed with the zone's key", "NOERROR, NOTIFY, AA, signed", signed)


def test_wrong_key_transfers_nothing_and_keeps_the_old_data(meridian, knot):
    wait_for("serial 2", lambda: serial(meridian) == 2)
    restart(meridian, WRONG_SECRET)
    expect(serial(meridian) == 2, "serial right after the restart", 2, serial(meridian))
    knot.write_zone(ZONE, zone_text(ZONE, 3, "new A 192.0.2.99\nnewer A 192.0.2.100\n"))
    knot.reload_zone(ZONE)
    wait_for("a failed refresh in the log",
             lambda: f"secondary {ZONE} (start, serial 2" in meridian.log_text() and
             "refresh failed, nothing changed" in meridian.log_text())
    wait_for("Knot's NOTIFY refused for its signature",
             lambda: f"NOTIFY for {ZONE} from 127.0.0.1 refused: TSIG" in meridian.log_text())
    expect(serial(meridian) == 2, "serial with the wrong key", 2, serial(meridian))
    reply = answer(meridian, "newer." + ZONE)
    expect(reply.rcode() == dns.rcode.NXDOMAIN, "a record only serial 3 has", "NXDOMAIN", reply)
    log = meridian.log_text()
    expect("TSIG" in log.split("refresh failed")[1].splitlines()[0],
           "the failure names TSIG as the cause", "TSIG in the line", log)


def test_restart_with_the_primary_down_serves_the_kept_copy(meridian, knot):
    restart(meridian)
    wait_for("serial 3 with the right key", lambda: serial(meridian) == 3)
    knot.stop()
    restart(meridian)
    expect(serial(meridian) == 3, "serial right after a restart with Knot stopped", 3,
           serial(meridian))
    reply = answer(meridian, "newer." + ZONE)
    expect(reply.rcode() == dns.rcode.NOERROR and reply.answer[0][0].address == "192.0.2.100",
           "a record from the kept copy", "192.0.2.100", reply)
    wait_for("a failed refresh", lambda: "refresh failed" in meridian.log_text())


def test_expired_zone_answers_servfail(meridian):
    # Knot is stopped by now: EXPIRING has EXPIRE 8 and nobody refreshes it.
    def servfail():
        reply = answer(meridian, "www." + EXPIRING)
        return reply is not None and reply.rcode() == dns.rcode.SERVFAIL
    wait_for(f"SERVFAIL for {EXPIRING} after its expiry", servfail, timeout=30.0)
    expect(f"secondary {EXPIRING} (serial 1) expired" in meridian.log_text(),
           "the expiry is logged", "an expiry line", meridian.log_text())
    expect(serial(meridian) == 3, f"{ZONE} (EXPIRE two weeks) is still served", 3,
           serial(meridian))


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup=setup, teardown=teardown))

"""A flood of what a hostile client can send once per packet (issue 13 defects 1 and 22): UDP
AXFR queries and queries signed with a wrong TSIG secret, 20,000 over about 3 s, are all
answered (REFUSED, NOTAUTH/BADSIG), counted in /metrics, and summarized in a few log lines
("1,234 transfer refusals from 127.0.0.0/24 in the last 10 s") instead of one line each; a
plain query is answered right after. Every loop is bounded in count and time."""

import base64
import re
import socket
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.tsigkeyring  # noqa: E402

from meridian_harness import (  # noqa: E402
    LOOPBACK, Meridian, expect, free_port, query, run_tests, toml_table)

ORIGIN = "flood.test."
KEY_NAME = "transfer-key"
SECRET = base64.b64encode(bytes(range(40, 72))).decode()
WRONG_SECRET = base64.b64encode(b"not the secret the server knows!").decode()
EACH = 10000          # UDP AXFR queries, and as many bad-TSIG queries
FLOOD_SECONDS = 3.0   # spread over about this long
SUMMARY_WAIT = 15.0   # the workers summarize every 10 s
MAX_NEW_LINES = 12    # 2 workers x 2 kinds x 2 periods, and room for a transfer line or two


def setup():
    http_port = free_port()
    extra = toml_table("tsig", name=KEY_NAME, algorithm="hmac-sha256", secret=SECRET) + f"""
[[zone]]
file = "zones/flood.test.zone"
origin = "{ORIGIN}"
allow_transfer = [{{ address = "10.0.0.0/8" }}]

[control]
http = "127.0.0.1:{http_port}"
socket = "control.sock"
"""
    zone = (f"$ORIGIN {ORIGIN}\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
            "@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.10\n")
    server = Meridian(zones=[], extra_config=extra, files={"zones/flood.test.zone": zone})
    server.http_port = http_port
    return server.start()


def teardown(server):
    if server:
        server.stop()


def metrics(server):
    """{series: value} of /metrics, series as `name{labels}`."""
    url = f"http://127.0.0.1:{server.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            values[series] = float(value)
    return values


def bad_tsig_query():
    message = dns.message.make_query("www." + ORIGIN, "A")
    keyring = dns.tsigkeyring.from_text({KEY_NAME: ("hmac-sha256", WRONG_SECRET)})
    message.use_tsig(keyring, keyname=KEY_NAME)
    return message.to_wire()


def flood(port):
    """Sends EACH UDP AXFR and EACH bad-TSIG queries, interleaved, over about FLOOD_SECONDS
    from four sockets; returns {rcode: replies} of the replies read."""
    axfr = dns.message.make_query(ORIGIN, "AXFR").to_wire()
    signed = bad_tsig_query()
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
    for s in sockets:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.setblocking(False)
    rcodes = {}

    def drain():
        for s in sockets:
            for _ in range(10000):
                try:
                    reply = s.recv(65535)
                except (BlockingIOError, InterruptedError):
                    break
                if len(reply) >= 4:
                    rcodes[reply[3] & 0x0F] = rcodes.get(reply[3] & 0x0F, 0) + 1

    batches = 100
    per_batch = 2 * EACH // batches
    started = time.monotonic()
    for batch in range(batches):
        for i in range(per_batch):
            s = sockets[i % len(sockets)]
            message = axfr if i % 2 == 0 else signed
            # A fresh ID each time; the TSIG's Original ID keeps the (wrong) MAC's input.
            ident = (batch * per_batch + i) & 0xFFFF
            try:
                s.sendto(bytes([ident >> 8, ident & 0xFF]) + message[2:], (LOOPBACK, port))
            except BlockingIOError:
                pass
        drain()
        pause = started + FLOOD_SECONDS * (batch + 1) / batches - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and sum(rcodes.values()) < 2 * EACH:
        drain()
        time.sleep(0.02)
    for s in sockets:
        s.close()
    return rcodes


def test_a_flood_of_refusals_and_bad_tsig_is_counted_and_summarized(server):
    time.sleep(0.5)  # start-up lines first
    lines_before = server.log_text().count("\n")
    before = metrics(server)
    rcodes = flood(server.port)

    # A plain query is answered right after.
    started = time.monotonic()
    reply = query(server.port, "www." + ORIGIN, "A", timeout=1.0)
    expect(reply.rcode() == dns.rcode.NOERROR and reply.answer and
           time.monotonic() - started < 1.0, "a plain query right after the flood",
           "192.0.2.10 within 1 s", reply)

    refused = rcodes.get(dns.rcode.REFUSED, 0)
    notauth = rcodes.get(dns.rcode.NOTAUTH, 0)
    expect(refused > EACH // 2 and notauth > EACH // 2, "replies read during the flood",
           f"most of {EACH} REFUSED and {EACH} NOTAUTH", rcodes)

    after = metrics(server)

    def grew(series):
        return after.get(series, 0) - before.get(series, 0)

    refusals = grew("meridian_transfer_refusals_total")
    badsig = grew('meridian_tsig_failures_total{error="BADSIG"}')
    udp_axfr = grew('meridian_queries_total{transport="udp",qtype="AXFR"}')
    # What the server counted is what it answered: at least what we read, at most what we sent.
    expect(refused <= refusals <= EACH and refusals == udp_axfr,
           "meridian_transfer_refusals_total", f"between {refused} and {EACH}, = UDP AXFR queries "
           f"({udp_axfr})", refusals)
    expect(notauth <= badsig <= EACH, 'meridian_tsig_failures_total{error="BADSIG"}',
           f"between {notauth} and {EACH}", badsig)

    # A few lines during the flood at most (no line per packet)...
    during = server.log_text().count("\n") - lines_before
    expect(during <= MAX_NEW_LINES, "log lines written during the flood",
           f"at most {MAX_NEW_LINES}", f"{during}:\n" + "\n".join(
               server.log_text().splitlines()[lines_before:lines_before + 20]))
    # ...then the summaries, naming the network and the counts.
    summary = re.compile(r"meridian: ([\d,]+) transfer refusals from 127\.0\.0\.0/24 in the "
                         r"last \d+ s")
    tsig = re.compile(r"meridian: ([\d,]+) TSIG BADSIG failures from 127\.0\.0\.0/24 in the "
                      r"last \d+ s")
    deadline = time.monotonic() + SUMMARY_WAIT
    while time.monotonic() < deadline:
        text = server.log_text()
        counted = sum(int(m.replace(",", "")) for m in summary.findall(text))
        counted_tsig = sum(int(m.replace(",", "")) for m in tsig.findall(text))
        if counted >= refusals and counted_tsig >= badsig:
            break
        time.sleep(0.2)
    new_lines = server.log_text().splitlines()[lines_before:]
    expect(counted == refusals and counted_tsig == badsig, "the log summaries",
           f"{refusals} refusals and {badsig} BADSIG from 127.0.0.0/24",
           "\n".join(new_lines[:20]))
    expect(len(new_lines) <= MAX_NEW_LINES, "log lines added by the flood",
           f"at most {MAX_NEW_LINES}", "\n".join(new_lines[:40]))


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup, teardown))

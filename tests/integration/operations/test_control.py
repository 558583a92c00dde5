"""Health, drain, metrics and `meridian ctl` through the real binary: /health and /ready follow
the self-check (503 while an address is not on the host), /metrics is strict Prometheus text
that counts what was sent, `ctl status` shows serials and digests, `ctl drain` turns /health to
503 while queries are still answered and survives a restart, `ctl reload` reports the new
serial, and SIGTERM reports 503 at once, keeps answering for drain_seconds, then exits.
`promtool check metrics` (Debian's prometheus) also reads /metrics, as CTest's
test_control_promtool, skipped where promtool is missing."""

import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
import dns.edns  # noqa: E402

from meridian_harness import (  # noqa: E402
    Meridian, Skipped, expect, frame, free_port, make_query, part, query, read_frame,
    run_meridian, run_tests, tcp_connect, udp_raw)

ORIGIN = "control.example."


def zone(serial):
    return (f"$ORIGIN {ORIGIN}\n$TTL 60\n@ SOA ns1 hostmaster {serial} 7200 3600 1209600 60\n"
            "@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\nwww AAAA 2001:db8::2\n")


def control_server(state=None, drain_seconds=0, extra_listen=None, rise=2, fall=2):
    """A Meridian with [control]: HTTP on a free port, the socket in its temp folder, fast
    self-checks. `extra_listen` adds a listen address (say one not on this host)."""
    http_port = free_port()
    lines = ["[control]", f'http = "127.0.0.1:{http_port}"', 'socket = "control.sock"',
             f"drain_seconds = {drain_seconds}", "check_interval = 0.1", f"rise = {rise}",
             f"fall = {fall}"]
    if state:
        lines.append(f'state = "{state}"')
    server = Meridian(zones=[("control.example.zone", ORIGIN)],
                      files={"zones/control.example.zone": zone(1)},
                      extra_config="\n".join(lines) + "\n")
    server.http_port = http_port
    server.socket = server.tmpdir / "control.sock"
    if extra_listen:
        original = server.config_text

        def with_extra_listen():
            return original().replace("listen = [", f'listen = ["{extra_listen}", ', 1)
        server.config_text = with_extra_listen
    return server


def http(server, path, method="GET"):
    """(status, body) of one request to the server's HTTP endpoint."""
    request = urllib.request.Request(f"http://127.0.0.1:{server.http_port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for_http(server, path, status, timeout=10.0):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = http(server, path)
        if got[0] == status:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{path}: expected {status} within {timeout}s, last {got}; log:\n"
                         f"{server.log_text()}")


def ctl(server, *command):
    return run_meridian("ctl", "--socket", server.socket, *command, timeout=60)


# ---------------------------------------------------------------------------------------------
# A strict reader of the Prometheus text format (version 0.0.4), as promtool would be.

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"({NAME})(?:\{{({LABEL}(?:,{LABEL})*)\}})? (\S+)")


def parse_prometheus(text):
    """{(name, labels text): value}; raises AssertionError on anything not strictly valid."""
    expect(text.endswith("\n"), "the exposition", "ends with a newline", repr(text[-20:]))
    families, samples, current = {}, {}, None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("# HELP "):
            parts = line.split(" ", 3)
            expect(len(parts) == 4 and re.fullmatch(NAME, parts[2]), f"line {number}",
                   "# HELP name text", line)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            expect(len(parts) == 4 and re.fullmatch(NAME, parts[2]) and parts[3] in
                   ("counter", "gauge", "summary", "histogram", "untyped"), f"line {number}",
                   "# TYPE name type", line)
            expect(parts[2] not in families, f"line {number}", "one TYPE per family", line)
            families[parts[2]] = parts[3]
            current = parts[2]
            continue
        match = SAMPLE.fullmatch(line)
        expect(match is not None, f"line {number}", "a sample: name{labels} value", line)
        name, labels, value = match.groups()
        expect(current is not None and name in (current, current + "_sum", current + "_count"),
               f"line {number}", f"a sample of the family {current}", line)
        parsed = float(value)
        expect(not math.isnan(parsed), f"line {number}", "a number", line)
        if families[current] == "counter":
            expect(parsed >= 0, f"line {number}", "a counter >= 0", line)
        key = (name, labels or "")
        expect(key not in samples, f"line {number}", "each series once", line)
        samples[key] = parsed
    return samples


def promtool_check(text):
    """`promtool check metrics`: Prometheus's own reader of the text format."""
    promtool = shutil.which("promtool")
    if not promtool:
        raise Skipped("promtool is not installed (Debian package prometheus)")
    completed = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=30)
    expect(completed.returncode == 0, "promtool check metrics", "exit 0",
           completed.stdout + completed.stderr)


def metrics(server):
    status, text = http(server, "/metrics")
    expect(status == 200, "GET /metrics", 200, status)
    return text, parse_prometheus(text)


# ---------------------------------------------------------------------------------------------


def setup():
    state = Path(tempfile.mkdtemp(prefix="meridian-state-"))
    server = control_server(state=state).start()
    wait_for_http(server, "/health", 200)
    return {"server": server, "state": state}


def teardown(context):
    if context:
        context["server"].stop()
        shutil.rmtree(context["state"], ignore_errors=True)


def test_health_and_ready_are_200_when_serving(server):
    expect(http(server, "/health") == (200, "serving\n"), "GET /health", "200 serving",
           http(server, "/health"))
    status, body = http(server, "/ready")
    expect(status == 200 and body.startswith("ready"), "GET /ready", "200 ready", (status, body))
    expect("health: ready (2 self-checks answered in a row)" in server.log_text(),
           "the log", "the moment it became ready", server.log_text())


def test_an_address_not_on_this_host_keeps_health_503():
    # Bound with IP_FREEBIND, but not on any interface: self-checks cannot reach it, so this
    # server must not attract traffic, and says why.
    with control_server(extra_listen=f"198.51.100.53:{free_port()}") as server:
        time.sleep(0.6)  # several self-check rounds
        for path in ("/health", "/ready"):
            expect(http(server, path) == (503, "starting\n"), f"GET {path}", "503 starting",
                   http(server, path))
        status = ctl(server, "status")
        expect("198.51.100.53" in status.stdout and "not an address of this host" in
               status.stdout, "ctl status", "the self-check's problem", status.stdout)


def test_other_methods_and_paths_are_refused(server):
    expect(http(server, "/health", method="POST")[0] == 405, "POST /health", 405,
           http(server, "/health", method="POST"))
    expect(http(server, "/nothing")[0] == 404, "GET /nothing", 404, http(server, "/nothing"))


def test_metrics_are_strict_prometheus_text_and_count_what_was_sent(server):
    _, before = metrics(server)

    def counted(name, **labels):
        key = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return current.get((name, key), 0) - before.get((name, key), 0)

    for _ in range(5):
        query(server.port, "www." + ORIGIN, "AAAA")
    for _ in range(3):
        query(server.port, "nope." + ORIGIN, "A", transport="tcp")
    ecs = dns.edns.ECSOption("198.51.100.0", 24)
    query(server.port, "www." + ORIGIN, "A", options=[ecs])
    query(server.port, "www." + ORIGIN, "TXT", edns=1)  # BADVERS
    udp_raw(server.port, b"\x12\x34\x81\x00" + b"\x00" * 8, timeout=0.3)  # a response: dropped
    _, current = metrics(server)
    expect(counted("meridian_queries_total", transport="udp", qtype="AAAA") == 5,
           "UDP AAAA queries counted", 5,
           counted("meridian_queries_total", transport="udp", qtype="AAAA"))
    expect(counted("meridian_queries_total", transport="tcp", qtype="A") == 3,
           "TCP A queries counted", 3, counted("meridian_queries_total", transport="tcp",
                                                qtype="A"))
    expect(counted("meridian_responses_total", transport="tcp", rcode="NXDOMAIN") == 3,
           "TCP NXDOMAIN answers", 3,
           counted("meridian_responses_total", transport="tcp", rcode="NXDOMAIN"))
    expect(counted("meridian_responses_total", transport="udp", rcode="BADVERS") == 1,
           "BADVERS answers", 1,
           counted("meridian_responses_total", transport="udp", rcode="BADVERS"))
    expect(counted("meridian_ecs_queries_total", transport="udp") == 1, "ECS queries", 1,
           counted("meridian_ecs_queries_total", transport="udp"))
    expect(counted("meridian_dropped_queries_total", transport="udp") == 1, "dropped", 1,
           counted("meridian_dropped_queries_total", transport="udp"))
    expect(counted("meridian_tcp_connections_total") == 3, "TCP connections", 3,
           counted("meridian_tcp_connections_total"))
    expect(current[("meridian_zone_serial", f'zone="{ORIGIN}"')] == 1, "zone serial", 1,
           current.get(("meridian_zone_serial", f'zone="{ORIGIN}"')))
    expect(current[("meridian_serving", "")] == 1, "meridian_serving", 1,
           current.get(("meridian_serving", "")))


@part("promtool")
def test_promtool_accepts_the_metrics(server):
    promtool_check(metrics(server)[0])  # before any query: families without samples
    query(server.port, "www." + ORIGIN, "A", options=[dns.edns.ECSOption("198.51.100.0", 24)])
    query(server.port, "nope." + ORIGIN, "A", transport="tcp")
    query(server.port, "www." + ORIGIN, "TXT", edns=1)  # BADVERS
    promtool_check(metrics(server)[0])


def test_idle_tcp_connections_hold_no_buffers(server):
    """Connections that asked once and went quiet, beside one that pipelines: /metrics shows
    every buffer back in the worker's pool, and a handful allocated for all of them."""
    idle = []
    try:
        for number in range(200):
            s = tcp_connect(server.port, 5.0)
            idle.append(s)
            s.sendall(frame(make_query("www." + ORIGIN).to_wire()))
            expect(read_frame(s) is not None, f"idle connection {number}", "an answer", "none")
        with tcp_connect(server.port, 5.0) as busy:
            busy.sendall(b"".join(frame(make_query("www." + ORIGIN).to_wire())
                                  for _ in range(500)))
            answered = sum(read_frame(busy) is not None for _ in range(500))
            expect(answered == 500, "500 pipelined queries", 500, answered)
            deadline = time.monotonic() + 5.0
            while True:
                _, samples = metrics(server)
                open_now = samples.get(("meridian_tcp_connections_open", ""))
                in_use = samples.get(("meridian_tcp_buffers_in_use", ""))
                if (open_now == 201 and in_use == 0) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        expect(open_now == 201, "meridian_tcp_connections_open", 201, open_now)
        expect(in_use == 0, "meridian_tcp_buffers_in_use with 201 quiet connections", 0, in_use)
        allocated = samples.get(("meridian_tcp_buffer_allocations_total", ""))
        expect(allocated is not None and allocated <= 8,
               "meridian_tcp_buffer_allocations_total", "at most 8 (buffers are reused)",
               allocated)
    finally:
        for s in idle:
            s.close()


def test_ctl_status_shows_serials_and_digests(server):
    completed = ctl(server, "status")
    expect(completed.returncode == 0 and completed.stdout.startswith("ok: serving"),
           "meridian ctl status", "ok: serving", completed.stdout + completed.stderr)
    expect(f"{ORIGIN} serial 1" in completed.stdout, "ctl status", "the zone's serial",
           completed.stdout)
    _, samples = metrics(server)
    info = next(labels for name, labels in samples if name == "meridian_config_info")
    config_hash = re.search(r'config_hash="([0-9a-f]{16})"', info).group(1)
    expect(f"config hash   {config_hash}" in completed.stdout, "ctl status and /metrics",
           "the same config hash", completed.stdout + info)
    by_config = run_meridian("ctl", "--config", server.config, "status")
    expect(by_config.returncode == 0, "ctl --config FILE status", "finds the socket in [control]",
           by_config.stdout + by_config.stderr)


def test_ctl_drain_keeps_answering_and_survives_a_restart(server, state):
    drained = ctl(server, "drain")
    expect(drained.returncode == 0 and "remembered across restarts" in drained.stdout,
           "meridian ctl drain", "ok, remembered", drained.stdout + drained.stderr)
    expect(http(server, "/health") == (503, "drained\n"), "GET /health after drain",
           "503 drained", http(server, "/health"))
    expect(http(server, "/ready")[0] == 200, "GET /ready after drain", "200: still answering",
           http(server, "/ready"))
    reply = query(server.port, "www." + ORIGIN, "A")
    expect(reply.rcode() == 0 and reply.answer, "a query while drained", "answered", reply)
    expect((state / "drained").exists(), "the state folder", "a 'drained' file", list(
        state.iterdir()))

    with control_server(state=state) as restarted:
        time.sleep(0.5)  # enough self-checks to be ready
        expect(http(restarted, "/health") == (503, "drained\n"), "/health after a restart",
               "503 drained", http(restarted, "/health"))
        expect("starting drained" in restarted.log_text(), "the restarted server's log",
               "says why it is drained", restarted.log_text())
        undrained = ctl(restarted, "undrain")
        expect(undrained.returncode == 0, "meridian ctl undrain", "ok", undrained.stdout)
        wait_for_http(restarted, "/health", 200)
        expect(not (state / "drained").exists(), "the state folder after undrain", "no file",
               list(state.iterdir()))
    ctl(server, "undrain")
    wait_for_http(server, "/health", 200)


def test_ctl_reload_reports_the_new_serial(server):
    (server.tmpdir / "zones" / "control.example.zone").write_text(zone(2))
    completed = ctl(server, "reload")
    expect(completed.returncode == 0 and f"{ORIGIN} serial 1 -> 2" in completed.stdout,
           "meridian ctl reload", "ok with the serial change", completed.stdout +
           completed.stderr)
    _, samples = metrics(server)
    expect(samples[("meridian_zone_serial", f'zone="{ORIGIN}"')] == 2, "zone serial metric", 2,
           samples.get(("meridian_zone_serial", f'zone="{ORIGIN}"')))
    expect(samples[("meridian_reloads_total", 'result="published"')] >= 1, "reloads counted",
           ">= 1", samples.get(("meridian_reloads_total", 'result="published"')))
    broken = server.config.read_text()
    server.config.write_text(broken + "\n[control\n")
    try:
        failed = ctl(server, "reload")
    finally:
        server.config.write_text(broken)
    expect(failed.returncode == 1 and failed.stdout.startswith("error: reload failed"),
           "ctl reload of a broken config", "an error, nothing changed", failed.stdout)


def test_ctl_refuses_an_unknown_command(server):
    completed = ctl(server, "explode")
    expect(completed.returncode == 2 and "usage" in completed.stderr, "meridian ctl explode",
           "usage, exit 2", completed.stdout + completed.stderr)


def test_a_second_server_on_the_same_socket_refuses_to_start(server):
    second = control_server()
    second.write_config()
    text = second.config.read_text().replace('socket = "control.sock"',
                                             f'socket = "{server.socket}"')
    second.config.write_text(text)
    try:
        completed = run_meridian("serve", "--config", second.config, timeout=20)
    finally:
        second.stop()
    expect(completed.returncode == 1 and "another server is listening" in completed.stderr,
           "serve with a control socket in use", "exit 1 with the reason",
           completed.stdout + completed.stderr)
    expect(ctl(server, "status").returncode == 0, "the first server's socket", "still works",
           ctl(server, "status").stderr)


def test_an_oversized_request_is_refused(server):
    # Requests are bounded (16 KiB of request line and headers): a bigger one gets an error
    # status or a closed connection, never an answer, and the endpoint keeps working.
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=5) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 32768 +
                           b"\r\n\r\n")
        try:
            reply = connection.recv(100)
        except ConnectionResetError:
            reply = b""
    expect(not reply.startswith(b"HTTP/1.1 200"), "a 32 KiB header", "refused", reply)
    expect(http(server, "/health")[0] == 200, "GET /health afterwards", 200,
           http(server, "/health"))


def test_a_stale_socket_from_a_killed_server_is_replaced():
    first = control_server().start()
    first.process.kill()  # SIGKILL: no chance to remove its socket file
    first.process.wait(timeout=10)
    expect(first.socket.exists(), "the killed server's socket file", "left behind", "gone")
    second = control_server()  # its own ports, in the first one's folder
    shutil.rmtree(second.tmpdir, ignore_errors=True)
    second.tmpdir, second.config = first.tmpdir, first.config
    second.socket, second.log = first.socket, first.tmpdir / "second.log"
    try:
        second.start()
        expect(ctl(second, "status").returncode == 0, "ctl status on the replaced socket", "ok",
               second.log_text())
    finally:
        second.stop()
        first.stop()


def test_sigterm_reports_503_at_once_and_answers_until_the_drain_ends():
    server = control_server(drain_seconds=2).start()
    try:
        wait_for_http(server, "/health", 200)
        started = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)
        wait_for_http(server, "/health", 503, timeout=1.0)
        expect(http(server, "/health")[1] == "stopping\n", "/health during the drain",
               "stopping", http(server, "/health"))
        answered = 0
        while time.monotonic() - started < 1.5:
            reply = query(server.port, "www." + ORIGIN, "A", timeout=1.0)
            answered += reply.rcode() == 0
            time.sleep(0.1)
        expect(answered >= 10, "queries during the drain", "all answered", answered)
        status = server.process.wait(timeout=10)
        elapsed = time.monotonic() - started
        expect(status == 0 and 1.9 <= elapsed < 6, "exit after SIGTERM", "0 after about 2 s",
               f"{status} after {elapsed:.2f} s")
        expect("draining on SIGTERM" in server.log_text() and not server.socket.exists(),
               "the log and the socket file", "drain logged, socket removed", server.log_text())
    finally:
        server.stop()


def test_a_second_sigterm_stops_at_once():
    server = control_server(drain_seconds=30).start()
    try:
        os.kill(server.process.pid, signal.SIGTERM)
        wait_for_http(server, "/health", 503, timeout=2.0)
        started = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)
        status = server.process.wait(timeout=10)
        expect(status == 0 and time.monotonic() - started < 3, "a second SIGTERM",
               "exit 0 at once", f"{status} after {time.monotonic() - started:.2f} s")
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup, teardown))

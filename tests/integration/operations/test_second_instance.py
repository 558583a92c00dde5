"""A second `meridian serve` on the port of one already running refuses to start, with a clear
error and a non-zero exit, before it binds anything: with the same control socket, with
another one, and with none. The listeners set SO_REUSEPORT, with which a second server of
the same user would otherwise join the first one's sockets and take a share of its queries.
Meanwhile a client keeps asking CHAOS id.server from fresh source ports (the kernel spreads
those across every socket of the port): each query must be answered, and by the first."""

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402

from meridian_harness import (  # noqa: E402
    LOOPBACK, Meridian, expect, free_port, run_meridian, run_tests)

# How long the second server may take to refuse; one still running then is sharing the port.
REFUSE_SECONDS = 8.0


def control_table(http_port, socket_path):
    lines = ["[control]", f'http = "127.0.0.1:{http_port}"', "check_interval = 0.1"]
    if socket_path is not None:
        lines.append(f'socket = "{socket_path}"')
    return "\n".join(lines) + "\n"


class IdentityProbe:
    """Asks CHAOS TXT id.server every few milliseconds from a new socket (a new source port)
    until stopped, and counts who answered and what went unanswered."""

    def __init__(self, port):
        self.port = port
        self.answers = {}
        self.unanswered = 0
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            query = dns.message.make_query("id.server.", "TXT", "CH")
            try:
                reply = dns.query.udp(query, LOOPBACK, port=self.port, timeout=1.0)
                identity = reply.answer[0][0].strings[0].decode() if reply.answer else "(none)"
                self.answers[identity] = self.answers.get(identity, 0) + 1
            except (dns.exception.Timeout, OSError):
                self.unanswered += 1
            time.sleep(0.005)

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        return self.answers, self.unanswered


def setup():
    first = Meridian(server={"identity": "first"},
                     extra_config=control_table(free_port(), "control.sock"))
    first.start()
    return first


def teardown(first):
    if first:
        first.stop()


def start_second(first, socket_path):
    """Runs a second server on `first`'s listen addresses, identity "second", with its own HTTP
    port and `socket_path` (None: no control socket, "off": no [control] at all) until it
    exits or REFUSE_SECONDS pass; returns (exit status or None, its output), and what the
    client saw meanwhile."""
    extra = "" if socket_path == "off" else control_table(free_port(), socket_path)
    second = Meridian(server={"identity": "second"}, extra_config=extra)
    second.port = first.port  # the same listen addresses
    second.ipv6 = first.ipv6
    second.write_config()
    probe = IdentityProbe(first.port)
    try:
        time.sleep(0.2)  # answers from the first alone, before
        completed = run_meridian("serve", "--config", second.config, timeout=REFUSE_SECONDS)
        status, output = completed.returncode, completed.stdout + completed.stderr
    except subprocess.TimeoutExpired as running:
        # subprocess.run has killed it (by its PID) after the timeout.
        status = None
        output = (running.stdout or b"").decode(errors="replace") + \
            (running.stderr or b"").decode(errors="replace")
    finally:
        time.sleep(0.2)
        seen = probe.stop()
        second.stop()  # its temp folder
    return status, output, seen


def expect_refused(first, status, output, seen, reason):
    expect(status is not None and status != 0, "the second server",
           f"exit non-zero within {REFUSE_SECONDS} s", f"exit {status}; output:\n{output}")
    expect(reason in output and "not starting" in output, "the second server's error",
           repr(reason), output)
    answers, unanswered = seen
    expect(set(answers) == {"first"} and unanswered == 0 and answers["first"] > 10,
           "the answers while the second server tried", "every query answered by the first",
           f"{answers}, {unanswered} unanswered")
    expect(first.is_running(), "the first server", "still running", first.log_text()[-2000:])


def test_same_control_socket_refuses_before_binding_the_port(first):
    status, output, seen = start_second(first, str(first.tmpdir / "control.sock"))
    expect_refused(first, status, output, seen, "another server is listening on it")
    # Its socket still answers `meridian ctl`.
    status_reply = run_meridian("ctl", "--socket", first.tmpdir / "control.sock", "status")
    expect(status_reply.returncode == 0 and "first" in status_reply.stdout,
           "the first server's control socket", "ctl status answered", status_reply)


def test_another_control_socket_refuses_on_the_listen_address(first):
    status, output, seen = start_second(first, "second.sock")
    expect_refused(first, status, output, seen, f"listen {LOOPBACK}:{first.port} (udp): "
                   "already in use")


def test_no_control_table_refuses_on_the_listen_address(first):
    status, output, seen = start_second(first, "off")
    expect_refused(first, status, output, seen, f"listen {LOOPBACK}:{first.port} (udp): "
                   "already in use")


def test_the_port_is_free_again_once_the_first_has_stopped(first):
    # The check does not mistake what a stopped server leaves for a server: the first closes
    # a TCP connection as it stops, which leaves it in TIME_WAIT on the listen port.
    with socket.create_connection((LOOPBACK, first.port), timeout=2) as connection:
        query = dns.message.make_query("id.server.", "TXT", "CH").to_wire()
        connection.sendall(len(query).to_bytes(2, "big") + query)
        connection.recv(2)
        first.stop()
    port = first.port
    again = Meridian(server={"identity": "again"},
                     extra_config=control_table(free_port(), "control.sock"))
    again.port = port
    try:
        again.start()
        reply = dns.query.udp(dns.message.make_query("id.server.", "TXT", "CH"), LOOPBACK,
                              port=port, timeout=2.0)
        expect(reply.answer and reply.answer[0][0].strings[0] == b"again",
               "a server started on the port after the first stopped", "it answers", reply)
    finally:
        again.stop()


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup=setup, teardown=teardown))

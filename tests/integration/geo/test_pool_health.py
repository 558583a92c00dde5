"""Pool health checks through the real binary: a pool whose TCP service closes is marked down
after `fall` failed checks and its answers move to the next pool; when the next pool's HTTP
check fails too the zone's own record answers; both come back after `rise` passed checks.
`meridian ctl pool NAME down` forces a pool down and the state file keeps it across a restart;
/metrics shows states, transitions and steered answers as valid Prometheus text; `meridian
explain` shows the states the running server reports, and says when it cannot ask."""

import http.server as http_server
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operations"))  # test_control

from meridian_harness import (  # noqa: E402
    Meridian, expect, free_port, query, run_meridian, run_tests)
from test_control import (  # noqa: E402
    http, parse_prometheus, promtool_check, wait_for_http)

ORIGIN = "pools.example."
FALLBACK = "192.0.2.99"
CHECK_INTERVAL = 0.1  # seconds; rise 2 and fall 2 rounds make a change take about 0.2 s
WAIT = 10.0  # the bound of every wait for a change (a busy machine is slow, not wrong)

# Addresses inside 127.0.0.0/8 that no other test uses: the pools' service addresses.
SUBNET = random.randint(16, 250)
ALPHA = f"127.77.{SUBNET}.1"
BETA = f"127.77.{SUBNET}.2"


class TcpService:
    """A TCP listener standing in for alpha's service, accepting and closing connections so
    its backlog never fills; close() is the outage."""

    def __init__(self, address, port=0):
        self.address = address
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((address, port))
        self.socket.listen(64)
        self.socket.settimeout(0.05)
        self.port = self.socket.getsockname()[1]
        self.is_open = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.is_open:
            try:
                connection, _ = self.socket.accept()
                connection.close()
            except OSError:
                continue

    def close(self):
        if self.is_open:
            self.is_open = False
            self.thread.join(timeout=5)
            self.socket.close()


class HttpService:
    """An HTTP server for beta's check: GET /healthz answers `status` (200 or 503)."""

    def __init__(self, address):
        service = self

        class Handler(http_server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 -- the http.server API
                code = service.status if self.path == "/healthz" else 404
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.status = 200
        self.server = http_server.ThreadingHTTPServer((address, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def zone():
    return (f"$ORIGIN {ORIGIN}\n$TTL 60\n@ SOA ns1 hostmaster 1 7200 3600 1209600 60\n"
            f"@ NS ns1\nns1 A 192.0.2.1\nwww A {FALLBACK}\n")


def pool_server(alpha_port, beta_port, state, beta_interval=CHECK_INTERVAL):
    http_port = free_port()
    extra = f"""
[control]
http = "127.0.0.1:{http_port}"
socket = "control.sock"
state = "{state}"
drain_seconds = 0
check_interval = 0.1
rise = 1
fall = 2
hold_down = 0

[[geoip.nets]]
networks = ["127.0.0.0/8"]
pools = ["alpha", "beta"]

[[pool]]
name = "alpha"
addresses = ["{ALPHA}"]
check = {{ type = "tcp", port = {alpha_port}, interval = {CHECK_INTERVAL}, timeout = 0.1, rise = 2, fall = 2 }}

[[pool]]
name = "beta"
addresses = ["{BETA}"]

[pool.check]
type = "http"
port = {beta_port}
path = "/healthz"
expect = 200
interval = {beta_interval}
timeout = 0.1
rise = 2
fall = 2

[[geo]]
name = "www.{ORIGIN}"
mode = "map"
map.default = ["alpha", "beta"]
ttl = 5
"""
    server = Meridian(zones=[("pools.example.zone", ORIGIN)],
                      files={"zones/pools.example.zone": zone()}, extra_config=extra)
    server.http_port = http_port
    server.socket = server.tmpdir / "control.sock"
    return server


def answer_of(server):
    reply = query(server.port, "www." + ORIGIN, "A")
    addresses = [rdata.address for rrset in reply.answer for rdata in rrset]
    expect(len(addresses) == 1, "www A", "one address", reply.to_text())
    return addresses[0]


def wait_for_answer(server, wanted, timeout=WAIT):
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    got = None
    while time.monotonic() < deadline:
        got = answer_of(server)
        if got == wanted:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"www A: expected {wanted} within {timeout}s, last {got}; log:\n"
                         f"{server.log_text()}")


def ctl(server, *command):
    return run_meridian("ctl", "--socket", server.socket, *command, timeout=30)


def explain(server):
    return run_meridian("explain", *server.config_arguments(), "www." + ORIGIN, "A",
                        "--client", "127.0.0.1", timeout=30)


def metrics(server):
    status, text = http(server, "/metrics")
    expect(status == 200, "GET /metrics", 200, status)
    promtool_check(text)
    return parse_prometheus(text)


def sample(samples, name, **labels):
    key = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return samples.get((name, key))


def setup():
    state = Path(tempfile.mkdtemp(prefix="meridian-pool-state-"))
    alpha = TcpService(ALPHA)
    beta = HttpService(BETA)
    server = pool_server(alpha.port, beta.port, state).start()
    context = {"state": state, "alpha": alpha, "beta": beta, "server": server}
    context["context"] = context  # for the tests that replace a fixture
    return context


def teardown(context):
    if not context:
        return
    context["server"].stop()
    context["alpha"].close()
    context["beta"].close()
    shutil.rmtree(context["state"], ignore_errors=True)


# The tests run in order, each starting from the state the previous one left.


def test_ready_once_every_checked_pool_is_known_and_alpha_answers(server):
    wait_for_http(server, "/ready", 200, timeout=WAIT)
    wait_for_answer(server, ALPHA)
    status = ctl(server, "pools")
    expect(status.returncode == 0 and "alpha up checked=up forced=none" in status.stdout and
           "beta up checked=up forced=none" in status.stdout, "ctl pools", "both up",
           status.stdout + status.stderr)


def test_alpha_down_moves_answers_to_beta_then_fallback_then_back(server, alpha, beta, context):
    alpha.close()  # the service port closes: connections are refused
    took = wait_for_answer(server, BETA)
    print(f"alpha down -> answers from beta after {took:.2f} s "
          f"(fall 2 x {CHECK_INTERVAL} s interval)")
    expect("pool alpha: down after 2 failed checks in a row" in server.log_text(), "the log",
           "alpha's transition, once", server.log_text())
    beta.status = 503  # beta's HTTP check now fails
    wait_for_answer(server, FALLBACK)
    expect("HTTP status 503, expected 200" in server.log_text(), "the log", "why beta is down",
           server.log_text())
    # With every pool down the zone's own record answers; the ECS scope still holds for the
    # whole net (a config net covering 127.0.0.0/8).
    from dns.edns import ECSOption
    reply = query(server.port, "www." + ORIGIN, "A", options=[ECSOption("127.1.2.0", 24)])
    scopes = [o.scopelen for o in reply.options if isinstance(o, ECSOption)]
    expect(scopes == [8], "ECS scope of the fallback answer", [8], scopes)

    context["alpha"] = TcpService(ALPHA, alpha.port)  # the service comes back
    beta.status = 200
    wait_for_answer(server, ALPHA)
    expect("pool alpha: up after 2 passed checks in a row" in server.log_text(), "the log",
           "alpha's recovery", server.log_text())


def test_metrics_show_pool_states_transitions_and_steered_answers(server):
    samples = metrics(server)
    expect(sample(samples, "meridian_pool_state", pool="alpha", state="up") == 1,
           "meridian_pool_state alpha up", 1, samples)
    expect(sample(samples, "meridian_pool_state", pool="beta", state="down") == 0,
           "meridian_pool_state beta down", 0, samples)
    # unknown -> up, up -> down, down -> up.
    expect(sample(samples, "meridian_pool_transitions_total", pool="alpha") == 3,
           "alpha's transitions", 3, samples)
    expect(sample(samples, "meridian_pool_transitions_total", pool="beta") == 3,
           "beta's transitions", 3, samples)
    for pool in ("alpha", "beta"):
        expect(sample(samples, "meridian_steered_answers_total", pool=pool) > 0,
               f"steered answers from {pool}", "> 0", samples)
    expect(sample(samples, "meridian_steering_decisions_total", source="net") > 0,
           "decisions by a config net", "> 0", samples)
    expect(sample(samples, "meridian_steering_decisions_total", source="fallback") > 0,
           "fallback answers while both pools were down", "> 0", samples)
    expect(sample(samples, "meridian_pool_checks_total", pool="alpha", result="failed") >= 2,
           "alpha's failed checks", ">= 2", samples)
    expect(sample(samples, "meridian_zone_load_duration_seconds", zone=ORIGIN) is not None,
           "the zone's load time", "a sample", samples)


def test_explain_shows_the_running_servers_pool_states(server):
    result = explain(server)
    expect(result.returncode == 0 and "from the running server" in result.stdout and
           "alpha: chosen" in result.stdout and f"A\t{ALPHA}" in result.stdout,
           "meridian explain", "alpha chosen, states from the server", result.stdout +
           result.stderr)


def test_forced_down_skips_alpha_and_persists_across_a_restart(context):
    server = context["server"]
    forced = ctl(server, "pool", "alpha", "down")
    expect(forced.returncode == 0 and "remembered across restarts" in forced.stdout,
           "ctl pool alpha down", "ok, remembered", forced.stdout + forced.stderr)
    wait_for_answer(server, BETA, timeout=2)
    result = explain(server)
    expect("alpha: skipped: down (forced down)" in result.stdout and
           "beta: chosen" in result.stdout, "explain", "alpha skipped as forced down",
           result.stdout + result.stderr)
    samples = metrics(server)
    expect(sample(samples, "meridian_pool_forced", pool="alpha", state="down") == 1,
           "meridian_pool_forced alpha down", 1, samples)
    unknown = ctl(server, "pool", "nowhere", "down")
    expect(unknown.returncode == 1 and "no pool 'nowhere'" in unknown.stdout,
           "ctl pool nowhere down", "an error", unknown.stdout)

    server.stop()
    restarted = pool_server(context["alpha"].port, context["beta"].port, context["state"])
    context["server"] = restarted.start()
    wait_for_http(restarted, "/ready", 200, timeout=WAIT)
    expect("pool alpha starts forced down" in restarted.log_text(), "the log after a restart",
           "the forced state, read back", restarted.log_text())
    expect(answer_of(restarted) == BETA, "www A after a restart", BETA, answer_of(restarted))
    auto = ctl(restarted, "pool", "alpha", "auto")
    expect(auto.returncode == 0, "ctl pool alpha auto", "ok", auto.stdout + auto.stderr)
    wait_for_answer(restarted, ALPHA, timeout=2)
    expect(not (context["state"] / "forced-pools").exists(), "the state file",
           "removed when nothing is forced", list(context["state"].iterdir()))


def test_explain_without_a_server_says_states_are_unknown(context):
    server = context["server"]
    # A copy of the config whose control socket nobody listens on.
    config = server.tmpdir / "elsewhere.toml"
    config.write_text(server.config_text().replace('socket = "control.sock"',
                                                   'socket = "nobody.sock"'))
    result = run_meridian("explain", "--config", config, "www." + ORIGIN, "A", timeout=30)
    expect(result.returncode == 0 and "every pool is taken as up" in result.stdout and
           "cannot reach the server" in result.stdout, "explain", "states unknown, assumed up",
           result.stdout + result.stderr)


def test_ready_waits_until_every_checked_pool_is_known(context):
    # beta's check fails once (nothing listens there), then waits a minute for the next
    # round: its state stays unknown, so the PoP is not ready although it answers.
    state = Path(tempfile.mkdtemp(prefix="meridian-pool-state-"))
    try:
        with pool_server(context["alpha"].port, free_port(), state, beta_interval=60) as server:
            wait_for_answer(server, ALPHA)
            time.sleep(0.5)  # self-checks and alpha's checks have long concluded
            status, body = http(server, "/ready")
            expect(status == 503 and "waiting for the pool checks" in body, "GET /ready",
                   "503 while beta is unknown", (status, body))
            expect(http(server, "/health")[0] == 503, "GET /health", 503,
                   http(server, "/health"))
            expect("beta up checked=unknown" in ctl(server, "pools").stdout, "ctl pools",
                   "beta unknown (answering as up)", ctl(server, "pools").stdout)
            # An operator's decision is a known state.
            ctl(server, "pool", "beta", "down")
            wait_for_http(server, "/ready", 200, timeout=WAIT)
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup, teardown))

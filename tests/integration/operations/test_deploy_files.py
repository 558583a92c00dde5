"""The files in deploy/ that operators install: the systemd units are accepted by
`systemd-analyze verify` (and stay hardened), the sysusers file by `systemd-sysusers`, the BIRD
config by `bird -p`; meridian-bgp-health drives a real BIRD's static protocol (enable, disable,
catching up a restarted BIRD, withdrawing when stopped) and ExaBGP's text API against a fake
/health; the ExaBGP config passes `exabgp --test`; every query of the Grafana dashboard is
valid PromQL (`promtool check rules`) over metric names a running Meridian exports. The checks
that need a tool are a CTest test each by tool (test_deploy_files_bird, _exabgp, _promtool,
_systemd_verify, _systemd_security, _sysusers), reported as skipped where the tool is missing
or cannot run; the anycast lab (tests/anycast) runs these files for real."""

import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    SOURCE_DIR, Meridian, Skipped, expect, free_port, meridian_binary, part, run_tests)
from meridian_harness import wait_for as harness_wait_for  # noqa: E402

DEPLOY = SOURCE_DIR / "deploy"
WATCHER = DEPLOY / "bgp" / "meridian-bgp-health"
INSTALLED_BINARY = "/usr/local/bin/meridian"
INSTALLED_WATCHER = "/usr/local/lib/meridian/meridian-bgp-health"


def tool(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not path:
        raise Skipped(f"{name} is not installed")
    return path


def run(argv, timeout=30, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)


def with_built_paths(text):
    """The unit as installed names /usr/local paths; a checker that wants the programs to
    exist gets the built binary and the source tree's watcher instead."""
    return text.replace(INSTALLED_WATCHER, str(WATCHER)).replace(
        INSTALLED_BINARY, str(Path(meridian_binary()).resolve()))


def wait_for(condition, timeout, step=0.05):
    return harness_wait_for(condition, timeout, step)


# ---------------------------------------------------------------------------------------------
# systemd


def verify_units(folder, names):
    analyze = tool("systemd-analyze")
    # A unit that cannot be wrong: if verify rejects it, verify cannot run here at all.
    (folder / "probe-of-verify.service").write_text(
        "[Unit]\nDescription=probe\n[Service]\nType=oneshot\nExecStart=/bin/true\n")
    probe = run([analyze, "verify", "--man=no", folder / "probe-of-verify.service"], cwd=folder)
    if probe.returncode != 0:
        raise Skipped(f"systemd-analyze verify cannot run here: {probe.stderr.strip()}")
    return run([analyze, "verify", "--man=no", *[folder / name for name in names]], cwd=folder)


@part("systemd_verify")
def test_systemd_analyze_verify_accepts_the_units():
    with tempfile.TemporaryDirectory(prefix="meridian-units-") as temp:
        folder = Path(temp)
        names = sorted(path.name for path in (DEPLOY / "systemd").glob("*.service"))
        expect(set(names) >= {"meridian.service", "meridian-bgp-health.service"},
               "deploy/systemd", "meridian.service and meridian-bgp-health.service", names)
        for name in names:
            (folder / name).write_text(with_built_paths((DEPLOY / "systemd" / name).read_text()))
        result = verify_units(folder, names)
        # verify exits 0 on an unknown key or a bad value ("ignoring"): any word from it is a
        # problem.
        expect(result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(),
               f"systemd-analyze verify {' '.join(names)}", "exit 0, nothing printed",
               f"exit {result.returncode}: {result.stdout}{result.stderr}")


@part("systemd_verify")
def test_systemd_analyze_verify_catches_a_broken_unit():
    # The check above would pass vacuously if verify ignored our files: a typo must show.
    with tempfile.TemporaryDirectory(prefix="meridian-units-") as temp:
        folder = Path(temp)
        text = with_built_paths((DEPLOY / "systemd" / "meridian.service").read_text())
        (folder / "meridian.service").write_text(text.replace("KillMode=", "KillMood="))
        result = verify_units(folder, ["meridian.service"])
        expect("KillMood" in result.stderr, "verify of a unit with `KillMood=`",
               "a complaint naming the key", result.stderr)


def unit_settings(name):
    settings = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_meridian_unit_runs_unprivileged_drains_and_reloads():
    unit = unit_settings("meridian.service")
    expect(unit.get("User") == ["meridian"] and unit.get("AmbientCapabilities") ==
           ["CAP_NET_BIND_SERVICE"] and unit.get("CapabilityBoundingSet") ==
           ["CAP_NET_BIND_SERVICE"], "meridian.service privileges",
           "User=meridian with CAP_NET_BIND_SERVICE alone", unit)
    expect(any("kill -HUP $MAINPID" in line for line in unit.get("ExecReload", [])),
           "meridian.service ExecReload", "SIGHUP to Meridian", unit.get("ExecReload"))
    expect(unit.get("KillSignal") == ["SIGTERM"] and unit.get("RuntimeDirectory") == ["meridian"],
           "meridian.service stop and control socket", "SIGTERM; /run/meridian", unit)
    # SIGTERM drains for [control] drain_seconds: systemd must wait longer than that before
    # it kills. The example config's drain is the one the README recommends.
    example = (DEPLOY / "example" / "meridian.toml").read_text()
    drain = int(re.search(r"^drain_seconds\s*=\s*(\d+)", example, re.MULTILINE).group(1))
    timeout = int(unit["TimeoutStopSec"][0])
    expect(timeout >= 2 * drain, "TimeoutStopSec against drain_seconds",
           f"at least twice drain_seconds ({drain})", timeout)


@part("systemd_security")
def test_units_are_hardened():
    analyze = tool("systemd-analyze")
    with tempfile.TemporaryDirectory(prefix="meridian-units-") as temp:
        for name in ("meridian.service", "meridian-bgp-health.service"):
            path = Path(temp) / name
            path.write_text(with_built_paths((DEPLOY / "systemd" / name).read_text()))
            result = run([analyze, "security", "--offline=yes", "--no-pager", path], cwd=temp)
            found = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
            if result.returncode != 0 and not found:
                raise Skipped(f"systemd-analyze security --offline cannot run here: "
                              f"{result.stderr.strip()}")
            level = float(found.group(1)) if found else None
            print(f"      {name}: exposure {level} (systemd-analyze security)")
            expect(level is not None and level <= 2.0, f"exposure level of {name}",
                   "2.0 or less (\"OK\")", f"{level}\n{result.stdout[-2000:]}")


@part("sysusers")
def test_sysusers_file_is_valid():
    sysusers = tool("systemd-sysusers")
    path = (DEPLOY / "systemd" / "meridian.sysusers").resolve()
    result = run([sysusers, "--dry-run", path])
    expect(result.returncode == 0 and "meridian" in result.stderr + result.stdout,
           f"systemd-sysusers --dry-run {path}", "creates user meridian",
           f"exit {result.returncode}: {result.stdout}{result.stderr}")


# ---------------------------------------------------------------------------------------------
# BIRD


@part("bird")
def test_bird_accepts_the_deploy_configs():
    bird = tool("bird")
    configs = sorted((DEPLOY / "bird").glob("bird*.conf"))
    expect(configs, "deploy/bird", "a bird.conf", configs)
    for config in configs:
        result = run([bird, "-p", "-c", config], cwd=config.parent)
        expect(result.returncode == 0, f"bird -p -c {config}", "exit 0",
               f"exit {result.returncode}: {result.stderr}{result.stdout}")


@part("bird")
def test_bird_rejects_a_broken_config():
    bird = tool("bird")
    with tempfile.TemporaryDirectory(prefix="meridian-bird-") as temp:
        shutil.copy(DEPLOY / "bird" / "meridian-anycast.conf", temp)
        text = (DEPLOY / "bird" / "bird.conf").read_text()
        # Without its define the shipped include cannot work: bird -p must say so.
        (Path(temp) / "bird.conf").write_text(
            re.sub(r"^define ANYCAST_PREPEND = .*$", "", text, flags=re.MULTILINE))
        result = run([bird, "-p", "-c", Path(temp) / "bird.conf"], cwd=temp)
        expect(result.returncode != 0, "bird -p on bird.conf without ANYCAST_PREPEND",
               "an error", result.stderr)


class Bird:
    """BIRD with deploy/bird/meridian-anycast.conf and a device protocol only: no BGP, no
    kernel protocol, so it opens no port and changes no route; its socket is in `folder`."""

    def __init__(self, folder):
        self.folder = folder
        self.socket = folder / "bird.ctl"
        shutil.copy(DEPLOY / "bird" / "meridian-anycast.conf", folder)
        (folder / "bird.conf").write_text(f"""log "{folder / 'bird.log'}" all;
router id 192.0.2.2;
define POP_AS = 64501;
define MERIDIAN_ANYCAST4 = 198.51.100.53/32;
define ANYCAST_PREPEND = 0;
include "meridian-anycast.conf";
protocol device {{ }}
""")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [tool("bird"), "-f", "-c", self.folder / "bird.conf", "-s", self.socket,
             "-P", self.folder / "bird.pid"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        if not wait_for(lambda: self.state() is not None, 5):
            self.stop()
            raise RuntimeError("BIRD did not start")

    def state(self):
        result = run([tool("birdc"), "-s", self.socket, "show", "protocols", "meridian_anycast"],
                     timeout=5)
        match = re.search(r"^meridian_anycast\s+\S+\s+\S+\s+(\S+)", result.stdout, re.MULTILINE)
        return match.group(1) if match else None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


class FakeHealth:
    """An HTTP /health on a free loopback port answering whatever `status` says; `close()`
    makes it refuse connections."""

    def __init__(self, status=503):
        self.status = status
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 -- the http.server API
                body = b"serving\n" if fake.status == 200 else b"drained\n"
                self.send_response(fake.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}/health"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def start_watcher(*arguments, stdin=subprocess.DEVNULL):
    # A proxy in the environment must not come between the watcher and its own Meridian.
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    return subprocess.Popen([str(WATCHER), *map(str, arguments)], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, http_proxy=dead_proxy, HTTP_PROXY=dead_proxy))


@part("bird")
def test_watcher_toggles_a_real_bird():
    tool("bird")
    with tempfile.TemporaryDirectory(prefix="meridian-bird-") as temp:
        bird, health, watcher = Bird(Path(temp)), FakeHealth(503), None
        try:
            bird.start()
            expect(bird.state() == "down", "meridian_anycast when BIRD starts",
                   "down (disabled until the watcher says otherwise)", bird.state())
            watcher = start_watcher("--url", health.url, "--interval", "0.1", "--bird",
                                    "meridian_anycast", "--birdc", tool("birdc"),
                                    "--bird-socket", bird.socket)
            time.sleep(0.5)
            expect(bird.state() == "down", "with /health 503", "down", bird.state())
            health.status = 200
            expect(wait_for(lambda: bird.state() == "up", 3), "after /health turns 200",
                   "meridian_anycast up (route announced)", bird.state())
            health.status = 503
            expect(wait_for(lambda: bird.state() == "down", 1), "after /health turns 503",
                   "down within a second", bird.state())
            health.status = 200
            expect(wait_for(lambda: bird.state() == "up", 3), "healthy again", "up", bird.state())
            # A restarted BIRD starts the protocol disabled; the watcher catches it up.
            bird.stop()
            bird.start()
            expect(wait_for(lambda: bird.state() == "up", 3), "after BIRD restarts",
                   "up again, enabled by the watcher", bird.state())
            # Stopping the watcher withdraws: nobody vouches for the route any more.
            watcher.send_signal(signal.SIGTERM)
            watcher.wait(5)
            expect(watcher.returncode == 0 and bird.state() == "down", "after SIGTERM to the "
                   "watcher", "exit 0 and the protocol disabled",
                   f"exit {watcher.returncode}, {bird.state()}")
        finally:
            if watcher and watcher.poll() is None:
                watcher.kill()
                watcher.wait(5)
            bird.stop()
            health.close()


def read_line(stream, timeout):
    """One line from a pipe within `timeout` seconds, or None."""
    result = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].strip() if result else None


def test_watcher_speaks_exabgp_api_against_fake_health():
    health = FakeHealth(200)
    watcher = start_watcher("--url", health.url, "--interval", "0.2", "--fall", "3",
                            "--exabgp", "198.51.100.53/32", "--attributes",
                            "as-path [ 64502 64502 ]", stdin=subprocess.PIPE)
    try:
        line = read_line(watcher.stdout, 3)
        expect(line == "announce route 198.51.100.53/32 next-hop self as-path [ 64502 64502 ]",
               "the first API line with /health 200", "announce with the attributes", line)
        watcher.stdin.write("done\n")  # ExaBGP's acknowledgement
        watcher.stdin.flush()
        health.status = 503
        started = time.monotonic()
        line = read_line(watcher.stdout, 2)
        expect(line == "withdraw route 198.51.100.53/32 next-hop self", "after /health 503",
               "withdraw at once", line)
        expect(time.monotonic() - started < 1.0, "withdrawal delay on a 503", "under 1 s",
               time.monotonic() - started)
        health.status = 200
        expect(read_line(watcher.stdout, 2) ==
               "announce route 198.51.100.53/32 next-hop self as-path [ 64502 64502 ]",
               "healthy again", "announce", "something else")
        # Silence counts through --fall: the third missed poll withdraws, 0.4 to 0.6 s after
        # the close (0 to 0.2 s would be the first).
        health.close()
        started = time.monotonic()
        line = read_line(watcher.stdout, 3)
        waited = time.monotonic() - started
        expect(line == "withdraw route 198.51.100.53/32 next-hop self" and waited >= 0.3,
               "after /health stops answering", "withdraw after --fall missed polls",
               f"{line!r} after {waited:.2f} s")
        # ExaBGP closing our stdin means it is gone: the watcher exits by itself.
        watcher.stdin.close()
        watcher.wait(5)
        expect(watcher.returncode == 0, "watcher after ExaBGP closed stdin", "exit 0",
               f"{watcher.returncode}: {watcher.stderr.read()}")
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(5)
        health.close() if health.thread.is_alive() else None


def test_watcher_refuses_bad_arguments():
    result = run([WATCHER, "--url", "http://127.0.0.1:1/health"])
    expect(result.returncode == 2 and "--bird" in result.stderr, "the watcher without a speaker",
           "exit 2 naming --bird and --exabgp", f"{result.returncode}: {result.stderr}")


@part("exabgp")
def test_exabgp_accepts_the_deploy_config():
    exabgp = tool("exabgp")
    with tempfile.TemporaryDirectory(prefix="meridian-exabgp-") as temp:
        # exabgp --test wants the process's program to exist.
        config = Path(temp) / "exabgp.conf"
        config.write_text(with_built_paths((DEPLOY / "exabgp" / "exabgp.conf").read_text()))
        result = run([exabgp, "--test", config], cwd=temp,
                     env=dict(os.environ, exabgp_log_destination="stderr"))
        expect(result.returncode == 0, f"exabgp --test {config}", "exit 0",
               f"exit {result.returncode}: {(result.stdout + result.stderr)[-2000:]}")
        config.write_text(config.read_text().replace("hold-time", "hold-tme"))
        result = run([exabgp, "--test", config], cwd=temp)
        expect(result.returncode != 0, "exabgp --test on a config with a typo", "an error",
               "exit 0")


# ---------------------------------------------------------------------------------------------
# Grafana


def dashboard_queries():
    dashboard = json.loads((DEPLOY / "grafana" / "meridian-dashboard.json").read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries.append((panel["title"], target["expr"]))
    return dashboard, queries


def test_grafana_dashboard_is_importable_json():
    dashboard, queries = dashboard_queries()
    expect(dashboard.get("title") and dashboard.get("uid") and dashboard.get("schemaVersion"),
           "dashboard top level", "title, uid and schemaVersion", list(dashboard))
    ids = [panel["id"] for panel in dashboard["panels"]]
    expect(len(ids) == len(set(ids)), "panel ids", "unique", ids)
    expect(len(queries) >= 10, "dashboard queries", "at least 10", len(queries))
    names = [item["name"] for item in dashboard["templating"]["list"]]
    expect("datasource" in names and "instance" in names, "template variables",
           "datasource and instance", names)


def grafana_to_promql(expr):
    """Grafana's variables replaced by what Prometheus would get."""
    return expr.replace("$__rate_interval", "1m").replace("$instance", ".*")


@part("promtool")
def test_grafana_queries_are_valid_promql():
    promtool = tool("promtool")
    _, queries = dashboard_queries()
    with tempfile.TemporaryDirectory(prefix="meridian-grafana-") as temp:
        rules = Path(temp) / "rules.yml"
        lines = ["groups:", "  - name: dashboard", "    rules:"]
        for index, (_, expr) in enumerate(queries):
            lines += [f"      - record: meridian:dashboard_query_{index}",
                      f"        expr: {json.dumps(grafana_to_promql(expr))}"]
        rules.write_text("\n".join(lines) + "\n")
        result = run([promtool, "check", "rules", rules])
        expect(result.returncode == 0, "promtool check rules on every dashboard query",
               "SUCCESS", (result.stdout + result.stderr)[-3000:])


def test_grafana_queries_use_metrics_meridian_exports():
    _, queries = dashboard_queries()
    port = free_port()
    with Meridian(extra_config=f'[control]\nhttp = "127.0.0.1:{port}"\nsocket = ""\n') as server:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    exported = set(re.findall(r"^# TYPE (\S+) (\S+)", text, re.MULTILINE))
    families = {name for name, _ in exported}
    summaries = {name for name, kind in exported if kind == "summary"}
    names = families | {f"{name}_sum" for name in summaries} | \
        {f"{name}_count" for name in summaries}
    # Every family is exported with its TYPE line even before it has a sample (no pool, no
    # policy), so every name the dashboard uses must be here.
    missing = [f"{name} (panel {title!r})" for title, expr in queries
               for name in sorted(set(re.findall(r"\b(meridian_[a-z0-9_]+)\b", expr)))
               if name not in names]
    expect(not missing, "metric names in the dashboard", "all exported by /metrics", missing)


if __name__ == "__main__":
    meridian_binary()
    sys.exit(run_tests(globals()))

"""The anycast lab: BGP anycast failover between Meridian PoPs, in network namespaces this test
creates (a client, a router, PoPs A, B and C), run as root.

Each PoP runs Meridian on 198.51.100.53 (on its lo) with a fleet base config plus its own PoP
file. A and B run BIRD 2 with deploy/bird/bird.conf (its defines set for the PoP) and
deploy/bird/meridian-anycast.conf, and deploy/bgp/meridian-bgp-health polling the PoP's
/health and toggling BIRD's static protocol; C runs ExaBGP with deploy/exabgp/exabgp.conf,
whose API process is the same watcher. The router's BIRD learns the /32 from all three and
installs the best path: A's, then B's (it prepends its AS twice), then C's (longer still).
The test shows:

  - the client's queries reach PoP A (NSID, CHAOS id.server), and the `local`-mode name
    answers with A's pool;
  - drain, twice: `meridian ctl drain` (then undrain, and the route comes back), and SIGTERM
    to A's Meridian (what systemd sends on stop): /health turns 503, the watcher withdraws the
    route, and the client reaches B within a bound with no unanswered query (A answers for
    drain_seconds after SIGTERM);
  - hard failure: A's Meridian, BIRD and watcher killed at once; the client reaches B within
    a bound, and the unanswered queries are counted;
  - a hung PoP (A restarted, then its processes stopped with SIGSTOP): the router keeps the
    route until the BGP hold time runs out; the client reaches B within that bound, and the
    queries lost meanwhile are counted;
  - with A gone, `meridian ctl drain` at B moves the client to C, announced by ExaBGP, with no
    unanswered query.

A probe sends SOA queries at a fixed rate through each switch; the failover time and the
unanswered count are printed. Everything is torn down at the end, also on failure.
Not root, or no namespaces: a loud SKIP (exit 77).
"""

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from meridian_harness import (  # noqa: E402
    SOURCE_DIR, ZONES_DIR, expect, meridian_binary, require_program, run_tests, skip, wait_for)

DEPLOY = SOURCE_DIR / "deploy"
PROBE = Path(__file__).resolve().parent / "probe.py"
ANYCAST = "198.51.100.53"
ROUTER_AS = 64500
TAG = f"mlab{os.getpid()}"
DRAIN_SECONDS = 3
PROBE_RATE = 50          # queries per second during a switch
PROBE_TIMEOUT = 1.0      # seconds a probe query may take to count as answered
DRAIN_BOUND = 2.0        # the client must reach B this soon after A's SIGTERM
KILL_BOUND = 2.0         # ... after A's processes die (their BGP session closes with them)
HOLD_TIME = 3            # the lab's BGP hold time (BIRD's minimum)
HANG_BOUND = HOLD_TIME + 1.5   # ... after A hangs (the router waits out the hold time)

# Each PoP: its /30 to the router (router side, PoP side), AS, pool, and BGP speaker with its
# AS path length: A is preferred, B its backup (BIRD, prepending twice), C the last resort
# (ExaBGP with deploy/exabgp/exabgp.conf, a longer path given to the watcher).
POPS = {
    "a": {"identity": "pop-a", "router_ip": "192.0.2.5", "ip": "192.0.2.6", "as": 64501,
          "pool": "fra", "pool_address": "203.0.113.10", "speaker": "bird", "prepend": 0},
    "b": {"identity": "pop-b", "router_ip": "192.0.2.9", "ip": "192.0.2.10", "as": 64502,
          "pool": "ams", "pool_address": "203.0.113.20", "speaker": "bird", "prepend": 2},
    "c": {"identity": "pop-c", "router_ip": "192.0.2.13", "ip": "192.0.2.14", "as": 64503,
          "pool": "sin", "pool_address": "203.0.113.30", "speaker": "exabgp",
          "as_path": "as-path [ 64503 64503 64503 64503 ]"},
}
ALL_ROUTES = sorted(POPS)
CLIENT_IP, CLIENT_GATEWAY = "192.0.2.2", "192.0.2.1"


# ---------------------------------------------------------------------------------------------
# Processes and namespaces, all recorded so teardown can undo them (also from atexit)

class Lab:
    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="meridian-anycast-lab-"))
        self.namespaces = []
        self.processes = {}   # name -> (Popen, log file)
        self.torn_down = False

    def ns(self, role):
        return f"{TAG}-{role}"

    def start(self, name, namespace, argv):
        if name in self.processes:  # a restart: the previous process is gone
            self.processes[name][1].close()
        log = open(self.folder / f"{name}.log", "ab")
        # `ip netns exec` execs the program in the namespace, so the PID is the program's.
        process = subprocess.Popen([IP, "netns", "exec", namespace, *map(str, argv)],
                                   stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        self.processes[name] = (process, log)
        return process

    def pid(self, name):
        return self.processes[name][0].pid

    def is_running(self, name):
        return name in self.processes and self.processes[name][0].poll() is None

    def kill(self, name, sig=signal.SIGKILL):
        process, _ = self.processes[name]
        if process.poll() is None:
            process.send_signal(sig)

    def wait(self, name, timeout):
        process, log = self.processes[name]
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_text(self, name):
        try:
            return (self.folder / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def teardown(self):
        if self.torn_down:
            return
        self.torn_down = True
        for name, (process, log) in self.processes.items():
            if process.poll() is None:
                # SIGINT: Meridian stops at once instead of draining; the others stop as on
                # SIGTERM. A stopped (SIGSTOP) or stuck process gets SIGKILL below.
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 3
        for name, (process, log) in self.processes.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            log.close()
        for namespace in self.namespaces:
            subprocess.run([IP, "netns", "del", namespace], capture_output=True, timeout=10)
        if os.environ.get("MERIDIAN_KEEP_TMP"):
            print(f"lab files kept in {self.folder}")
        else:
            shutil.rmtree(self.folder, ignore_errors=True)


def ip(*args, check=True):
    completed = subprocess.run([IP, *args], capture_output=True, text=True, timeout=10)
    if check and completed.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {completed.stderr.strip()}")
    return completed


def in_ns(namespace, *argv, timeout=10):
    return subprocess.run([IP, "netns", "exec", namespace, *map(str, argv)],
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# The network: client -- router -- PoP A / PoP B, all /30s inside 192.0.2.0/24

def build_network(lab):
    for role in ("client", "router", *(f"pop-{key}" for key in POPS)):
        namespace = lab.ns(role)
        ip("netns", "add", namespace)
        lab.namespaces.append(namespace)
        ip("-n", namespace, "link", "set", "lo", "up")
    router = lab.ns("router")
    # The veth pairs are made inside the namespaces, so their names clash with nothing else.
    ip("-n", router, "link", "add", "to-client", "type", "veth", "peer", "name", "uplink",
       "netns", lab.ns("client"))
    ip("-n", router, "addr", "add", f"{CLIENT_GATEWAY}/30", "dev", "to-client")
    ip("-n", lab.ns("client"), "addr", "add", f"{CLIENT_IP}/30", "dev", "uplink")
    for key, pop in POPS.items():
        namespace = lab.ns(f"pop-{key}")
        ip("-n", router, "link", "add", f"to-pop-{key}", "type", "veth", "peer", "name",
           "uplink", "netns", namespace)
        ip("-n", router, "addr", "add", f"{pop['router_ip']}/30", "dev", f"to-pop-{key}")
        ip("-n", namespace, "addr", "add", f"{pop['ip']}/30", "dev", "uplink")
        ip("-n", namespace, "addr", "add", f"{ANYCAST}/32", "dev", "lo")
    for namespace in lab.namespaces:
        for link in ip("-n", namespace, "-o", "link", "show").stdout.splitlines():
            name = link.split(":")[1].strip().split("@")[0]
            ip("-n", namespace, "link", "set", name, "up")
    ip("-n", lab.ns("client"), "route", "add", "default", "via", CLIENT_GATEWAY)
    for key, pop in POPS.items():
        ip("-n", lab.ns(f"pop-{key}"), "route", "add", "default", "via", pop["router_ip"])
    result = in_ns(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    if result.returncode != 0:
        raise RuntimeError(f"sysctl in the router: {result.stderr}")


# ---------------------------------------------------------------------------------------------
# BIRD: the router's config is the lab's; each PoP's is deploy/bird/bird.conf with its defines
# set, beside deploy/bird/meridian-anycast.conf as shipped.

def set_defines(text, values):
    for name, value in values.items():
        text, count = re.subn(rf"^define {name} = [^;]*;", f"define {name} = {value};", text,
                              flags=re.MULTILINE)
        if count != 1:
            raise RuntimeError(f"deploy/bird/bird.conf has no `define {name}` to set")
    return text


def pop_bird_config(lab, key):
    pop = POPS[key]
    text = (DEPLOY / "bird" / "bird.conf").read_text()
    text = set_defines(text, {
        "POP_ROUTER_ID": pop["ip"], "POP_AS": pop["as"], "UPSTREAM_IP": pop["router_ip"],
        "UPSTREAM_AS": ROUTER_AS, "MERIDIAN_ANYCAST4": f"{ANYCAST}/32",
        "ANYCAST_PREPEND": pop["prepend"],
        # Short timers (BIRD's minimum hold time is 3 s) so the lab converges in seconds.
        "BGP_HOLD_TIME": HOLD_TIME, "BGP_KEEPALIVE_TIME": 1, "BGP_CONNECT_DELAY": 1,
        "BGP_CONNECT_RETRY": 1,
    })
    text, count = re.subn(r"^log syslog all;", f'log "{lab.folder / f"bird-{key}.events"}" all;',
                          text, flags=re.MULTILINE)
    if count != 1:
        raise RuntimeError("deploy/bird/bird.conf has no `log syslog all;` line to redirect")
    folder = lab.folder / f"bird-{key}"
    folder.mkdir(exist_ok=True)
    shutil.copy(DEPLOY / "bird" / "meridian-anycast.conf", folder / "meridian-anycast.conf")
    (folder / "bird.conf").write_text(text)
    return folder / "bird.conf"


def router_bird_config(lab):
    sessions = "\n".join(
        f"protocol bgp pop_{key} from pop {{ neighbor {pop['ip']} as {pop['as']}; }}"
        for key, pop in POPS.items())
    folder = lab.folder / "bird-router"
    folder.mkdir()
    path = folder / "bird.conf"
    path.write_text(f"""# The lab's upstream router: learns the anycast route from both PoPs over eBGP and
# installs the best path in its kernel table (the client's traffic follows it).
log "{lab.folder / 'bird-router.events'}" all;
router id {CLIENT_GATEWAY};

protocol device {{ scan time 10; }}

protocol kernel {{
    ipv4 {{ import none; export where source = RTS_BGP; }};
}}

template bgp pop {{
    local as {ROUTER_AS};
    hold time {HOLD_TIME};
    keepalive time 1;
    connect delay time 1;
    connect retry time 1;
    ipv4 {{ import all; export none; }};
}}

{sessions}
""")
    return path


def check_bird_config(path):
    completed = subprocess.run([BIRD, "-p", "-c", str(path)], capture_output=True, text=True,
                               timeout=10, cwd=path.parent)
    if completed.returncode != 0:
        raise RuntimeError(f"bird -p -c {path}: {completed.stderr or completed.stdout}")


def start_bird(lab, role, config):
    check_bird_config(config)
    socket_path = lab.folder / f"bird-{role}.ctl"
    socket_path.unlink(missing_ok=True)  # left by a BIRD this lab killed
    lab.start(f"bird-{role}", lab.ns(role if role == "router" else f"pop-{role}"),
              [BIRD, "-f", "-c", config, "-s", socket_path, "-P", lab.folder / f"bird-{role}.pid"])
    if not wait_for(socket_path.exists, 5):
        raise RuntimeError(f"BIRD ({role}) did not start:\n{lab.log_text(f'bird-{role}')}")
    return socket_path


def birdc(socket_path, *words):
    completed = subprocess.run([BIRDC, "-s", str(socket_path), *words], capture_output=True,
                               text=True, timeout=5)
    return completed.stdout


def router_routes(lab):
    """The PoPs the router's BIRD has a route to the anycast address from: the best one
    first, then the others by name."""
    text = birdc(lab.folder / "bird-router.ctl", "show", "route", f"{ANYCAST}/32")
    routes = re.findall(r"\[pop_(\w) [^\]]*\]\s*(\*?)", text)
    return sorted((key for key, _ in routes), key=lambda k: (dict(routes)[k] != "*", k))


# ---------------------------------------------------------------------------------------------
# Meridian: one fleet base config and a small file per PoP, as README "Running a fleet" says

def write_meridian_configs(lab):
    shutil.copytree(ZONES_DIR, lab.folder / "zones")
    pools = "\n".join(f"""[[pool]]
name = "{pop['pool']}"
addresses = ["{pop['pool_address']}"]
""" for pop in POPS.values())
    (lab.folder / "base.toml").write_text(f"""# The fleet's shared config: zones, pools, policies.
[server]
workers = 1
version = "Meridian anycast lab"

[[zone]]
file = "zones/example.com.zone"
origin = "example.com."

{pools}
# Each PoP answers with its own pool: the anycast route chose the PoP.
[[geo]]
name = "pop.example.com."
mode = "local"
ttl = 30

[control]
drain_seconds = {DRAIN_SECONDS}
check_interval = 0.2
rise = 2
fall = 3
""")
    for key, pop in POPS.items():
        (lab.folder / f"pop-{key}.toml").write_text(f"""# PoP {key.upper()}: who it is, its pool, where it listens.
[server]
identity = "{pop['identity']}"
pool = "{pop['pool']}"
listen = ["{ANYCAST}:53"]

[control]
http = "{pop['ip']}:8053"
socket = "{lab.folder / f'control-{key}.sock'}"
""")


def start_meridian(lab, key):
    return lab.start(f"meridian-{key}", lab.ns(f"pop-{key}"), [
        meridian_binary(), "serve", "--config", lab.folder / "base.toml",
        "--config", lab.folder / f"pop-{key}.toml"])


def health(lab, key):
    result = in_ns(lab.ns(f"pop-{key}"), CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                   "--max-time", "1", f"http://{POPS[key]['ip']}:8053/health")
    return result.stdout.strip()


def start_watcher(lab, key):
    # The shipped script, run the way its systemd unit runs it (short interval for the lab).
    return lab.start(f"watcher-{key}", lab.ns(f"pop-{key}"), [
        DEPLOY / "bgp" / "meridian-bgp-health", "--url", f"http://{POPS[key]['ip']}:8053/health",
        "--interval", "0.2", "--timeout", "0.5", "--bird", "meridian_anycast",
        "--birdc", BIRDC, "--bird-socket", lab.folder / f"bird-{key}.ctl"])


def replace_once(text, old, new, source):
    if text.count(old) != 1:
        raise RuntimeError(f"{source} no longer has `{old}` to set for the lab")
    return text.replace(old, new)


def start_exabgp(lab, key):
    """ExaBGP with deploy/exabgp/exabgp.conf, its addresses set for the PoP; its API process
    is the shipped watcher, polling the PoP's /health."""
    pop = POPS[key]
    source = "deploy/exabgp/exabgp.conf"
    text = (DEPLOY / "exabgp" / "exabgp.conf").read_text()
    text = replace_once(
        text, "run /usr/local/lib/meridian/meridian-bgp-health --url http://127.0.0.1:8053/health",
        f"run {DEPLOY / 'bgp' / 'meridian-bgp-health'} --url http://{pop['ip']}:8053/health", source)
    text = replace_once(text, "--exabgp 198.51.100.53/32;",
                        f"--exabgp {ANYCAST}/32 --interval 0.2 --timeout 0.5 "
                        f"--attributes \"{pop['as_path']}\";", source)
    for old, new in (("neighbor 192.0.2.1 {", f"neighbor {pop['router_ip']} {{"),
                     ("router-id 192.0.2.2;", f"router-id {pop['ip']};"),
                     ("local-address 192.0.2.2;", f"local-address {pop['ip']};"),
                     ("local-as 64501;", f"local-as {pop['as']};"),
                     ("peer-as 64500;", f"peer-as {ROUTER_AS};"),
                     ("hold-time 9;", f"hold-time {HOLD_TIME};")):
        text = replace_once(text, old, new, source)
    config = lab.folder / f"exabgp-{key}.conf"
    config.write_text(text)
    environment = ["env", "exabgp_daemon_drop=false", "exabgp_api_cli=false",
                   "exabgp_log_destination=stdout", "exabgp_daemon_daemonize=false"]
    checked = in_ns(lab.ns(f"pop-{key}"), *environment, EXABGP, "--test", config, timeout=30)
    if checked.returncode != 0:
        raise RuntimeError(f"exabgp --test {config}:\n{checked.stdout}{checked.stderr}")
    return lab.start(f"exabgp-{key}", lab.ns(f"pop-{key}"), [*environment, EXABGP, config])


# ---------------------------------------------------------------------------------------------
# The client

def ask(lab, name, rdtype, rdclass="IN"):
    result = in_ns(lab.ns("client"), sys.executable, PROBE, "ask", ANYCAST, name, rdtype,
                   rdclass)
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        return {"error": result.stderr.strip() or "no output"}


def start_probe(lab, duration):
    """The probe runs in the background through a switch; `finish_probe` reads its result."""
    output = open(lab.folder / "probe.json", "w")
    process = subprocess.Popen(
        [IP, "netns", "exec", lab.ns("client"), sys.executable, PROBE, "stream", ANYCAST,
         "--rate", str(PROBE_RATE), "--duration", str(duration), "--timeout", str(PROBE_TIMEOUT)],
        stdout=output, stderr=subprocess.PIPE, text=True)
    lab.processes["probe"] = (process, output)
    return process


def finish_probe(lab, duration):
    process, output = lab.processes.pop("probe")
    try:
        process.wait(duration + PROBE_TIMEOUT + 10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    output.close()
    if process.returncode != 0:
        raise RuntimeError(f"probe failed: {process.stderr.read()}")
    return json.loads((lab.folder / "probe.json").read_text())["queries"]


def summarize_switch(queries, trigger, what, old="pop-a", new="pop-b"):
    """Failover figures from `old` to `new` around `trigger` (monotonic time): printed, and
    returned (first_b: the first answer from `new`; back_to_a: answers from `old` after it)."""
    after = [(sent - trigger, nsid) for sent, nsid in queries if sent >= trigger]
    first_b = next((offset for offset, nsid in after if nsid == new), None)
    last_a = max((offset for offset, nsid in after if nsid == old), default=None)
    unanswered = [sent - trigger for sent, nsid in queries if nsid is None]
    others = sorted({nsid for _, nsid in queries} - {old, new, None})
    back_to_a = [offset for offset, nsid in after
                 if nsid == old and first_b is not None and offset > first_b]
    summary = {"queries": len(queries), "unanswered": len(unanswered), "first_b": first_b,
               "last_a": last_a, "others": others, "back_to_a": back_to_a,
               "unanswered_at": unanswered}
    failover = "never" if first_b is None else f"{first_b * 1000:.0f} ms"
    print(f"{what}: failover to {new} {failover} after the trigger; "
          f"{len(unanswered)} of {len(queries)} queries unanswered "
          f"({PROBE_RATE}/s, {PROBE_TIMEOUT:.0f} s timeout); last {old} answer at "
          f"{'none' if last_a is None else f'{last_a * 1000:.0f} ms'}", flush=True)
    if unanswered:
        print(f"{what}: the unanswered queries were sent from {unanswered[0] * 1000:+.0f} ms "
              f"to {unanswered[-1] * 1000:+.0f} ms after the trigger", flush=True)
    return summary


# ---------------------------------------------------------------------------------------------
# Setup, the tests in order, teardown

def setup():
    lab = Lab()
    atexit.register(lab.teardown)
    try:
        build_network(lab)
        write_meridian_configs(lab)
        start_bird(lab, "router", router_bird_config(lab))
        for key, pop in POPS.items():
            start_meridian(lab, key)
            if pop["speaker"] == "bird":
                start_bird(lab, key, pop_bird_config(lab, key))
                start_watcher(lab, key)
            else:
                start_exabgp(lab, key)
        # Converged: every PoP healthy, every route at the router, A's the best.
        converged = wait_for(lambda: router_routes(lab) == ALL_ROUTES, 20, step=0.2)
        if not converged:
            healths = ", ".join(f"{key.upper()} {health(lab, key)}" for key in POPS)
            raise RuntimeError(
                f"the router did not learn the route from every PoP in 20 s "
                f"(routes: {router_routes(lab)}; /health {healths})\n" + describe(lab))
    except BaseException:
        lab.teardown()
        raise
    return lab


def describe(lab):
    parts = []
    for name in sorted(lab.processes):
        parts.append(f"--- {name} ({'running' if lab.is_running(name) else 'exited'}):\n"
                     f"{lab.log_text(name)[-1500:]}")
    parts.append("--- router: " + birdc(lab.folder / "bird-router.ctl", "show", "protocols"))
    return "\n".join(parts)


def teardown(lab):
    if lab is not None:
        lab.teardown()


def test_queries_reach_pop_a(lab):
    reply = ask(lab, "example.com.", "SOA")
    expect(reply.get("rcode") == "NOERROR" and reply.get("nsid") == "pop-a",
           f"SOA to {ANYCAST} from the client, NSID", "NOERROR from pop-a", reply)
    reply = ask(lab, "id.server.", "TXT", "CH")
    expect(reply.get("answers") == ['"pop-a"'], "CH TXT id.server from the client",
           '"pop-a"', reply)


def test_local_name_answers_with_pop_a_pool(lab):
    reply = ask(lab, "pop.example.com.", "A")
    expect(reply.get("answers") == [POPS["a"]["pool_address"]] and reply.get("nsid") == "pop-a",
           "pop.example.com A (mode local) from the client",
           f"{POPS['a']['pool_address']} (pool {POPS['a']['pool']}) from pop-a", reply)


def switch_under_probe(lab, duration, action, what, **pops):
    """Probes for `duration` s, calls `action` 0.5 s in, and summarizes the switch that
    follows (summarize_switch's `what`, `old` and `new`); returns what `action` returned and
    the summary."""
    start_probe(lab, duration)
    time.sleep(0.5)
    trigger = time.monotonic()
    outcome = action()
    queries = finish_probe(lab, duration)
    return outcome, summarize_switch(queries, trigger, what, **pops)


def kill_pop_a(lab, signal_number):
    for name in ("meridian-a", "bird-a", "watcher-a"):
        lab.kill(name, signal_number)


def expect_switch_within(summary, bound, what):
    expect(summary["first_b"] is not None and summary["first_b"] <= bound, what,
           f"within {bound} s", summary["first_b"])


def expect_only_new_pop_after_switch(summary):
    expect(not summary["back_to_a"] and not summary["others"], "answers after the switch",
           "pop-b only", summary)


def back_on_pop_a(lab, timeout):
    return wait_for(lambda: router_routes(lab) == ALL_ROUTES and
                    ask(lab, "example.com.", "SOA").get("nsid") == "pop-a", timeout, step=0.2)


def test_ctl_drain_moves_clients_to_pop_b_and_undrain_brings_them_back(lab):
    ctl_drain_under_probe(lab, "a", "drain (meridian ctl drain)", "meridian ctl drain",
                          "the client reaches pop-b after `meridian ctl drain` at pop-a")
    undrained = run_meridian_ctl(lab, "a", "undrain")
    expect(undrained.returncode == 0 and back_on_pop_a(lab, 10),
           "after `meridian ctl undrain` at pop-a", "the route back, clients on pop-a",
           f"routes {router_routes(lab)}; {undrained.stdout}{undrained.stderr}")


def ctl_drain_under_probe(lab, key, what, ctl_what, reached, old="pop-a", new="pop-b"):
    """`meridian ctl drain` at pop-KEY under the probe: it exits 0 (`ctl_what`), the client
    reaches `new` within DRAIN_BOUND (`reached`), and every query is answered, by `new` once
    it took over (summarize_switch's `what`, `old` and `new`)."""
    drained, summary = switch_under_probe(lab, 2.5, lambda: run_meridian_ctl(lab, key, "drain"),
                                          what, old=old, new=new)
    expect(drained.returncode == 0, ctl_what, "exit 0",
           f"{drained.returncode}: {drained.stdout}{drained.stderr}")
    expect_switch_within(summary, DRAIN_BOUND, reached)
    expect(summary["unanswered"] == 0 and not summary["back_to_a"] and not summary["others"],
           "queries through the drain", f"all answered, by {new} once it took over", summary)


def run_meridian_ctl(lab, key, command):
    # The control socket is a path in the file system, reachable from any namespace.
    return subprocess.run([meridian_binary(), "ctl", "--socket",
                           str(lab.folder / f"control-{key}.sock"), command],
                          capture_output=True, text=True, timeout=10)


def test_drain_withdraws_the_route_before_answers_stop(lab):
    # SIGTERM is what `systemctl stop meridian` sends.
    _, summary = switch_under_probe(lab, DRAIN_SECONDS + 2.0,
                                    lambda: lab.kill("meridian-a", signal.SIGTERM),
                                    "drain (SIGTERM)")
    exit_status = lab.wait("meridian-a", 5)
    expect_switch_within(summary, DRAIN_BOUND, "the client reaches pop-b after pop-a's SIGTERM")
    expect(summary["unanswered"] == 0, "unanswered queries on the drain path",
           "none: the route leaves before Meridian stops answering", summary["unanswered_at"])
    expect_only_new_pop_after_switch(summary)
    expect(exit_status == 0, "pop-a's Meridian after drain_seconds", "exit 0", exit_status)
    expect(router_routes(lab) == ["b", "c"], "the router's routes to the anycast address",
           "pop-b's (best) and pop-c's", router_routes(lab))
    reply = ask(lab, "pop.example.com.", "A")
    expect(reply.get("answers") == [POPS["b"]["pool_address"]], "pop.example.com A after drain",
           f"{POPS['b']['pool_address']} (pool {POPS['b']['pool']}) from pop-b", reply)


def test_restarted_pop_a_is_announced_again(lab):
    start_meridian(lab, "a")
    expect(back_on_pop_a(lab, 15), "after pop-a's Meridian restarts", "the watcher announces it, clients reach it",
           f"routes {router_routes(lab)}\n{lab.log_text('watcher-a')[-1500:]}")


def test_hard_failure_reaches_pop_b(lab):
    _, summary = switch_under_probe(lab, KILL_BOUND + 1.0,
                                    lambda: kill_pop_a(lab, signal.SIGKILL),
                                    "hard failure (SIGKILL)")
    expect_switch_within(summary, KILL_BOUND, "the client reaches pop-b after pop-a is killed")
    expect_only_new_pop_after_switch(summary)
    # Bounded loss: nothing is lost before the kill, nothing once B has the traffic.
    lost_late = [offset for offset in summary["unanswered_at"]
                 if offset < -PROBE_TIMEOUT or offset > summary["first_b"]]
    expect(not lost_late, "unanswered queries outside the switch", "none", lost_late)


def test_hung_pop_is_left_after_the_hold_time(lab):
    # PoP A comes back whole (BIRD, watcher, Meridian), then freezes: its BGP session stays
    # open and silent, so the router keeps the route until the hold time runs out. Everything
    # sent to A meanwhile is lost: this is the loss a drain avoids.
    start_bird(lab, "a", lab.folder / "bird-a" / "bird.conf")
    start_watcher(lab, "a")
    start_meridian(lab, "a")
    expect(back_on_pop_a(lab, 20), "after restarting pop-a's BIRD, watcher and Meridian",
           "clients on pop-a again", f"routes {router_routes(lab)}")
    _, summary = switch_under_probe(lab, HANG_BOUND + 1.0,
                                    lambda: kill_pop_a(lab, signal.SIGSTOP),
                                    f"hang (SIGSTOP, hold time {HOLD_TIME} s)")
    kill_pop_a(lab, signal.SIGKILL)
    expect_switch_within(summary, HANG_BOUND, "the client reaches pop-b after pop-a hangs")
    expect_only_new_pop_after_switch(summary)



def test_exabgp_pop_takes_over_when_the_last_bird_pop_drains(lab):
    # A is gone; B serves. Draining B leaves C, whose route ExaBGP announces through the
    # shipped watcher: the ExaBGP alternative carries traffic, and the drain loses nothing.
    ctl_drain_under_probe(lab, "b", "drain of pop-b (ExaBGP at pop-c)",
                          "meridian ctl drain at pop-b",
                          "the client reaches pop-c (ExaBGP) after pop-b drains",
                          old="pop-b", new="pop-c")
    reply = ask(lab, "pop.example.com.", "A")
    expect(reply.get("answers") == [POPS["c"]["pool_address"]] and reply.get("nsid") == "pop-c",
           "pop.example.com A from the client", f"pop-c's pool ({POPS['c']['pool_address']})",
           reply)


if __name__ == "__main__":
    if os.geteuid() != 0:
        skip("the anycast lab needs root: it creates network namespaces, veth links, BIRD "
             "and Meridian inside them")
    IP = require_program("ip")
    BIRD = require_program("bird")
    BIRDC = require_program("birdc")
    CURL = require_program("curl")
    EXABGP = require_program("exabgp")
    meridian_binary()
    probe_namespace = f"{TAG}-probe"
    if ip("netns", "add", probe_namespace, check=False).returncode != 0:
        skip("cannot create a network namespace here (ip netns add failed)")
    ip("netns", "del", probe_namespace, check=False)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # ctest's timeout: still tear down
    sys.exit(run_tests(globals(), setup, teardown))

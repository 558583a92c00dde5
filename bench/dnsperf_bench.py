#!/usr/bin/python3
# The dnsperf benchmark: generates a zone and a query mix, serves them from Meridian, Knot DNS
# and NSD (one worker each, loopback), and compares server CPU time per answered query, also
# against "the floor" (bench/floor_responder.c), the cost of the kernel's UDP path alone.
"""Compare Meridian with Knot DNS and NSD under dnsperf.

The headline number is server CPU time (user+system of every thread and process of the
server) per answered query at a fixed offered rate that every server sustains. On a small
machine dnsperf saturates its own core long before a good server does, so "max QPS" mostly
measures dnsperf; CPU per answered query measures the server. See bench/README.md.
"""

import argparse
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import dnssec_scenario
import geo_scenario
import load_scenario
import tcp_scenario

REPO = Path(__file__).resolve().parent.parent
ORIGIN = "bench.example."
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Query categories and their default share of the query file, in percent.
DEFAULT_MIX = "hit=60,nxdomain=15,nodata=10,wildcard=10,referral=5"


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A failure the user can act on; printed without a traceback."""


# ---------------------------------------------------------------------------------------------
# Zone and queries


def host_has_aaaa(i):
    return i % 2 == 0


def host_has_mx(i):
    return i % 10 == 0


def host_has_txt(i):
    return i % 5 == 0


def delegation_count(names):
    return max(1, names // 1000)


def write_zone(path, names):
    """Writes NAMES hosts plus the apex, a wildcard and delegations with glue."""
    with open(path, "w") as out:
        out.write(f"$ORIGIN {ORIGIN}\n$TTL 3600\n")
        out.write("@ IN SOA ns1 hostmaster 1 7200 3600 1209600 3600\n")
        out.write("@ NS ns1\n@ NS ns2\n@ MX 10 mail\n@ TXT \"v=spf1 mx -all\"\n")
        out.write("ns1 A 192.0.2.1\nns2 A 192.0.2.2\nmail A 192.0.2.25\n")
        # The wildcard sits below an empty non-terminal ("wild"), which must give NODATA.
        out.write("*.wild A 198.51.100.10\n*.wild AAAA 2001:db8:ffff::10\n")
        out.write("*.wild TXT \"synthesised\"\n")
        for j in range(delegation_count(names)):
            d = f"deleg{j}"
            out.write(f"{d} NS ns1.{d}\n{d} NS ns2.{d}\n")
            out.write(f"ns1.{d} A 203.0.113.{1 + j % 250}\n")
            out.write(f"ns1.{d} AAAA 2001:db8:d::{j:x}\n")
            out.write(f"ns2.{d} A 203.0.113.{1 + (j + 1) % 250}\n")
        lines = []
        for i in range(names):
            h = f"host{i}"
            lines.append(f"{h} A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
            if host_has_aaaa(i):
                lines.append(f"{h} AAAA 2001:db8:{(i >> 16) & 0xffff:x}::{i & 0xffff:x}\n")
            if host_has_mx(i):
                lines.append(f"{h} MX 10 mail\n")
            if host_has_txt(i):
                lines.append(f"{h} TXT \"host {i} says hello\"\n")
            if len(lines) >= 10000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)


def query_for(category, rng, names):
    """One (name, type) of a category, drawn with RNG."""
    ndeleg = delegation_count(names)
    if category == "hit":
        i = rng.randrange(names)
        choices = ["A"]
        if host_has_aaaa(i):
            choices.append("AAAA")
        if host_has_mx(i):
            choices.append("MX")
        if host_has_txt(i):
            choices.append("TXT")
        return f"host{i}.{ORIGIN}", rng.choice(choices)
    if category == "nxdomain":
        if rng.random() < 0.8:
            return f"nx{rng.randrange(10**9)}.{ORIGIN}", rng.choice(["A", "AAAA"])
        return f"nx.host{rng.randrange(names)}.{ORIGIN}", "A"  # below an existing name
    if category == "nodata":
        r = rng.random()
        if r < 0.1:
            return f"wild.{ORIGIN}", "A"  # empty non-terminal
        i = rng.randrange(names)
        if r < 0.6 and not host_has_aaaa(i):
            return f"host{i}.{ORIGIN}", "AAAA"
        return f"host{i}.{ORIGIN}", rng.choice(["SRV", "CAA"])
    if category == "wildcard":
        return f"w{rng.randrange(10**9)}.wild.{ORIGIN}", rng.choice(["A", "A", "AAAA", "TXT"])
    if category == "referral":
        j = rng.randrange(ndeleg)
        if rng.random() < 0.8:
            return f"www{rng.randrange(1000)}.deleg{j}.{ORIGIN}", "A"
        return f"deleg{j}.{ORIGIN}", "NS"
    raise ValueError(category)


def parse_mix(text):
    mix = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in ("hit", "nxdomain", "nodata", "wildcard", "referral"):
            raise BenchError(f"--mix: unknown category {key!r}")
        mix[key] = float(value)
    if sum(mix.values()) <= 0:
        raise BenchError("--mix: shares add up to zero")
    return mix


def write_queries(path, count, names, mix, seed):
    """A shuffled, deterministic query file in dnsperf's "name type" format."""
    rng = random.Random(seed)
    total = sum(mix.values())
    queries = []
    for category, share in mix.items():
        for _ in range(round(count * share / total)):
            queries.append(query_for(category, rng, names))
    rng.shuffle(queries)
    with open(path, "w") as out:
        out.writelines(f"{name} {qtype}\n" for name, qtype in queries)
    return queries


# Fixed sample queries for the sanity check: (category, name, type).
def sample_queries(names):
    last = names - 1
    odd = 1 if names > 1 else 0
    return [
        ("hit", f"host0.{ORIGIN}", "A"),
        ("hit", f"host0.{ORIGIN}", "AAAA"),
        ("hit", f"host0.{ORIGIN}", "MX"),
        ("hit", f"host{last}.{ORIGIN}", "A"),
        ("hit", ORIGIN, "SOA"),
        ("nxdomain", f"nx1.{ORIGIN}", "A"),
        ("nxdomain", f"nx.host0.{ORIGIN}", "A"),
        ("nodata", f"host{odd}.{ORIGIN}", "AAAA") if odd else ("nodata", f"host0.{ORIGIN}", "SRV"),
        ("nodata", f"wild.{ORIGIN}", "A"),
        ("wildcard", f"anything.wild.{ORIGIN}", "A"),
        ("wildcard", f"anything.wild.{ORIGIN}", "TXT"),
        ("referral", f"www.deleg0.{ORIGIN}", "A"),
    ]


# ---------------------------------------------------------------------------------------------
# Process CPU accounting


def proc_stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (field 3 = index 0)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def process_tree(root):
    """ROOT and all its descendants, found through the parent field of /proc/*/stat."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(proc_stat_fields(entry)[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_ticks(root):
    """utime+stime (fields 14, 15) of every process in the tree, plus cutime+cstime (16, 17)
    so that a child reaped during a run still counts. A process's own stat includes all its
    threads, also those that have exited, which /proc/PID/task/*/stat would miss."""
    total = 0
    for pid in process_tree(root):
        try:
            f = proc_stat_fields(pid)
        except OSError:
            continue
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total


def machine_busy_ticks():
    """Busy time of all CPUs from /proc/stat (user nice system irq softirq steal)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq + steal


def pss_kib(root):
    """Proportional set size of the whole tree: forked children share pages, RSS would
    count them once per process."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


# ---------------------------------------------------------------------------------------------
# Servers


def launch_prefix(args, cpu):
    """nice/taskset in front of a command, so the printed command shows them too."""
    prefix = []
    if args.nice:
        prefix += ["nice", "-n", str(args.nice)]
    if args.pin and cpu is not None:
        prefix += ["taskset", "-c", str(cpu)]
    return prefix


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise BenchError("no free loopback port")


class Server:
    """One server under test: writes its config, starts in the foreground, stops by PID."""

    name = "?"
    # False for the floor, which echoes queries: it is ready on any response, and the answer
    # sanity check leaves it out.
    serves_zone = True
    # A zone file written for this server alone (the geo scenario's), shown in the report.
    zone_text_path = None

    def __init__(self, work, zone_file, port, name=None):
        if name:  # a second instance of a server, e.g. "meridian-geo"
            self.name = name
        self.prefix = []
        self.dir = work / self.name
        self.dir.mkdir()
        self.zone_file = zone_file
        self.port = port
        self.log_path = self.dir / "server.log"
        self.proc = None
        self.config_path = None
        self.config_text = ""

    def command(self):
        raise NotImplementedError

    def version(self):
        return ""

    def write_config(self, path, text):
        self.config_path = path
        self.config_text = text
        path.write_text(text)

    def start(self):
        cmd = self.prefix + self.command()
        self.start_command = shlex.join(str(c) for c in cmd)
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.dir)

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:]) or "(empty log)"

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM the server, wait, then SIGKILL it and any descendant left behind."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            tree = process_tree(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM for 10 s; killing it")
                self.proc.kill()
                self.proc.wait(timeout=10)
            for pid in tree[1:]:  # NSD's children normally exit with their parent
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc = None


class Meridian(Server):
    name = "meridian"

    def __init__(self, work, zone_file, port, binary, name=None, extra_config=""):
        super().__init__(work, zone_file, port, name)
        self.binary = binary
        self.write_config(self.dir / "meridian.toml", f"""[server]
listen = ["127.0.0.1:{port}"]
workers = 1
identity = "bench"

[[zone]]
file = "{os.path.relpath(zone_file, self.dir)}"
origin = "{ORIGIN}"
""" + extra_config)

    def command(self):
        return [self.binary, "serve", "--config", self.config_path]

    def version(self):
        return run_quiet([self.binary, "--version"])


class Knot(Server):
    name = "knot"

    def __init__(self, work, zone_file, port, name=None):
        super().__init__(work, zone_file, port, name)
        self.write_config(self.dir / "knot.conf", f"""server:
    rundir: "{self.dir}"
    pidfile: "{self.dir}/knot.pid"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

control:
    listen: "{self.dir}/knot.sock"

database:
    storage: "{self.dir}"

log:
  - target: stderr
    any: info

template:
  - id: default
    storage: "{zone_file.parent}"
    journal-content: none
    zonefile-load: whole
    zonefile-sync: -1
    semantic-checks: off

zone:
  - domain: {ORIGIN}
    file: "{zone_file.name}"
""")

    def command(self):
        return [shutil.which("knotd") or "/usr/sbin/knotd", "-c", self.config_path,
                "-s", self.dir / "knot.sock"]

    def version(self):
        return run_quiet(["knotd", "--version"])


class Nsd(Server):
    name = "nsd"

    def __init__(self, work, zone_file, port, name=None):
        super().__init__(work, zone_file, port, name)
        self.write_config(self.dir / "nsd.conf", f"""server:
    ip-address: 127.0.0.1@{port}
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    pidfile: "{self.dir}/nsd.pid"
    zonesdir: "{zone_file.parent}"
    xfrdfile: "{self.dir}/xfrd.state"
    zonelistfile: "{self.dir}/zone.list"
    database: ""
    logfile: "{self.dir}/nsd.log"
    verbosity: 1
    # NSD rate-limits answers by default (RRL, 200/s per /24): off, or loopback collapses.
    rrl-ratelimit: 0

remote-control:
    control-enable: no

zone:
    name: {ORIGIN}
    zonefile: "{zone_file.name}"
""")

    def command(self):
        return [shutil.which("nsd") or "/usr/sbin/nsd", "-d", "-c", self.config_path]

    def log_tail(self, lines=40):
        own = Path(self.dir / "nsd.log")
        text = super().log_tail(lines)
        if own.exists():
            text += "\n--- nsd.log ---\n" + "\n".join(
                own.read_text(errors="replace").splitlines()[-lines:])
        return text

    def version(self):
        out = run_quiet(["nsd", "-v"])
        return out.splitlines()[0] if out else ""


class Gdnsd(Server):
    name = "gdnsd"

    def __init__(self, work, zone_file, port, name=None, plugins="", zone_text=None):
        super().__init__(work, zone_file, port, name)
        (self.dir / "zones").mkdir()
        # gdnsd names zone files after the zone; a symlink keeps one copy of a large zone,
        # and ZONE_TEXT (the GeoDNS scenario's) includes it rather than copying it.
        gdnsd_zone = self.dir / "zones" / ORIGIN.rstrip(".")
        if zone_text is None:
            gdnsd_zone.symlink_to(zone_file)
        else:
            gdnsd_zone.write_text(zone_text)
            self.zone_text_path = gdnsd_zone
        self.write_config(self.dir / "config", f"""options => {{
    listen => [ 127.0.0.1 ]
    dns_port => {port}
    udp_threads => 1
    tcp_threads => 1
    run_dir => "{self.dir}/run"
    state_dir => "{self.dir}/state"
}}
""" + plugins)

    def command(self):
        return [shutil.which("gdnsd") or "/usr/sbin/gdnsd", "-c", self.dir, "start"]

    def version(self):
        out = run_quiet(["gdnsd"])  # prints its version with the usage
        return next((line for line in out.splitlines() if "version" in line), "")


class Floor(Server):
    """The floor: bench/floor_responder.c echoes each query with QR set, batched with
    recvmmsg/sendmmsg, and looks nothing up. Its CPU per query is the kernel's UDP path
    alone; the table shows every server as a multiple of it."""

    name = "floor"
    serves_zone = False
    source = Path(__file__).resolve().parent / "floor_responder.c"

    def __init__(self, work, zone_file, port, binary, name=None):
        super().__init__(work, zone_file, port, name)
        self.binary = binary

    def command(self):
        return [self.binary, str(self.port)]

    def version(self):
        cc = run_quiet(["cc", "--version"]).splitlines()
        return f"bench/{self.source.name}, {cc[0] if cc else 'cc'} -O2"


def build_floor(work):
    """Compiles the floor responder into the work folder; it is small enough to build on
    every run, so it always matches the source next to this script."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise BenchError("no C compiler (cc) to build the floor responder; "
                         "install gcc or leave floor out of --servers")
    binary = work / "floor_responder"
    cmd = [cc, "-O2", "-Wall", "-Wextra", "-o", str(binary), str(Floor.source)]
    log(shlex.join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"building the floor responder failed:\n{r.stdout}{r.stderr}")
    return binary


def run_quiet(cmd):
    try:
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def ask(port, name, qtype, timeout=0.5):
    q = dns.message.make_query(name, qtype)
    q.flags &= ~dns.flags.RD
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)


def wait_until_answering(server, timeout):
    """Polls the apex SOA until the server gives an authoritative NOERROR answer (the floor:
    any response, since it echoes the query)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not server.is_running():
            raise BenchError(f"{server.name} exited with status {server.proc.returncode} "
                             f"during start-up; its log:\n{server.log_tail()}")
        try:
            r = ask(server.port, ORIGIN, "SOA", timeout=0.3)
            if not server.serves_zone:
                return
            if r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA and r.answer:
                return
            last = f"{dns.rcode.to_text(r.rcode())}, {len(r.answer)} answer RRsets"
        except (dns.exception.Timeout, OSError) as e:
            last = type(e).__name__
        time.sleep(0.1)
    raise BenchError(f"{server.name} did not answer SOA {ORIGIN} on 127.0.0.1@{server.port} "
                     f"within {timeout:.0f} s (last: {last}); its log:\n{server.log_tail()}")


def describe(r):
    """What the sanity check compares: rcode, AA, answer RRsets, authority owner/type."""
    answer = sorted(rrset.to_text() for rrset in r.answer)
    authority = sorted(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"
                       for rrset in r.authority)
    return (dns.rcode.to_text(r.rcode()), bool(r.flags & dns.flags.AA), tuple(answer),
            tuple(authority))


def expectation(category, d):
    """None when the response has the shape the category needs, else what is wrong."""
    rcode, aa, answer, authority = d
    want = {
        "hit": ("NOERROR", True, True),
        "wildcard": ("NOERROR", True, True),
        "nxdomain": ("NXDOMAIN", True, False),
        "nodata": ("NOERROR", True, False),
        "referral": ("NOERROR", False, False),
    }[category]
    problems = []
    if rcode != want[0]:
        problems.append(f"rcode {rcode}, want {want[0]}")
    if aa != want[1]:
        problems.append(f"AA={int(aa)}, want {int(want[1])}")
    if bool(answer) != want[2]:
        problems.append("answer section " + ("empty" if want[2] else "not empty"))
    if category == "referral" and not any(a.endswith(" NS") for a in authority):
        problems.append("no NS in authority")
    if category in ("nxdomain", "nodata") and not any(a.endswith(" SOA") for a in authority):
        problems.append("no SOA in authority")
    return "; ".join(problems) or None


def sanity_check(servers, names):
    """Asks every server the same sample questions. A hit that is not NOERROR with an answer
    is fatal (the bench would measure errors); other differences are warnings. The floor is
    left out: it answers with the query's own contents."""
    servers = [s for s in servers if s.serves_zone]
    warnings = []
    results = {}
    for category, qname, qtype in sample_queries(names):
        seen = {}
        for s in servers:
            try:
                d = describe(ask(s.port, qname, qtype, timeout=1.0))
            except (dns.exception.Timeout, OSError) as e:
                d = ("TIMEOUT", False, (), ())
                if category == "hit":
                    raise BenchError(f"{s.name}: {qname} {qtype} got no answer ({e!r})")
            seen[s.name] = d
            problem = expectation(category, d) if d[0] != "TIMEOUT" else "no answer"
            if problem:
                if category == "hit" and (d[0] != "NOERROR" or not d[2]):
                    raise BenchError(f"{s.name}: {qname} {qtype}: {problem}")
                warnings.append(f"{s.name}: {category} {qname} {qtype}: {problem}")
        # NSD puts the apex NS in the authority section of positive answers, Knot does not
        # (both are right, RFC 2181 §6.1 leaves it open): compare authority only where the
        # category is decided by it.
        if category in ("hit", "wildcard"):
            distinct = set(d[:3] for d in seen.values())
        else:
            distinct = set(seen.values())
        if len(distinct) > 1:
            detail = "; ".join(f"{n}: {d[0]} aa={int(d[1])} an={list(d[2])} ns={list(d[3])}"
                               for n, d in seen.items())
            warnings.append(f"servers differ on {qname} {qtype}: {detail}")
        results[f"{qname} {qtype}"] = {n: list(map(str, d[:2])) + [list(d[2]), list(d[3])]
                                       for n, d in seen.items()}
    return warnings, results


# ---------------------------------------------------------------------------------------------
# dnsperf


def dnsperf_command(args, port, query_file, duration, rate):
    """dnsperf on QUERY_FILE: "name type" lines, or wire-format queries (-B) for a .bin file."""
    cmd = launch_prefix(args, args.client_cpu) + [
        "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(query_file),
        "-c", str(args.clients), "-T", str(args.threads), "-l", str(duration),
        "-q", str(args.outstanding), "-t", str(args.query_timeout)]
    if str(query_file).endswith(".bin"):
        cmd.append("-B")
    if rate:
        cmd += ["-Q", str(rate)]
    return cmd


def parse_dnsperf(text):
    def number(pattern, cast=float):
        m = re.search(pattern, text)
        return cast(m.group(1)) if m else None
    stats = {
        "sent": number(r"Queries sent:\s+(\d+)", int),
        "completed": number(r"Queries completed:\s+(\d+)", int),
        "lost": number(r"Queries lost:\s+(\d+)", int),
        "qps": number(r"Queries per second:\s+([\d.]+)"),
        "avg_latency_s": number(r"Average Latency \(s\):\s+([\d.]+)"),
        "max_latency_s": number(r"Average Latency \(s\):\s+[\d.]+ \(min [\d.]+, max ([\d.]+)\)"),
        "stddev_latency_s": number(r"Latency StdDev \(s\):\s+([\d.]+)"),
        "request_bytes": number(r"Average packet size:\s+request (\d+)", int),
        "response_bytes": number(r"Average packet size:\s+request \d+, response (\d+)", int),
        "rcodes": {},
    }
    m = re.search(r"Response codes:\s+(.*)", text)
    if m:
        for code, count in re.findall(r"([A-Z]+) (\d+) \(", m.group(1)):
            stats["rcodes"][code] = int(count)
    if stats["completed"] is None:
        raise BenchError(f"could not read dnsperf's output:\n{text}")
    return stats


def run_dnsperf(cmd, out_path, server, timeout):
    """Runs dnsperf once and returns its stats plus the server's CPU ticks over the run and
    dnsperf's own CPU seconds (to show when the client, not the server, is the limit)."""
    if not server.is_running():
        raise BenchError(f"{server.name} is no longer running; its log:\n{server.log_tail()}")
    before = cpu_ticks(server.proc.pid)
    busy_before = machine_busy_ticks()
    t0 = time.monotonic()
    with open(out_path, "w") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        # os.wait4 rather than p.wait(): it also returns dnsperf's own CPU time.
        deadline = time.monotonic() + timeout
        try:
            while True:
                pid, status, usage = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    p.returncode = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"dnsperf ran past {timeout:.0f} s: {shlex.join(cmd)}")
                time.sleep(0.02)
        except BaseException:  # also SIGINT/SIGTERM: leave no dnsperf behind
            if p.returncode is None:
                p.kill()
                p.wait()
            raise
    wall = time.monotonic() - t0
    after = cpu_ticks(server.proc.pid)
    busy = machine_busy_ticks() - busy_before
    text = Path(out_path).read_text(errors="replace")
    if p.returncode != 0:
        raise BenchError(f"dnsperf failed ({shlex.join(cmd)}):\n{text}")
    stats = parse_dnsperf(text)
    stats["server_cpu_s"] = (after - before) / CLK_TCK
    stats["client_cpu_s"] = usage.ru_utime + usage.ru_stime
    stats["wall_s"] = wall
    # CPU the machine spent on neither the server nor dnsperf: other processes (a build next
    # door) and softirq work not charged to a task. Large values mean noisy numbers.
    stats["other_cpu_s"] = max(0.0, busy / CLK_TCK - stats["server_cpu_s"]
                               - stats["client_cpu_s"])
    stats["cpu_us_per_query"] = (stats["server_cpu_s"] / stats["completed"] * 1e6
                                 if stats["completed"] else float("inf"))
    return stats


# ---------------------------------------------------------------------------------------------
# Main


def build_meridian(args):
    build_dir = Path(args.build_dir)
    binary = build_dir / "meridian"
    if args.no_build:
        if not binary.exists():
            raise BenchError(f"{binary} does not exist (drop --no-build or pass --meridian)")
        return binary
    log_path = Path(args.work) / "build.log"
    for cmd in (["cmake", "-S", str(REPO), "-B", str(build_dir), "-G", "Ninja",
                 # Warnings are CI's gate, not the bench's: GCC 12 at -O3 warns falsely
                 # (-Wrestrict) in places that -O2 builds accept.
                 "-DCMAKE_BUILD_TYPE=Release", "-DMERIDIAN_WERROR=OFF"],
                ["ninja", "-C", str(build_dir), "meridian"]):
        log(shlex.join(cmd))
        with open(log_path, "a") as out:
            r = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
            raise BenchError(f"building meridian failed:\n{tail}")
    return binary


def machine_info():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}"


def fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def print_table(rows, headers):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))


def add_servers_option(p, flag, servers, scenarios):
    """A scenario's comma-separated server list, by default every server it can measure."""
    p.add_argument(flag, default=servers, help=f"{scenarios}: comma-separated, from {servers}")


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="dnsperf benchmark: server CPU per answered query, Meridian vs Knot/NSD "
                    "and the floor (the kernel's UDP path alone), and Meridian's GeoDNS "
                    "answers vs its static ones and vs gdnsd's plugin_geoip.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--scenarios", default="all",
                   help="all, or comma-separated, from static (the zone's mix on --servers), geo "
                        "(steered answers with ECS on --geo-servers), load (a large zone's "
                        "start-up time, memory and reloads on --load-servers), tcp (pipelined "
                        "queries on persistent connections), idle (memory per idle TCP "
                        "connection), workers (1 vs 2 workers) and dnssec (DO=1 against DO=0 "
                        "on a signed zone, on --dnssec-servers); load-signed (the large zone "
                        "signed: start-up time and memory) only when named; see bench/README.md")
    p.add_argument("--servers", default="meridian,knot,nsd,floor",
                   help="static scenario: comma-separated, from meridian,knot,nsd,gdnsd,floor; "
                        "measured in this order (floor: the kernel's UDP path alone, "
                        "bench/floor_responder.c)")
    p.add_argument("--geo-servers", default="meridian,gdnsd,floor",
                   help="geo scenario: comma-separated, from meridian,gdnsd,floor; Meridian "
                        "and gdnsd serve the zone plus the steered name")
    p.add_argument("--geo-db",
                   help="flat-schema (country_code) or MaxMind-schema mmdb for the geo "
                        "scenario (default: ../shared/geoip/real/geo-whois-asn-country.mmdb "
                        "beside the repository, else a synthetic database; 'synthetic' "
                        "asks for that one)")
    add_servers_option(p, "--load-servers", "meridian,knot,nsd", "load scenario")
    p.add_argument("--load-names", type=int, default=1000000,
                   help="load scenario: host names in the large zone")
    p.add_argument("--load-rate", type=int, default=20000,
                   help="load scenario: dnsperf -Q during the reload under load")
    p.add_argument("--load-duration", type=int, default=8,
                   help="load scenario: least seconds of the dnsperf run around the reload")
    add_servers_option(p, "--tcp-servers", "meridian,knot,nsd,gdnsd", "tcp and idle scenarios")
    p.add_argument("--tcp-rate", type=int, default=20000,
                   help="tcp scenario: offered queries/s over TCP (dnsperf -m tcp -Q)")
    p.add_argument("--idle-connections", type=int, default=5000,
                   help="idle scenario: idle TCP connections opened to each server")
    add_servers_option(p, "--workers-servers", "meridian,knot,nsd,gdnsd", "workers scenario")
    p.add_argument("--workers-rate", type=int, default=80000,
                   help="workers scenario: offered queries/s with 1 and with 2 workers")
    p.add_argument("--workers-clients", type=int, default=16,
                   help="workers scenario: dnsperf -c (many source ports, so SO_REUSEPORT "
                        "spreads them over both workers' sockets)")
    p.add_argument("--workers-threads", type=int, default=2,
                   help="workers scenario: dnsperf -T")
    p.add_argument("--names", type=int, default=10000, help="host names in the zone")
    p.add_argument("--queries", type=int, default=100000,
                   help="queries per query file (static mix; geo: as many steered ones)")
    p.add_argument("--mix", default=DEFAULT_MIX, help="query categories and their shares")
    p.add_argument("--seed", type=int, default=1, help="seed for the query files")
    p.add_argument("--rate", type=int, default=80000,
                   help="offered queries/s of the CPU runs (dnsperf -Q); every server must "
                        "sustain it")
    p.add_argument("--duration", type=int, default=6, help="seconds per CPU run (dnsperf -l)")
    p.add_argument("--rounds", type=int, default=3, help="CPU runs per row, interleaved")
    p.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load first")
    p.add_argument("--max-duration", type=int, default=4,
                   help="seconds of the unthrottled max-QPS run per row (0: skip)")
    p.add_argument("--clients", type=int, default=4, help="dnsperf -c")
    p.add_argument("--threads", type=int, default=1, help="dnsperf -T")
    p.add_argument("--outstanding", type=int, default=200,
                   help="dnsperf -q; must exceed rate x latency or dnsperf falls short of -Q")
    p.add_argument("--query-timeout", type=int, default=1, help="dnsperf -t, seconds")
    p.add_argument("--start-timeout", type=float, default=0,
                   help="seconds to wait for a server to answer (0: 30 + 1 per 5k names)")
    p.add_argument("--pin", action="store_true",
                   help="pin servers to --server-cpu and dnsperf to --client-cpu (taskset)")
    p.add_argument("--server-cpu", type=int, default=1, help="CPU for the servers with --pin")
    p.add_argument("--client-cpu", type=int, default=0, help="CPU for dnsperf with --pin")
    p.add_argument("--nice", type=int, default=0,
                   help="run servers and dnsperf at this nice level (e.g. -10 as root, to "
                        "push a build next door aside)")
    p.add_argument("--meridian", help="meridian binary to use (default: build it)")
    p.add_argument("--baseline",
                   help="another meridian binary (say, the commit before a change) measured as "
                        "the server 'baseline' in the static and geo scenarios, interleaved "
                        "with the rest, so before/after is one run's ratio")
    p.add_argument("--build-dir", default=str(REPO / "build-bench"),
                   help="where to build meridian when --meridian is not given")
    p.add_argument("--no-build", action="store_true",
                   help="use the binary in --build-dir as it is")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1k names, 1 round of 2 s, 50k q/s, 2 s max-QPS run")
    p.add_argument("--keep-going", action="store_true",
                   help="drop a server that fails to start instead of stopping the bench")
    p.add_argument("--keep-workdir", action="store_true",
                   help="keep the zone, queries, configs and logs")
    p.add_argument("--json", help="also write the results to this file")
    dnssec_scenario.add_options(p)
    args = p.parse_args(argv)
    if args.quick:
        defaults = {"names": 10000, "queries": 100000, "rate": 80000, "duration": 6,
                    "rounds": 3, "warmup": 1, "max_duration": 4}
        quick = {"names": 1000, "queries": 10000, "rate": 50000, "duration": 2,
                 "rounds": 1, "warmup": 0, "max_duration": 2}
        defaults["load_names"], quick["load_names"] = 1000000, 100000
        defaults["load_duration"], quick["load_duration"] = 8, 4
        defaults["idle_connections"], quick["idle_connections"] = 5000, 1000
        defaults["workers_rate"], quick["workers_rate"] = 80000, 50000
        for key, (full, small) in dnssec_scenario.QUICK.items():
            defaults[key], quick[key] = full, small
        for key, value in quick.items():
            if getattr(args, key) == defaults[key]:  # explicit options still win
                setattr(args, key, value)

    def names(option, text, allowed):
        items = [x.strip() for x in text.split(",") if x.strip()]
        for x in items:
            if x not in allowed:
                p.error(f"{option}: unknown {x!r} (choose from {', '.join(allowed)})")
        return items
    every_scenario = (("static", "geo", "load") + tcp_scenario.SCENARIOS
                      + dnssec_scenario.SCENARIOS)
    # Signing 1M names takes minutes and GBs the first time: run only when asked for by name.
    opt_in = ("load-signed",)
    if args.scenarios.strip() == "all":
        args.scenarios = ",".join(every_scenario)
    args.scenarios = names("--scenarios", args.scenarios, every_scenario + opt_in)
    args.load_servers = names("--load-servers", args.load_servers, ("meridian", "knot", "nsd"))
    args.tcp_servers = names("--tcp-servers", args.tcp_servers, tcp_scenario.SERVERS)
    args.workers_servers = names("--workers-servers", args.workers_servers,
                                 tcp_scenario.SERVERS)
    args.servers = names("--servers", args.servers,
                         ("meridian", "baseline", "knot", "nsd", "gdnsd", "floor"))
    args.geo_servers = names("--geo-servers", args.geo_servers,
                             ("meridian", "baseline", "gdnsd", "floor"))
    if args.baseline:
        for servers in (args.servers, args.geo_servers):
            if "meridian" in servers and "baseline" not in servers:
                servers.insert(servers.index("meridian") + 1, "baseline")
    elif "baseline" in args.servers or "baseline" in args.geo_servers:
        p.error("the baseline server needs --baseline BINARY")
    if not args.scenarios:
        p.error("--scenarios: none given")
    if "static" not in args.scenarios:
        args.servers = []
    if "geo" not in args.scenarios:
        args.geo_servers = []
    if "load" not in args.scenarios and "load-signed" not in args.scenarios:
        args.load_servers = []
    if args.names < 1 or args.queries < 1 or args.rounds < 1 or args.duration < 1:
        p.error("--names, --queries, --rounds and --duration must be positive")
    if not args.start_timeout:
        args.start_timeout = 30 + max(args.names, args.load_names if args.load_servers else 0) / 5000
    args.mix = parse_mix(args.mix)
    dnssec_scenario.finish_args(args, p.error, parse_mix)
    return args


def main(argv):
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="meridian-bench."))
    args.work = str(work)
    servers = []

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    try:
        others = (args.servers or args.geo_servers or args.load_servers
                  or tcp_scenario.wanted(args))
        status = bench(args, work, servers) if others else 0
        if status == 0 and dnssec_scenario.wanted(args):
            for s in servers:  # the other scenarios are done: the machine is the scenario's
                s.stop()
            status = dnssec_scenario.main(args, sys.modules[__name__], work, servers,
                                          merge_json=bool(others))
        return status
    except (BenchError, geo_scenario.GeoError, load_scenario.LoadError,
            tcp_scenario.TcpBenchError, dnssec_scenario.DnssecError) as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return 1
    finally:
        for s in servers:
            s.stop()
        if args.keep_workdir:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


class Load:
    """One row of the report: one server answering one query file, measured in every round."""

    def __init__(self, label, scenario, server, query_file, kind):
        self.label = label
        self.scenario = scenario
        self.server = server
        self.query_file = query_file
        self.kind = kind  # "static", "static+ECS" or "steered+ECS": which rows compare
        self.runs = []
        self.max_run = None

    @property
    def slug(self):
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")

    def median(self):
        return statistics.median(r["cpu_us_per_query"] for r in self.runs)


class GeoSetup:
    """What the geo scenario prepared: database, query files, the servers' extra config."""

    def __init__(self, args, work, static_queries):
        source = geo_scenario.default_source(args.geo_db)
        if source is None and args.geo_db != "synthetic":
            log(f"geo: {geo_scenario.DEFAULT_DATABASE} not found; using a synthetic database "
                "(figures are not comparable with runs on the real one; --geo-db FILE to "
                "choose another)")
        self.continents = geo_scenario.read_continents()
        t0 = time.monotonic()
        self.database = geo_scenario.prepare_database(source, self.continents, work)
        self.files = geo_scenario.QueryFiles(work, ORIGIN, static_queries,
                                             self.database.networks, args.seed)
        log(f"geo: {self.database.description}; {self.files.summary()}; "
            f"{time.monotonic() - t0:.1f} s")
        self.problems, self.pool_rows = [], []


def start_server(args, s, servers):
    """Starts S and waits until it answers; False when it failed and --keep-going drops it."""
    s.prefix = launch_prefix(args, args.server_cpu)
    servers.append(s)
    log(f"starting {s.name} on 127.0.0.1@{s.port}: "
        f"{shlex.join(map(str, s.prefix + s.command()))}")
    t = time.monotonic()
    s.start()
    try:
        wait_until_answering(s, args.start_timeout)
    except BenchError as e:
        if not args.keep_going:
            raise
        log(f"dropping {s.name}: {e}")
        s.stop()
        servers.remove(s)
        return False
    s.load_s = time.monotonic() - t
    s.pss_kib = pss_kib(s.proc.pid)
    log(f"{s.name} answers after {s.load_s:.1f} s, PSS {s.pss_kib >> 10} MiB")
    return True


def run_load_scenario(args, work, servers):
    """The load scenario, before the others so its servers have the machine to themselves."""
    meridian_binary = None
    if "meridian" in args.load_servers:
        meridian_binary = Path(args.meridian) if args.meridian else build_meridian(args)
        meridian_binary = meridian_binary.resolve()
        args.meridian = str(meridian_binary)  # built once for every scenario
    kit = sys.modules[__name__]
    rows, (names, records) = load_scenario.run(args, kit, work, servers, meridian_binary)
    return lambda: load_scenario.report(args, kit, rows, names, records), rows


def bench(args, work, servers):
    load_report, load_rows = (None, [])
    if args.load_servers:
        load_report, load_rows = run_load_scenario(args, work, servers)
        if not args.servers and not args.geo_servers and not tcp_scenario.wanted(args):
            load_report()
            if args.json:
                Path(args.json).write_text(json.dumps(
                    {"machine": machine_info(), "load": load_scenario.to_json(load_rows)},
                    indent=2, default=str) + "\n")
            return 0
    zone_dir = work / "zones"
    zone_dir.mkdir()
    zone_file = zone_dir / f"{ORIGIN}zone"
    query_file = work / "queries.txt"
    t0 = time.monotonic()
    write_zone(zone_file, args.names)
    static_queries = write_queries(query_file, args.queries, args.names, args.mix, args.seed)
    log(f"zone: {args.names} names ({zone_file.stat().st_size >> 10} KiB), "
        f"{len(static_queries)} queries, {time.monotonic() - t0:.1f} s")
    geo = GeoSetup(args, work, static_queries) if args.geo_servers else None

    meridian_binary = None
    if ("meridian" in args.servers or "meridian" in args.geo_servers
            or tcp_scenario.needs_meridian(args)):
        meridian_binary = Path(args.meridian) if args.meridian else build_meridian(args)
        meridian_binary = meridian_binary.resolve()
    # TCP, idle connections and workers first, with their own servers, stopped when done.
    tcp_result = None
    if tcp_scenario.wanted(args):
        tcp_result = tcp_scenario.run(args, sys.modules[__name__], work, zone_file, query_file,
                                      meridian_binary)
        if not args.servers and not args.geo_servers:
            if load_report:
                load_report()
            tcp_scenario.report(args, sys.modules[__name__], tcp_result)
            if args.json:
                result = {"machine": machine_info(), **tcp_scenario.to_json(tcp_result)}
                if load_rows:
                    result["load"] = load_scenario.to_json(load_rows)
                Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
            return 0
    floor_binary = None
    if "floor" in args.servers or "floor" in args.geo_servers:
        floor_binary = build_floor(work)

    loads = []
    floor = None
    for name in args.servers:
        port = free_port()
        if name == "meridian":
            s = Meridian(work, zone_file, port, meridian_binary)
        elif name == "baseline":
            s = Meridian(work, zone_file, port, Path(args.baseline).resolve(), name="baseline")
        elif name == "floor":
            s = floor = Floor(work, zone_file, port, floor_binary)
        else:
            s = {"knot": Knot, "nsd": Nsd, "gdnsd": Gdnsd}[name](work, zone_file, port)
        if start_server(args, s, servers):
            loads.append(Load(name, "static", s, query_file, "static"))
        elif s is floor:
            floor = None
    geo_servers = []
    for name in args.geo_servers:
        if name == "floor":
            if floor is None:  # one floor serves both scenarios
                floor = Floor(work, zone_file, free_port(), floor_binary)
                if not start_server(args, floor, servers):
                    floor = None
                    continue
            loads.append(Load("floor steered+ECS", "geo", floor, geo.files.steered,
                              "steered+ECS"))
            continue
        if name in ("meridian", "baseline"):
            geo_zone = zone_dir / f"{ORIGIN}{name}-geo.zone"
            geo_zone.write_text(geo_scenario.meridian_zone(zone_file, ORIGIN))
            binary = meridian_binary if name == "meridian" else Path(args.baseline).resolve()
            s = Meridian(work, geo_zone, free_port(), binary, name=f"{name}-geo",
                         extra_config=geo_scenario.meridian_config(ORIGIN, geo.database.mmdb))
            s.zone_text_path = geo_zone
        else:
            s = Gdnsd(work, zone_file, free_port(), name="gdnsd-geo",
                      plugins=geo_scenario.gdnsd_plugins(geo.database.mmdb, geo.continents),
                      zone_text=geo_scenario.gdnsd_zone(zone_file, ORIGIN))
        if not start_server(args, s, servers):
            continue
        geo_servers.append(s)
        kinds = [("static", geo.files.static), ("steered+ECS", geo.files.steered)]
        if name in ("meridian", "baseline"):  # the cost of EDNS and ECS alone, no steering
            kinds.insert(1, ("static+ECS", geo.files.static_ecs))
        for kind, path in kinds:
            loads.append(Load(f"{name} {kind}", "geo", s, path, kind))
    if not servers:
        raise BenchError("no server started")

    warnings, samples = sanity_check(servers, args.names)
    for w in warnings:
        log(f"warning: {w}")
    if geo and geo_servers:
        fatal, geo.problems, geo.pool_rows = geo_scenario.pool_check(
            geo_servers, ORIGIN, geo.files, geo.database.networks)
        for line in geo_scenario.format_pool_rows(geo.pool_rows, [s.name for s in geo_servers]):
            log(f"geo: {line}")
        for w in geo.problems:
            log(f"geo: warning: {w}")
        if fatal:
            raise BenchError("steered queries are not answered (the bench would measure "
                             "errors):\n  " + "\n  ".join(fatal))

    run_timeout = lambda d: d + args.query_timeout + 30  # noqa: E731
    if args.warmup:
        for ld in loads:
            run_dnsperf(dnsperf_command(args, ld.server.port, ld.query_file, args.warmup,
                                        args.rate),
                        work / f"warmup-{ld.slug}.txt", ld.server, run_timeout(args.warmup))

    for rnd in range(args.rounds):
        for ld in loads:
            cmd = dnsperf_command(args, ld.server.port, ld.query_file, args.duration, args.rate)
            st = run_dnsperf(cmd, work / f"rate-{ld.slug}-{rnd}.txt", ld.server,
                             run_timeout(args.duration))
            ld.runs.append(st)
            log(f"round {rnd + 1}/{args.rounds} {ld.label}: {st['cpu_us_per_query']:.2f} "
                f"us/query, {st['completed']}/{st['sent']} answered, {st['qps']:.0f} q/s, "
                f"server CPU {st['server_cpu_s']:.2f} s, dnsperf CPU {st['client_cpu_s']:.2f} s, "
                f"other CPU {st['other_cpu_s']:.2f} s in {st['wall_s']:.1f} s")

    if args.max_duration:
        for ld in loads:
            cmd = dnsperf_command(args, ld.server.port, ld.query_file, args.max_duration, None)
            st = run_dnsperf(cmd, work / f"max-{ld.slug}.txt", ld.server,
                             run_timeout(args.max_duration))
            ld.max_run = st
            log(f"max-QPS {ld.label}: {st['qps']:.0f} q/s, server CPU "
                f"{st['server_cpu_s']:.2f} s, dnsperf CPU {st['client_cpu_s']:.2f} s, "
                f"other CPU {st['other_cpu_s']:.2f} s in {st['wall_s']:.1f} s")

    static_loads = [ld for ld in loads if ld.scenario == "static"]
    geo_loads = [ld for ld in loads if ld.scenario == "geo"]
    if static_loads:
        report_static(args, static_loads, warnings, query_file)
    if geo_loads:
        report_geo(args, geo, geo_loads, None if static_loads else warnings)
    report_reproduce(args, servers, loads)
    if load_report:
        load_report()
    if tcp_result:
        tcp_scenario.report(args, sys.modules[__name__], tcp_result)
    if args.json:
        def load_json(ld):
            return {"server": ld.server.name, "scenario": ld.scenario, "kind": ld.kind,
                    "query_file": ld.query_file.name, "rate_runs": ld.runs,
                    "max_run": ld.max_run}
        result = {
            "machine": machine_info(),
            "options": {k: v for k, v in vars(args).items() if k not in ("work",)},
            "servers": {s.name: {"version": s.version(), "port": s.port,
                                 "start_command": s.start_command,
                                 "load_s": s.load_s, "pss_kib": s.pss_kib}
                        for s in servers},
            "rows": {ld.label: load_json(ld) for ld in loads},
            "sanity_warnings": warnings,
            "samples": samples,
        }
        if load_rows:
            result["load"] = load_scenario.to_json(load_rows)
        if tcp_result:
            result.update(tcp_scenario.to_json(tcp_result))
        if geo:
            result["geo"] = {"database": geo.database.description,
                             "database_file": str(geo.database.mmdb),
                             "queries": geo.files.summary(),
                             "pool_check": geo.pool_rows, "pool_problems": geo.problems}
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


def run_warnings(label, runs, duration, rate, short_of_rate, busy="(a busy machine?)"):
    """Warnings about one row's runs: short_of_rate(the rates achieved) when a run answered
    under 95% of RATE, and one when other processes took more than 15% of a CPU."""
    warnings = []
    achieved = [r["completed"] / duration for r in runs]
    if min(achieved) < 0.95 * rate:
        warnings.append(short_of_rate(achieved))
    other = [r["other_cpu_s"] / max(r["wall_s"], 1e-9) for r in runs]
    if max(other) > 0.15:
        warnings.append(f"{label}: up to {max(other) * 100:.0f}% of a CPU went to neither "
                        f"the server nor dnsperf {busy}; numbers are noisy")
    return warnings


def rate_notes(args, loads):
    """Warnings about rows whose numbers are not comparable: short of the rate, busy machine."""
    notes = []
    for ld in loads:
        notes += run_warnings(
            ld.label, ld.runs, args.duration, args.rate,
            lambda achieved: (f"{ld.label}: answered {min(achieved):.0f}-{max(achieved):.0f} "
                              f"q/s of {args.rate} offered; CPU per query at a lower rate is not "
                              "comparable (lower --rate, or see dnsperf/other CPU%)"))
    return notes


def print_codes_and_notes(args, loads):
    """Each row's response codes in its last CPU run, then the rate_notes."""
    print("Response codes (last CPU run): " + "; ".join(
        f"{ld.label}: " + ", ".join(f"{k} {v}" for k, v in sorted(ld.runs[-1]["rcodes"].items()))
        for ld in loads))
    for n in rate_notes(args, loads):
        print(f"Note: {n}")


def print_warnings(title, warnings):
    print(f"{title}: {len(warnings)} warning(s):")
    for w in warnings:
        print(f"  {w}")


def common_columns(ld):
    """The columns every table shares, after the row's own comparisons."""
    rs = ld.runs
    sent = sum(r["sent"] for r in rs)
    done = sum(r["completed"] for r in rs)
    lost = sum(r["lost"] or 0 for r in rs)
    mx = ld.max_run
    return [
        f"{100.0 * done / sent:.2f}" if sent else "-",
        lost,
        fmt(statistics.median(r["avg_latency_s"] * 1e6 for r in rs), ".0f"),
        f"{statistics.median(r['client_cpu_s'] / r['wall_s'] for r in rs) * 100:.0f}",
        f"{statistics.median(r['other_cpu_s'] / r['wall_s'] for r in rs) * 100:.0f}",
        fmt(mx["qps"] if mx else None, ".0f"),
        fmt(mx["avg_latency_s"] * 1e6 if mx else None, ".0f"),
        fmt(mx["server_cpu_s"] / mx["wall_s"] * 100 if mx else None, ".0f"),
        fmt(mx["client_cpu_s"] / mx["wall_s"] * 100 if mx else None, ".0f"),
    ]


COMMON_HEADERS = ["answered %", "lost", "avg lat us @rate", "dnsperf CPU% @rate",
                  "other CPU% @rate", "max QPS", "avg lat us @max", "server CPU% @max",
                  "dnsperf CPU% @max"]


def report_static(args, loads, warnings, query_file):
    medians = {ld.label: ld.median() for ld in loads}
    base = medians.get("meridian")
    floor = medians.get("floor")
    rows = []
    for ld in loads:
        cpu = [r["cpu_us_per_query"] for r in ld.runs]
        m = medians[ld.label]
        rows.append([
            ld.label, f"{m:.2f}", f"{min(cpu):.2f}-{max(cpu):.2f}",
            fmt(base / m if base and m else None, ".2f"),
            fmt(m / floor if floor else None, ".2f"),
        ] + common_columns(ld) + [f"{ld.server.pss_kib / 1024:.0f}"])
    print()
    print(f"Meridian bench: {args.names} names, {sum(1 for _ in open(query_file))} queries "
          f"({', '.join(f'{k} {v:g}%' for k, v in args.mix.items())}), seed {args.seed}")
    print(f"CPU runs: {args.rounds} x {args.duration} s per server at {args.rate} q/s offered, "
          f"servers interleaved; one server worker each; {machine_info()}")
    print()
    print_table(rows, ["server", "CPU us/q (median)", "min-max", "meridian/server", "x floor"]
                + COMMON_HEADERS + ["PSS MiB"])
    print()
    print("CPU us/q: user+system CPU of all the server's threads and processes "
          "(/proc/PID/stat, descendants included) per answered query, at the fixed rate.")
    print("meridian/server: Meridian's CPU per query over this server's; below 1 means "
          "Meridian spends less.")
    print("x floor: this server's CPU per query over the floor's (a UDP echo with QR set, "
          "recvmmsg/sendmmsg 32 wide, no lookup: the kernel path alone).")
    print("dnsperf/other CPU%: share of one CPU used by dnsperf / by anything else on the "
          "machine during the runs (median).")
    print("max QPS: one unthrottled dnsperf run; whichever of server CPU% and dnsperf CPU% "
          "is near 100 is the limit (often dnsperf).")
    print()
    print_codes_and_notes(args, loads)
    if warnings:
        print_warnings("Sanity check", warnings)
    else:
        print("Sanity check: all servers gave the same, expected answers to "
              f"{len(sample_queries(args.names))} sample queries"
              + (" (floor not checked: it echoes the query)." if "floor" in medians else "."))


def report_geo(args, geo, loads, warnings):
    """The geo table; WARNINGS: the static sample check's, when no static table showed them."""
    medians = {ld.label: ld.median() for ld in loads}
    by_kind = {}
    for ld in loads:
        by_kind.setdefault(ld.server.name, {})[ld.kind] = medians[ld.label]
    floor = medians.get("floor steered+ECS")
    rows = []
    for ld in loads:
        m = medians[ld.label]
        own = by_kind[ld.server.name]
        meridian_same = by_kind.get("meridian-geo", {}).get(ld.kind)
        cpu = [r["cpu_us_per_query"] for r in ld.runs]
        last = ld.runs[-1]
        rows.append([
            ld.label, f"{m:.2f}", f"{min(cpu):.2f}-{max(cpu):.2f}",
            # Throughput at equal CPU, as a share of this server's static answers.
            fmt(own["static"] / m if "static" in own and ld.server.serves_zone else None, ".2f"),
            fmt(meridian_same / m if meridian_same and ld.server.serves_zone else None, ".2f"),
            fmt(m / floor if floor else None, ".2f"),
            f"{last['request_bytes'] or '-'}/{last['response_bytes'] or '-'}",
        ] + common_columns(ld) + [f"{ld.server.pss_kib / 1024:.0f}"])
    print()
    print(f"GeoDNS: {geo.database.description}, {len(geo.database.networks.first)} IPv4 "
          f"networks; policy: map on {geo_scenario.geo_name(ORIGIN)} over "
          f"{len(geo_scenario.POOLS)} pools ({len(geo_scenario.COUNTRY_RULES)} country rules, "
          f"{len(geo_scenario.CONTINENT_RULES)} continent rules, default), ECS on")
    print(f"Queries (dnsperf -B): {geo.files.summary()}; static: the mix above, no EDNS; "
          "static+ECS: the same names with the steered file's client subnets")
    print()
    print_table(rows, ["row", "CPU us/q (median)", "min-max", "static/row", "meridian/row",
                       "x floor", "bytes q/r"] + COMMON_HEADERS + ["PSS MiB"])
    print()
    print("static/row: the server's static CPU per query over this row's, i.e. throughput at "
          "equal CPU as a share of its static answers (the target for Meridian's steered "
          "row is >= 0.85).")
    print("meridian/row: Meridian's CPU per query for the same kind of row over this one's; "
          "below 1 means Meridian spends less. x floor: over the floor on the steered file.")
    print("bytes q/r: average query/response size (dnsperf); ECS adds an OPT record both ways.")
    m = by_kind.get("meridian-geo", {})
    g = by_kind.get("gdnsd-geo", {})
    print()
    if "static" in m and "steered+ECS" in m:
        share = m["static"] / m["steered+ECS"]
        print(f"Meridian steered with ECS: {m['steered+ECS']:.2f} us/q vs {m['static']:.2f} "
              f"static: throughput {share * 100:.0f}% of static (target >= 85%: "
              f"{'met' if share >= 0.85 else 'NOT met'}).")
        if "static+ECS" in m:
            print(f"  of which EDNS+ECS on static names: {m['static+ECS']:.2f} us/q "
                  f"({m['static'] / m['static+ECS'] * 100:.0f}% of static); steering itself "
                  f"{m['steered+ECS'] - m['static+ECS']:+.2f} us/q.")
    if "steered+ECS" in m and "steered+ECS" in g:
        print(f"Meridian vs gdnsd plugin_geoip, steered with ECS: {m['steered+ECS']:.2f} vs "
              f"{g['steered+ECS']:.2f} us/q (meridian/gdnsd {m['steered+ECS'] / g['steered+ECS']:.2f})"
              + (f"; gdnsd's own steered/static: {g['static'] / g['steered+ECS'] * 100:.0f}%."
                 if "static" in g else "."))
    print_codes_and_notes(args, loads)
    if warnings:
        print_warnings("Sanity check (static sample queries)", warnings)
    elif warnings is not None:
        print(f"Sanity check: the servers gave the same, expected answers to "
              f"{len(sample_queries(args.names))} static sample queries.")
    names = list(dict.fromkeys(ld.server.name for ld in loads if ld.server.serves_zone))
    print(f"Pool check: {len(geo.pool_rows)} sampled client subnets, A and AAAA, on "
          f"{', '.join(names)}:")
    for line in geo_scenario.format_pool_rows(geo.pool_rows, names):
        print(f"  {line}")
    if geo.problems:
        print(f"Pool check: {len(geo.problems)} problem(s):")
        for w in geo.problems:
            print(f"  {w}")
    else:
        print("Pool check: every server answered every sample with the policy's pool "
              "(scopes may differ: each merges equal neighbours its own way).")


def report_reproduce(args, servers, loads):
    print()
    print("Reproduce (paths are in a temporary folder; --keep-workdir keeps it):")
    print(f"  bench/run.sh {shlex.join(sys.argv[1:])}".rstrip())
    for s in servers:
        print(f"  {s.name} ({s.version() or 'version unknown'}): {s.start_command}")
    shown = set()
    for ld in loads:
        if ld.query_file in shown:
            continue
        shown.add(ld.query_file)
        print(f"  dnsperf at a fixed rate ({ld.query_file.name}): " + shlex.join(
            dnsperf_command(args, ld.server.port, ld.query_file, args.duration, args.rate)))
    if args.max_duration:
        print("  dnsperf max QPS: the same without -Q and with -l " + str(args.max_duration))
    print("  (-p differs per server: " + ", ".join(f"{s.name} {s.port}" for s in servers) + ")")
    for s in servers:
        if s.config_path:
            print(f"\n--- {s.config_path.name} ({s.name}) ---\n{s.config_text.rstrip()}")
        if s.zone_text_path:
            print(f"\n--- {s.zone_text_path.name} ({s.name}) ---\n"
                  f"{s.zone_text_path.read_text().rstrip()}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

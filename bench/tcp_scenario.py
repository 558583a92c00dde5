# The TCP, idle-connection and worker scenarios of the dnsperf bench (bench/README.md):
# pipelined queries on persistent TCP connections, the memory an idle connection costs each
# server, and 1 vs 2 workers per server. Driven by dnsperf_bench.py, whose servers, dnsperf
# runs and CPU accounting it reuses.
"""TCP, idle connections and workers: Meridian against Knot, NSD and gdnsd.

tcp: dnsperf -m tcp keeps one connection per client (-c) open for the whole run (its
"Reconnections" stays 0) and pipelines up to -q queries over them, so this is server CPU per
answered query with RFC 7766 pipelining at a fixed rate, measured like the UDP scenarios.
idle: N client connections that each asked one question and then stay quiet; the server's
PSS growth per connection is what an idle connection costs it in user space.
workers: the static UDP mix with 1 and 2 workers per server, CPU per query at a fixed rate
and an unthrottled max QPS run (which on 2 CPUs mostly measures dnsperf: see the README).
"""

import resource
import selectors
import socket
import statistics
import struct
import sys
import time

import dns.exception
import dns.flags
import dns.message
import dns.query

SERVERS = ("meridian", "knot", "nsd", "gdnsd")
SCENARIOS = ("tcp", "idle", "workers")


class TcpBenchError(Exception):
    """A failure the user can act on; printed without a traceback."""


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def wanted(args):
    return any(s in args.scenarios for s in SCENARIOS)


def needs_meridian(args):
    return (("tcp" in args.scenarios or "idle" in args.scenarios)
            and "meridian" in args.tcp_servers) or (
        "workers" in args.scenarios and "meridian" in args.workers_servers)


# ---------------------------------------------------------------------------------------------
# Server configs: the static scenario's, with the worker count and TCP limits changed


def reconfigure(server, replacements):
    """Edits the config a dnsperf_bench server class wrote, failing loudly when a line it
    expects is gone (the classes there are the single source of each server's config)."""
    text = server.config_text
    for old, new in replacements:
        if old not in text:
            raise TcpBenchError(f"{server.name}: config line {old.strip()!r} not found")
        text = text.replace(old, new, 1)
    server.write_config(server.config_path, text)


def config_changes(kind, workers, tcp_clients, idle_timeout):
    """The (old, new) config lines that give a server of KIND WORKERS UDP (and TCP) workers,
    and with TCP_CLIENTS its connection limit and IDLE_TIMEOUT (added to the last new line)."""
    if kind == "meridian":
        changes = [("workers = 1\n", f"workers = {workers}\n")]
        limits = (f"tcp_max_connections = {tcp_clients}\ntcp_idle_timeout = {idle_timeout}\n"
                  # every bench client is one address: no per-client cap here
                  "tcp_max_connections_per_client = 0\n")
    elif kind == "knot":
        changes = [("    udp-workers: 1\n", f"    udp-workers: {workers}\n"),
                   ("    tcp-workers: 1\n", f"    tcp-workers: {workers}\n")]
        limits = f"    tcp-max-clients: {tcp_clients}\n    tcp-idle-timeout: {idle_timeout}\n"
    elif kind == "nsd":
        lines = f"    server-count: {workers}\n"
        if workers > 1:  # one socket per server process, as Meridian, Knot and gdnsd have
            lines += "    reuseport: yes\n"
        changes = [("    server-count: 1\n", lines)]
        limits = f"    tcp-count: {tcp_clients}\n    tcp-timeout: {idle_timeout}\n"
    elif kind == "gdnsd":
        changes = [("    udp_threads => 1\n    tcp_threads => 1\n",
                    f"    udp_threads => {workers}\n    tcp_threads => {workers}\n")]
        # gdnsd's tcp_timeout is at most 1800 s.
        limits = (f"    tcp_clients_per_thread => {min(tcp_clients, 65535)}\n"
                  f"    tcp_timeout => {min(idle_timeout, 1800)}\n")
    else:
        raise ValueError(kind)
    if tcp_clients:
        old, new = changes[-1]
        changes[-1] = (old, new + limits)
    return changes


def make_server(kit, kind, label, work, zone_file, meridian_binary, workers=1, tcp_clients=0,
                idle_timeout=0):
    """A server of KIND named LABEL with WORKERS UDP (and TCP) workers. With TCP_CLIENTS, its
    connection limit allows that many clients and idle connections live IDLE_TIMEOUT s."""
    port = kit.free_port()
    changes = config_changes(kind, workers, tcp_clients, idle_timeout)
    if kind == "meridian":
        s = kit.Meridian(work, zone_file, port, meridian_binary, name=label)
    else:
        s = {"knot": kit.Knot, "nsd": kit.Nsd, "gdnsd": kit.Gdnsd}[kind](work, zone_file, port,
                                                                         name=label)
    reconfigure(s, changes)
    s.kind = kind
    return s


def raise_open_files(wanted_files):
    """Raises RLIMIT_NOFILE of this process (and so of the servers it starts) towards the hard
    limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted_files if hard == resource.RLIM_INFINITY else min(wanted_files, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------------------------
# dnsperf over TCP


def dnsperf_command(kit, args, port, query_file, duration, rate, transport="udp", clients=None,
                    threads=None):
    cmd = kit.dnsperf_command(args, port, query_file, duration, rate)
    if clients:
        cmd[cmd.index("-c") + 1] = str(clients)
    if threads:
        cmd[cmd.index("-T") + 1] = str(threads)
    if transport == "tcp":
        # One persistent connection per client (-c); -q queries in flight spread over them.
        cmd += ["-m", "tcp"]
    return cmd


def reconnections(out_path):
    """dnsperf's count of TCP reconnections (0 when every connection stayed open)."""
    for line in open(out_path, errors="replace"):
        if line.strip().startswith("Reconnections:"):
            return int(line.split()[1])
    return None


def tcp_sanity_check(kit, servers, names):
    """The sample questions over TCP: a hit without an answer stops the bench."""
    problems = []
    for s in servers:
        for category, qname, qtype in kit.sample_queries(names):
            q = dns.message.make_query(qname, qtype)
            q.flags &= ~dns.flags.RD
            try:
                d = kit.describe(dns.query.tcp(q, "127.0.0.1", port=s.port, timeout=2.0))
            except (dns.exception.DNSException, OSError) as e:
                raise TcpBenchError(f"{s.name}: {qname} {qtype} over TCP: {e!r}")
            problem = kit.expectation(category, d)
            if problem and category == "hit":
                raise TcpBenchError(f"{s.name}: {qname} {qtype} over TCP: {problem}")
            if problem:
                problems.append(f"{s.name}: {category} {qname} {qtype} over TCP: {problem}")
    return problems


# ---------------------------------------------------------------------------------------------
# Idle connections


def query_frame(qname, qid):
    q = dns.message.make_query(qname, "A")
    q.id = qid
    wire = q.to_wire()
    return struct.pack("!H", len(wire)) + wire


def read_one_frame(sock):
    """One DNS-over-TCP message without its length prefix; None if the peer closes first."""
    wanted, data = 2, b""
    while len(data) < wanted:
        chunk = sock.recv(wanted - len(data))
        if not chunk:
            return None
        data += chunk
        if wanted == 2 and len(data) == 2:  # the prefix is in: now its message
            wanted += struct.unpack("!H", data)[0]
    return data[2:]


def open_idle_connections(port, count, qname, batch=250, timeout=30.0):
    """COUNT connections that each asked QNAME once and got the answer; returns the sockets
    and how many were answered. Opened in batches, each batch answered before the next, so
    the listen backlog never overflows (a dropped SYN costs a 1 s retransmit)."""
    sockets, answered = [], 0
    deadline = time.monotonic() + timeout + count / 100
    while len(sockets) < count and time.monotonic() < deadline:
        fresh = []
        for _ in range(min(batch, count - len(sockets))):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(5.0)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            fresh.append(s)
        for i, s in enumerate(fresh):
            try:
                s.sendall(query_frame(qname, (len(sockets) + i) & 0xFFFF))
            except OSError:
                pass
        for s in fresh:
            try:
                if read_one_frame(s) is not None:
                    answered += 1
            except OSError:
                pass
        sockets.extend(fresh)
        if not fresh:
            break
    return sockets, answered


def still_open(sockets):
    """How many of SOCKETS the server has not closed (no EOF or reset pending)."""
    selector = selectors.DefaultSelector()
    for s in sockets:
        selector.register(s, selectors.EVENT_READ)
    readable = {key.fileobj for key, _ in selector.select(timeout=0.2)}
    selector.close()
    closed = 0
    for s in readable:
        try:
            s.setblocking(False)
            if s.recv(1, socket.MSG_PEEK) == b"":
                closed += 1
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            closed += 1
    return len(sockets) - closed


def measure_idle(kit, server, count, qname, settle=1.0):
    pid = server.proc.pid
    time.sleep(settle)
    before = kit.pss_kib(pid)
    t0 = time.monotonic()
    sockets, answered = open_idle_connections(server.port, count, qname)
    opened_s = time.monotonic() - t0
    time.sleep(settle)  # let the server hand back what the first answers needed
    during = kit.pss_kib(pid)
    open_now = still_open(sockets)
    for s in sockets:
        s.close()
    time.sleep(settle)
    after = kit.pss_kib(pid)
    row = {"server": server.name, "connections": len(sockets), "answered": answered,
           "still_open": open_now, "pss_before_kib": before, "pss_idle_kib": during,
           "pss_after_close_kib": after, "open_s": opened_s,
           "bytes_per_connection": (during - before) * 1024 / max(len(sockets), 1)}
    log(f"idle {server.name}: {len(sockets)} connections in {opened_s:.1f} s ({answered} "
        f"answered, {open_now} still open), PSS {before} -> {during} KiB ({row['bytes_per_connection']:.0f} "
        f"bytes each), {after} KiB after closing them")
    return row


# ---------------------------------------------------------------------------------------------
# The scenarios


class Row:
    """One server measured at a fixed rate in every round, plus an optional max-QPS run."""

    def __init__(self, label, server, query_file, transport, clients=None, threads=None):
        self.label = label
        self.server = server
        self.query_file = query_file
        self.transport = transport
        self.clients = clients
        self.threads = threads
        self.runs = []
        self.max_run = None

    def command(self, kit, args, duration, rate):
        return dnsperf_command(kit, args, self.server.port, self.query_file, duration, rate,
                               self.transport, self.clients, self.threads)

    @property
    def slug(self):
        return "".join(c if c.isalnum() else "-" for c in self.label.lower())

    def median(self):
        return statistics.median(r["cpu_us_per_query"] for r in self.runs)


class Result:
    def __init__(self):
        self.tcp_rows, self.worker_rows, self.idle_rows = [], [], []
        self.problems = []
        self.servers = []
        self.commands = []


def run(args, kit, work, zone_file, query_file, meridian_binary):
    """Runs the scenarios asked for; returns a Result. Its servers are stopped on return."""
    result = Result()
    started = []
    try:
        _run(args, kit, work, zone_file, query_file, meridian_binary, result, started)
    finally:
        for s in started:
            s.stop()
    return result


def _run(args, kit, work, zone_file, query_file, meridian_binary, result, started):
    tcp_clients = args.idle_connections + 100 if "idle" in args.scenarios else 1024
    if "idle" in args.scenarios:
        limit = raise_open_files(2 * args.idle_connections + 1000)
        if limit < args.idle_connections + 200:
            log(f"idle: RLIMIT_NOFILE is {limit}; opening {limit - 200} connections instead "
                f"of {args.idle_connections}")
            args.idle_connections = max(0, limit - 200)
    tcp_servers = []
    if "tcp" in args.scenarios or "idle" in args.scenarios:
        for kind in args.tcp_servers:
            s = make_server(kit, kind, f"{kind}-tcp", work, zone_file, meridian_binary,
                            tcp_clients=tcp_clients, idle_timeout=300)
            if kit.start_server(args, s, started):
                tcp_servers.append(s)
        result.problems += tcp_sanity_check(kit, tcp_servers, args.names)
    worker_rows = []
    if "workers" in args.scenarios:
        for kind in args.workers_servers:
            for workers in (1, 2):
                s = make_server(kit, kind, f"{kind}-w{workers}", work, zone_file,
                                meridian_binary, workers=workers)
                if kit.start_server(args, s, started):
                    worker_rows.append(Row(f"{kind} {workers}w", s, query_file, "udp",
                                           clients=args.workers_clients,
                                           threads=args.workers_threads))
                    s.workers = workers
    result.servers = list(started)

    tcp_rows = [Row(f"{s.kind} tcp", s, query_file, "tcp") for s in tcp_servers] \
        if "tcp" in args.scenarios else []
    timeout = lambda d: d + args.query_timeout + 30  # noqa: E731

    # Each scenario's rows in turn, A B C A B C, with the unmeasured warm-up first.
    for name, rows, rate in (("tcp", tcp_rows, args.tcp_rate),
                             ("workers", worker_rows, args.workers_rate)):
        if not rows:
            continue
        if args.warmup:
            for row in rows:
                kit.run_dnsperf(row.command(kit, args, args.warmup, rate),
                                work / f"warmup-{row.slug}.txt", row.server,
                                timeout(args.warmup))
        for rnd in range(args.rounds):
            for row in rows:
                out = work / f"rate-{row.slug}-{rnd}.txt"
                st = kit.run_dnsperf(row.command(kit, args, args.duration, rate), out,
                                     row.server, timeout(args.duration))
                st["reconnections"] = reconnections(out)
                row.runs.append(st)
                log(f"round {rnd + 1}/{args.rounds} {row.label}: "
                    f"{st['cpu_us_per_query']:.2f} us/query, {st['completed']}/{st['sent']} "
                    f"answered, {st['qps']:.0f} q/s, server CPU {st['server_cpu_s']:.2f} s, "
                    f"dnsperf CPU {st['client_cpu_s']:.2f} s, other CPU "
                    f"{st['other_cpu_s']:.2f} s"
                    + (f", {st['reconnections']} reconnections" if row.transport == "tcp"
                       else ""))
        if args.max_duration:
            for row in rows:
                out = work / f"max-{row.slug}.txt"
                st = kit.run_dnsperf(row.command(kit, args, args.max_duration, None), out,
                                     row.server, timeout(args.max_duration))
                row.max_run = st
                log(f"max-QPS {row.label}: {st['qps']:.0f} q/s, server CPU "
                    f"{st['server_cpu_s']:.2f} s, dnsperf CPU {st['client_cpu_s']:.2f} s")
        result.commands.append((name, rows[0].command(kit, args, args.duration, rate)))
    result.tcp_rows, result.worker_rows = tcp_rows, worker_rows

    if "idle" in args.scenarios and args.idle_connections:
        qname = f"host0.{kit.ORIGIN}"
        for s in tcp_servers:
            result.idle_rows.append(measure_idle(kit, s, args.idle_connections, qname))


# ---------------------------------------------------------------------------------------------
# Report


def rate_columns(args, row, rate):
    rs = row.runs
    cpu = [r["cpu_us_per_query"] for r in rs]
    sent = sum(r["sent"] for r in rs)
    done = sum(r["completed"] for r in rs)
    mx = row.max_run
    return [
        f"{row.median():.2f}", f"{min(cpu):.2f}-{max(cpu):.2f}",
        f"{100.0 * done / sent:.2f}" if sent else "-",
        f"{statistics.median(r['avg_latency_s'] * 1e6 for r in rs):.0f}",
        f"{statistics.median(r['server_cpu_s'] / r['wall_s'] for r in rs) * 100:.0f}",
        f"{statistics.median(r['client_cpu_s'] / r['wall_s'] for r in rs) * 100:.0f}",
        f"{statistics.median(r['other_cpu_s'] / r['wall_s'] for r in rs) * 100:.0f}",
        f"{mx['qps']:.0f}" if mx else "-",
        f"{mx['server_cpu_s'] / mx['wall_s'] * 100:.0f}" if mx else "-",
        f"{mx['client_cpu_s'] / mx['wall_s'] * 100:.0f}" if mx else "-",
    ]


RATE_HEADERS = ["CPU us/q (median)", "min-max", "answered %", "avg lat us", "server CPU%",
                "dnsperf CPU%", "other CPU%", "max QPS", "server CPU% @max",
                "dnsperf CPU% @max"]


def print_rate_table(kit, title, table, comparison, last):
    """TITLE and TABLE under the rate columns, COMPARISON after the first two, LAST at the end."""
    print()
    print(title)
    print()
    kit.print_table(table, ["server"] + RATE_HEADERS[:2] + [comparison] + RATE_HEADERS[2:]
                    + [last])
    print()


def notes(args, kit, rows, rate):
    out = []
    for row in rows:
        out += kit.run_warnings(
            row.label, row.runs, args.duration, rate,
            lambda achieved: (f"{row.label}: answered {min(achieved):.0f} q/s of {rate} "
                              "offered; not comparable (lower the rate)"),
            busy="(a busy machine)")
    return out


def report(args, kit, result):
    if result.tcp_rows:
        rows = result.tcp_rows
        meridian = next((r.median() for r in rows if r.server.kind == "meridian"), None)
        table = []
        for row in rows:
            reconnects = sum(r.get("reconnections") or 0 for r in row.runs)
            table.append([row.label] + rate_columns(args, row, args.tcp_rate)[:2] + [
                kit.fmt(meridian / row.median() if meridian else None, ".2f")]
                + rate_columns(args, row, args.tcp_rate)[2:] + [reconnects])
        print_rate_table(
            kit, f"TCP: dnsperf -m tcp, {args.clients} persistent connections, up to "
            f"{args.outstanding} queries in flight over them (pipelined), "
            f"{args.rounds} x {args.duration} s per server at {args.tcp_rate} q/s, servers "
            f"interleaved, one worker each; {kit.machine_info()}",
            table, "meridian/server", "reconnects")
        print("CPU us/q as in the UDP table (all threads and processes of the server, per "
              "answered query); meridian/server below 1: Meridian spends less per TCP query.")
        print("reconnects: dnsperf's TCP reconnections over all rounds (0: the connections "
              "stayed open for every run).")
        for n in notes(args, kit, rows, args.tcp_rate):
            print(f"Note: {n}")
    if result.idle_rows:
        rows = result.idle_rows
        meridian = next((r for r in rows if r["server"].startswith("meridian")), None)
        table = []
        for r in rows:
            per = r["bytes_per_connection"]
            table.append([
                r["server"], r["connections"], r["answered"], r["still_open"],
                f"{r['pss_before_kib'] / 1024:.1f}", f"{r['pss_idle_kib'] / 1024:.1f}",
                f"{per:.0f}",
                kit.fmt(meridian["bytes_per_connection"] / per if meridian and per > 0
                        else None, ".2f"),
                f"{r['pss_after_close_kib'] / 1024:.1f}", f"{r['open_s']:.1f}"])
        print()
        print(f"Idle TCP connections: {args.idle_connections} connections per server, each "
              "asked one question and then stayed quiet; PSS of the server's processes before, "
              "with them open, and after closing them")
        print()
        kit.print_table(table, ["server", "connections", "answered", "still open",
                                "PSS MiB before", "PSS MiB idle", "bytes/connection",
                                "meridian/server", "PSS MiB after close", "s to open"])
        print()
        print("bytes/connection: PSS growth over the connections; user-space memory only "
              "(the kernel's socket state, a few KiB per connection, is the same for every "
              "server and is not in PSS).")
    if result.worker_rows:
        rows = result.worker_rows
        by = {(r.server.kind, r.server.workers): r for r in rows}
        table = []
        for row in rows:
            one = by.get((row.server.kind, 1))
            cols = rate_columns(args, row, args.workers_rate)
            ratio_cpu = one.median() / row.median() if one and row is not one else None
            ratio_qps = (row.max_run["qps"] / one.max_run["qps"]
                         if one and row is not one and row.max_run and one.max_run else None)
            table.append([row.label] + cols[:2] + [kit.fmt(ratio_cpu, ".2f")] + cols[2:]
                         + [kit.fmt(ratio_qps, ".2f")])
        print_rate_table(
            kit, f"Workers: the static UDP mix with 1 and 2 workers per server, dnsperf "
            f"-c {args.workers_clients} -T {args.workers_threads}, {args.rounds} x "
            f"{args.duration} s at {args.workers_rate} q/s, rows interleaved",
            table, "1w/row CPU", "max QPS vs 1w")
        print("1w/row CPU: the 1-worker row's CPU per query over this row's (below 1: two "
              "workers spend more per query). max QPS vs 1w: this row's unthrottled rate over "
              "the 1-worker row's.")
        print("On 2 CPUs dnsperf needs most of one, so 2 workers cannot double max QPS here: "
              "read server CPU% @max and dnsperf CPU% @max for which side was the limit.")
        for n in notes(args, kit, rows, args.workers_rate):
            print(f"Note: {n}")
    for p in result.problems:
        print(f"Sanity check over TCP: {p}")
    if result.commands:
        print()
        for name, cmd in result.commands:
            print(f"  dnsperf ({name}): " + " ".join(map(str, cmd)))
        for s in result.servers:
            print(f"  {s.name}: {s.start_command}")
        for s in result.servers:
            print(f"\n--- {s.config_path.name} ({s.name}) ---\n{s.config_text.rstrip()}")


def to_json(result):
    def row_json(row):
        return {"label": row.label, "server": row.server.name, "rate_runs": row.runs,
                "max_run": row.max_run}
    return {"tcp": [row_json(r) for r in result.tcp_rows],
            "workers": [row_json(r) for r in result.worker_rows],
            "idle": result.idle_rows, "problems": result.problems}

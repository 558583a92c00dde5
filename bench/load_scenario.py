# The load scenario: a large zone (1M names, about 1.8M records) served by Meridian, Knot DNS
# and NSD in turn; time from start to the first answer for a name near the end of the zone,
# memory (PSS of every process), reload time, and queries lost by a reload under steady load.
"""Large-zone load, memory and reload measurements (bench/README.md, "The load scenario").

Servers run one at a time, so a 1M-name zone never has three servers fighting for memory
and CPU while one of them is being timed.
"""

import os
import random
import shlex
import signal
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode

# The SOA line write_zone() writes; the serial is patched in place for each reload.
SOA_PREFIX = "@ IN SOA ns1 hostmaster "


class LoadError(Exception):
    """A failure the user can act on; printed without a traceback."""


def record_count(names, delegations):
    """Records write_zone() writes for NAMES hosts (the table's bytes per record)."""
    apex = 1 + 2 + 1 + 1  # SOA, 2 NS, MX, TXT
    fixed = 3 + 3  # ns1, ns2, mail; the wildcard's A, AAAA, TXT
    hosts = sum(1 + (i % 2 == 0) + (i % 10 == 0) + (i % 5 == 0) for i in range(names))
    return apex + fixed + 5 * delegations + hosts


def set_serial(zone_file, serial):
    """Rewrites the zone with a new SOA serial, atomically (write, then rename), so a server
    never reads half a file and sees a new modification time."""
    text = zone_file.read_bytes()
    start = text.index(SOA_PREFIX.encode()) + len(SOA_PREFIX)
    end = text.index(b" ", start)
    tmp = zone_file.with_name(zone_file.name + ".tmp")
    tmp.write_bytes(text[:start] + str(serial).encode() + text[end:])
    os.replace(tmp, zone_file)


def query(port, name, qtype, timeout):
    q = dns.message.make_query(name, qtype)
    q.flags &= ~dns.flags.RD
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)


def answers(port, name, qtype, timeout=0.05):
    """The answer RRset's text when the server gives an authoritative NOERROR, else None."""
    try:
        r = query(port, name, qtype, timeout)
    except (dns.exception.Timeout, OSError):
        return None
    if r.rcode() != dns.rcode.NOERROR or not (r.flags & dns.flags.AA) or not r.answer:
        return None
    return r.answer[0]


def serial_of(port, origin):
    rrset = answers(port, origin, "SOA")
    return rrset[0].serial if rrset else None


def wait_for(predicate, timeout, server, what, sample=None):
    """Polls PREDICATE every 10 ms; returns seconds waited. SAMPLE runs every 100 ms."""
    t0 = time.monotonic()
    next_sample = t0
    while True:
        if predicate():
            return time.monotonic() - t0
        now = time.monotonic()
        if sample and now >= next_sample:
            sample()
            next_sample = now + 0.1
        if not server.is_running():
            raise LoadError(f"{server.name} exited while {what}; its log:\n{server.log_tail()}")
        if now - t0 > timeout:
            raise LoadError(f"{server.name}: no {what} within {timeout:.0f} s; "
                            f"its log:\n{server.log_tail()}")
        time.sleep(0.01)


def trigger_reload(server):
    """Meridian and NSD reload on SIGHUP (NSD re-reads the zone files that changed); Knot
    through knotc. Returns the command, for the report."""
    if server.name == "knot":
        cmd = ["knotc", "-s", str(server.dir / "knot.sock"), "zone-reload", server.origin]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise LoadError(f"{shlex.join(cmd)} failed: {r.stdout}{r.stderr}")
        return shlex.join(cmd)
    os.kill(server.proc.pid, signal.SIGHUP)
    return f"kill -HUP <{server.name} pid>"


def write_host_queries(path, names, origin, count, seed):
    """Queries for names that exist (A for every host), so every answer should be NOERROR."""
    rng = random.Random(seed)
    with open(path, "w") as out:
        for _ in range(count):
            out.write(f"host{rng.randrange(names)}.{origin} A\n")


class Row:
    def __init__(self, name):
        self.name = name
        self.ready_s = None
        self.pss_kib = None
        self.reload_s = None
        self.reload_peak_kib = None
        self.loaded = None  # dnsperf stats of the run with a reload in the middle
        self.loaded_reload_s = None
        self.reload_command = ""


def measure(args, kit, server, zone_file, names, origin, query_file):
    """Start, ready time, PSS, idle reload, reload under load; stops SERVER at the end."""
    row = Row(server.name)
    server.origin = origin
    last_name = f"host{names - 1}.{origin}"
    set_serial(zone_file, 1)
    server.prefix = kit.launch_prefix(args, args.server_cpu)
    kit.log(f"load: starting {server.name}: {shlex.join(map(str, server.prefix + server.command()))}")
    t0 = time.monotonic()
    server.start()
    try:
        row.ready_s = wait_for(lambda: answers(server.port, last_name, "A") is not None,
                               args.start_timeout, server, f"answer for {last_name}")
        row.ready_s = time.monotonic() - t0
        time.sleep(1)  # let the start-up settle (NSD forks its serving children)
        row.pss_kib = kit.pss_kib(server.proc.pid)
        kit.log(f"load: {server.name} answers after {row.ready_s:.2f} s, "
                f"PSS {row.pss_kib >> 10} MiB")

        # Reload with no load: time until the new serial is served, and the peak memory
        # while both versions exist.
        peak = [row.pss_kib]
        set_serial(zone_file, 2)
        t0 = time.monotonic()
        row.reload_command = trigger_reload(server)
        row.reload_s = wait_for(lambda: serial_of(server.port, origin) == 2, args.start_timeout,
                                server, "serial 2 after the reload",
                                sample=lambda: peak.append(kit.pss_kib(server.proc.pid)))
        row.reload_s = time.monotonic() - t0
        time.sleep(0.5)
        peak.append(kit.pss_kib(server.proc.pid))
        row.reload_peak_kib = max(peak)
        kit.log(f"load: {server.name} serves serial 2 after {row.reload_s:.2f} s, "
                f"peak PSS {row.reload_peak_kib >> 10} MiB")

        # Reload under a steady load: dnsperf at a rate every server sustains, the reload
        # a second in; every query it reports lost was dropped by the reload.
        duration = max(args.load_duration, int(row.reload_s * 2) + 4)
        cmd = kit.dnsperf_command(args, server.port, query_file, duration, args.load_rate)
        out_path = server.dir / "dnsperf-reload.txt"
        with open(out_path, "w") as out:
            p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
            try:
                time.sleep(1.5)
                set_serial(zone_file, 3)
                t0 = time.monotonic()
                trigger_reload(server)
                wait_for(lambda: serial_of(server.port, origin) == 3, duration + 30, server,
                         "serial 3 after the reload under load")
                row.loaded_reload_s = time.monotonic() - t0
                p.wait(timeout=duration + 60)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        text = Path(out_path).read_text(errors="replace")
        if p.returncode != 0:
            raise LoadError(f"dnsperf failed ({shlex.join(cmd)}):\n{text}")
        row.loaded = kit.parse_dnsperf(text)
        row.dnsperf_command = shlex.join(map(str, cmd))
        kit.log(f"load: {server.name} under load: {row.loaded['completed']}/"
                f"{row.loaded['sent']} answered, {row.loaded['lost']} lost, reload "
                f"{row.loaded_reload_s:.2f} s")
    finally:
        server.stop()
    return row


def run(args, kit, work, servers, meridian_binary):
    """Runs the scenario; returns its rows and (names, records) for report()."""
    # A folder of its own, so the servers' folders do not meet the other scenarios'.
    work = work / "load"
    work.mkdir()
    zone_dir = work / "zones"
    zone_dir.mkdir()
    origin = kit.ORIGIN
    zone_file = zone_dir / f"{origin}zone"
    names = args.load_names
    t0 = time.monotonic()
    kit.write_zone(zone_file, names)
    records = record_count(names, kit.delegation_count(names))
    query_file = work / "queries.txt"
    write_host_queries(query_file, names, origin, 100000, args.seed)
    kit.log(f"load: zone of {names} names, {records} records "
            f"({zone_file.stat().st_size >> 20} MiB), {time.monotonic() - t0:.1f} s")

    rows = []
    for name in args.load_servers:
        port = kit.free_port()
        if name == "meridian":
            s = kit.Meridian(work, zone_file, port, meridian_binary)
        else:
            s = {"knot": kit.Knot, "nsd": kit.Nsd}[name](work, zone_file, port)
        servers.append(s)
        try:
            rows.append(measure(args, kit, s, zone_file, names, origin, query_file))
        except LoadError as e:
            if not args.keep_going:
                raise
            kit.log(f"load: dropping {name}: {e}")
        servers.remove(s)
    return rows, (names, records)


def report(args, kit, rows, names, records):
    """Prints the table and its notes."""
    print()
    print(f"Large zone: {names} names, {records} records; servers one at a time; "
          f"reload under dnsperf -Q {args.load_rate}")
    print()
    knot = next((r for r in rows if r.name == "knot"), None)
    peers = [r for r in rows if not r.name.startswith("meridian") and r.pss_kib]
    leanest = min(peers, key=lambda r: r.pss_kib) if peers else None
    headers = ["server", "ready s", "x knot", "PSS MiB", "B/record", "x leanest", "reload s",
               "peak MiB", "sent", "lost", "reload s (load)"]
    table = []
    for r in rows:
        table.append([
            r.name,
            kit.fmt(r.ready_s, ".2f"),
            kit.fmt(r.ready_s / knot.ready_s if knot and r.ready_s else None, ".2f"),
            kit.fmt(r.pss_kib / 1024 if r.pss_kib else None, ".0f"),
            kit.fmt(r.pss_kib * 1024 / records if r.pss_kib else None, ".0f"),
            kit.fmt(r.pss_kib / leanest.pss_kib if leanest and r.pss_kib else None, ".2f"),
            kit.fmt(r.reload_s, ".2f"),
            kit.fmt(r.reload_peak_kib / 1024 if r.reload_peak_kib else None, ".0f"),
            kit.fmt(r.loaded["sent"] if r.loaded else None, "d"),
            kit.fmt(r.loaded["lost"] if r.loaded else None, "d"),
            kit.fmt(r.loaded_reload_s, ".2f"),
        ])
    kit.print_table(table, headers)
    print()
    if leanest:
        print(f"leanest peer: {leanest.name}; B/record = PSS of all the server's "
                     "processes / records in the zone")
    print("ready s: from exec to the first authoritative answer for "
                 f"host{names - 1}.{kit.ORIGIN} A (the last name written)")
    print("reload s: from the reload command to the first answer with the new serial; "
                 "peak MiB: highest PSS sampled meanwhile")
    for r in rows:
        print(f"  {r.name}: reload by {r.reload_command}")
        if r.loaded:
            print(f"  {r.name}: {getattr(r, 'dnsperf_command', '')}")


def to_json(rows):
    return [{k: v for k, v in vars(r).items()} for r in rows]


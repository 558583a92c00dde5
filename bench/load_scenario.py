# The load scenario: a large zone (1M names, about 1.8M records) served by Meridian, Knot DNS
# and NSD in turn; time from start to the first answer for a name near the end of the zone,
# memory (PSS of every process), reload time, and queries lost by a reload under steady load.
# load-signed: the same zone signed (NSEC3, about 5.6M records), ready time and memory.
"""Large-zone load, memory and reload measurements (bench/README.md, "The load scenario").

Servers run one at a time, so a 1M-name zone never has three servers fighting for memory
and CPU while one of them is being timed. The signed variant's zone is signed once by
ldns-signzone and cached (dnssec_scenario.sign_zone); it is not reloaded, since a new serial
would need the zone signed again.
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
import dns.rdatatype

import dnssec_scenario

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
    if server.kind == "knot":
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
    def __init__(self, name, kind, variant, records):
        self.name = name
        self.kind = kind  # meridian, knot or nsd
        self.variant = variant  # "unsigned" or "signed"
        self.records = records
        self.signs = None  # signed variant: whether a DO=1 answer carried its RRSIG
        self.zone = None  # signed variant: how the zone was signed (sign_zone's meta)
        self.ready_s = None
        self.pss_kib = None
        self.reload_s = None
        self.reload_peak_kib = None
        self.loaded = None  # dnsperf stats of the run with a reload in the middle
        self.loaded_reload_s = None
        self.reload_command = ""


def carries_rrsig(port, name, qtype):
    """Whether a DO=1 answer for NAME QTYPE carries the RRSIG of its RRset (RFC 4035 §3.1.1)."""
    q = dns.message.make_query(name, qtype, use_edns=0, payload=4096, want_dnssec=True)
    q.flags &= ~dns.flags.RD
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=1.0)
    except (dns.exception.Timeout, OSError):
        return False
    return any(rs.rdtype == dns.rdatatype.RRSIG for rs in r.answer)


def measure(args, kit, server, zone_file, names, origin, query_file, records,
            variant="unsigned"):
    """Start, ready time, PSS, then for the unsigned zone an idle reload and a reload under
    load; stops SERVER at the end."""
    signed = variant == "signed"
    row = Row(server.name, server.kind, variant, records)
    server.origin = origin
    last_name = f"host{names - 1}.{origin}"
    if not signed:  # the signed zone is the cache's file, and its serial is signed
        set_serial(zone_file, 1)
    # Signed, the zone has about three times the records, and longer ones.
    timeout = max(args.start_timeout, 30 + records / 10000) if signed else args.start_timeout
    server.prefix = kit.launch_prefix(args, args.server_cpu)
    kit.log(f"load: starting {server.name}: {shlex.join(map(str, server.prefix + server.command()))}")
    t0 = time.monotonic()
    server.start()
    try:
        row.ready_s = wait_for(lambda: answers(server.port, last_name, "A") is not None,
                               timeout, server, f"answer for {last_name}")
        row.ready_s = time.monotonic() - t0
        time.sleep(1)  # let the start-up settle (NSD forks its serving children)
        row.pss_kib = kit.pss_kib(server.proc.pid)
        kit.log(f"load: {server.name} answers after {row.ready_s:.2f} s, "
                f"PSS {row.pss_kib >> 10} MiB")
        if signed:
            row.signs = carries_rrsig(server.port, last_name, "A")
            if not row.signs:
                kit.log(f"load: warning: {server.name}'s DO=1 answer for {last_name} A has no "
                        "RRSIG")
            return row

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
    """Runs the variants asked for: load (the zone as generated) and load-signed (the same
    zone signed); returns their rows and (names, records of the unsigned zone) for report()."""
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

    variants = []
    if "load-signed" in args.scenarios:
        # Signed before the unsigned runs rewrite the serial, so the cache key (the zone's
        # digest) is the same on every run.
        signed = dnssec_scenario.sign_zone(zone_file, origin, args.dnssec_algorithm,
                                           args.dnssec_denial, f"{names}-names")
        signed_file = dnssec_scenario.link_zone(signed, work / "signed", origin)
    if "load" in args.scenarios:
        variants.append(("unsigned", zone_file, records, ""))
    if "load-signed" in args.scenarios:
        variants.append(("signed", signed_file, signed.records, "-signed"))
        # What the report says of the signed zone, in a form --json can hold.
        signed_zone = dict(signed.meta, description=signed.describe(),
                           from_cache=signed.from_cache)

    rows = []
    for variant, path, count, suffix in variants:
        for name in args.load_servers:
            port = kit.free_port()
            label = f"{name}{suffix}"
            if name == "meridian":
                # Meridian refuses a zone above max_zone_records (10M by default, README.md
                # "Limits"); larger --load-names signed would pass it.
                limit = f"max_zone_records = {count + count // 10}\n" if count > 10000000 else ""
                s = kit.Meridian(work, path, port, meridian_binary, name=label,
                                 extra_config=limit)
            else:
                s = {"knot": kit.Knot, "nsd": kit.Nsd}[name](work, path, port, name=label)
            s.kind = name
            servers.append(s)
            try:
                row = measure(args, kit, s, path, names, origin, query_file, count, variant)
                if variant == "signed":
                    row.zone = signed_zone
                rows.append(row)
            except LoadError as e:
                if not args.keep_going:
                    raise
                kit.log(f"load: dropping {label}: {e}")
            servers.remove(s)
    return rows, (names, records)


def report(args, kit, rows, names, records):
    """Prints the table of each variant measured, and their notes."""
    unsigned = [r for r in rows if r.variant == "unsigned"]
    signed = [r for r in rows if r.variant == "signed"]
    if unsigned:
        report_unsigned(args, kit, unsigned, names, records)
    if signed:
        report_signed(args, kit, signed, unsigned, names)


def leanest_peer(rows):
    """The row of the peer (Knot or NSD) with the smallest PSS, the figure targets use."""
    peers = [r for r in rows if r.kind != "meridian" and r.pss_kib]
    return min(peers, key=lambda r: r.pss_kib) if peers else None


def report_unsigned(args, kit, rows, names, records):
    print()
    print(f"Large zone: {names} names, {records} records; servers one at a time; "
          f"reload under dnsperf -Q {args.load_rate}")
    print()
    knot = next((r for r in rows if r.kind == "knot"), None)
    leanest = leanest_peer(rows)
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


def report_signed(args, kit, rows, unsigned, names):
    zone = rows[0].zone
    print()
    print(f"Large zone, signed: {names} names, {zone['description']}; servers one at a time")
    print()
    knot = next((r for r in rows if r.kind == "knot"), None)
    leanest = leanest_peer(rows)
    plain = {r.kind: r for r in unsigned}
    table = []
    for r in rows:
        u = plain.get(r.kind)
        table.append([
            r.name,
            kit.fmt(r.ready_s, ".2f"),
            kit.fmt(r.ready_s / knot.ready_s if knot and r.ready_s else None, ".2f"),
            kit.fmt(r.ready_s / u.ready_s if u and u.ready_s and r.ready_s else None, ".2f"),
            kit.fmt(r.pss_kib / 1024 if r.pss_kib else None, ".0f"),
            kit.fmt(r.pss_kib * 1024 / r.records if r.pss_kib else None, ".0f"),
            kit.fmt(r.pss_kib / leanest.pss_kib if leanest and r.pss_kib else None, ".2f"),
            kit.fmt(r.pss_kib / u.pss_kib if u and u.pss_kib and r.pss_kib else None, ".2f"),
            "-" if r.signs is None else ("yes" if r.signs else "NO"),
        ])
    kit.print_table(table, ["server", "ready s", "x knot", "x unsigned", "PSS MiB",
                            "B/record", "x leanest", "PSS x unsigned", "RRSIG with DO=1"])
    print()
    print(f"ready s and PSS as in the unsigned table; B/record over the signed zone's "
          f"{zone['records']} records (RRSIG, NSEC3, DNSKEY included); x unsigned: over the same "
          "server's unsigned row of this run.")
    print(f"RRSIG with DO=1: whether host{names - 1}.{kit.ORIGIN} A asked with DO=1 came "
          "with its RRSIG (a server that drops the signatures holds less).")
    if any(r.signs is False for r in rows):
        print("NOTE: " + ", ".join(r.name for r in rows if r.signs is False) + " answered "
              "without signatures: its figures are those of a server that does not serve "
              "DNSSEC yet.")
    print(f"  signing ({'from the cache' if zone['from_cache'] else 'this run'}, took "
          f"{zone['sign_s']:.0f} s, peak RSS {zone['sign_peak_rss_kib'] >> 10} MiB): "
          f"{zone['command']}")


def to_json(rows):
    return [{k: v for k, v in vars(r).items()} for r in rows]


# The DNSSEC scenario of the dnsperf bench: the bench zone signed by ldns-signzone (cached by
# its inputs in bench/.cache/dnssec/), served by Meridian, Knot DNS and NSD, and server CPU per
# answered query with DO=0 and DO=1 on the same queries, after a check of the signed answers.
"""DNSSEC scenario: what the DO bit costs Meridian, Knot DNS and NSD on one signed zone.

The static scenario's zone at --dnssec-names names is signed once by ldns-signzone with keys
from ldns-keygen (NSEC3 with no extra iterations and no salt, RFC 9276 §3.1, or NSEC) and kept
in bench/.cache/dnssec/, keyed by the unsigned zone, the algorithm, the denial and the signer's
version, so reruns skip the signing. Every server gets the same query file twice: with DO=0
(dnsperf -e: EDNS, 4096 octets, DO clear) and with DO=1 (dnsperf -D), so the two rows of a
server differ in the DO bit alone. Before measuring, sample queries check that DO=1 answers
carry verifying RRSIGs and complete denial proofs (RFC 4035 §3.1, RFC 5155 §7.2) and that DO=0
answers carry no DNSSEC records (RFC 4035 §3.2.1). See bench/README.md.
"""

import argparse
import base64
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

# dnspython verifies RRSIGs with python3-cryptography; without it the check sees only that
# the signatures are there.
CAN_VERIFY = importlib.util.find_spec("cryptography") is not None

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache" / "dnssec"
SCENARIOS = ("dnssec",)
SERVERS = ("meridian", "knot", "nsd")
# The static mix with NXDOMAIN doubled: a signed NXDOMAIN carries the most proof (with NSEC3,
# three NSEC3 records and four signatures), so that is where the DO bit costs most.
DEFAULT_MIX = "hit=45,nxdomain=30,nodata=10,wildcard=10,referral=5"
ALGORITHMS = ("ECDSAP256SHA256", "ED25519")
DENIALS = ("nsec3", "nsec")
# What dnsperf's -e and -D put in the OPT record; the sample check asks with the same.
EDNS_PAYLOAD = 4096
# Signatures are valid from an hour ago for 60 days; a cached zone is used while 30 of those
# days remain, so no run meets a signature close to its expiry.
VALIDITY_S = 60 * 86400
MIN_REMAINING_S = 30 * 86400
# Options --quick shrinks: (full value, quick value).
QUICK = {"dnssec_names": (100000, 10000), "dnssec_rate": (40000, 30000)}

DNSSEC_TYPES = (dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3)


class DnssecError(Exception):
    """A failure the user can act on; printed without a traceback."""


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def wanted(args):
    return any(s in args.scenarios for s in SCENARIOS)


def add_options(p):
    p.add_argument("--dnssec-servers", default=",".join(SERVERS),
                   help=f"dnssec scenario: comma-separated, from {','.join(SERVERS)}")
    p.add_argument("--dnssec-names", type=int, default=QUICK["dnssec_names"][0],
                   help="dnssec scenario: host names in the signed zone")
    p.add_argument("--dnssec-rate", type=int, default=QUICK["dnssec_rate"][0],
                   help="dnssec scenario: offered queries/s of every DO=0 and DO=1 run; every "
                        "server must sustain it with DO=1")
    p.add_argument("--dnssec-mix", default=DEFAULT_MIX,
                   help="dnssec scenario: query categories and their shares (as --mix)")
    p.add_argument("--dnssec-algorithm", choices=ALGORITHMS, default=ALGORITHMS[0],
                   help="dnssec and load-signed scenarios: the keys' algorithm (ldns-keygen)")
    p.add_argument("--dnssec-denial", choices=DENIALS, default=DENIALS[0],
                   help="dnssec and load-signed scenarios: nsec3 (ldns-signzone -n -t 0, no "
                        "salt: RFC 9276 §3.1) or nsec")


def finish_args(args, error, parse_mix):
    """Checks the scenario's options once argparse has them; ERROR reports a bad one."""
    servers = [x.strip() for x in args.dnssec_servers.split(",") if x.strip()]
    for x in servers:
        if x not in SERVERS:
            error(f"--dnssec-servers: unknown {x!r} (choose from {', '.join(SERVERS)})")
    args.dnssec_servers = servers if wanted(args) else []
    if args.dnssec_names < 1 or args.dnssec_rate < 1:
        error("--dnssec-names and --dnssec-rate must be positive")
    args.dnssec_mix = parse_mix(args.dnssec_mix)


# ---------------------------------------------------------------------------------------------
# Signing, cached


class SignedZone:
    """A signed zone file in the cache, its DNSKEYs and how it was made."""

    def __init__(self, folder, meta):
        self.folder = folder
        self.path = folder / "zone.signed"
        self.meta = meta
        self.records = meta["records"]
        self.from_cache = False

    def dnskeys(self, origin):
        """The zone's DNSKEY RRset, read from the keys' .key files."""
        texts = []
        for key_file in sorted(self.folder.glob("K*.key")):
            m = re.search(r"\bDNSKEY\s+([^;]+)", key_file.read_text())
            if m:
                texts.append(m.group(1).strip())
        if not texts:
            raise DnssecError(f"{self.folder}: no DNSKEY in its K*.key files")
        return dns.rrset.from_text(origin, 3600, "IN", "DNSKEY", *texts)

    def describe(self):
        m = self.meta
        denial = ("NSEC3 (hash 1, 0 extra iterations, no salt: RFC 9276)"
                  if m["denial"] == "nsec3" else "NSEC")
        version = re.search(r"version ([\d.]+)", m["signer"])
        signer = f"ldns-signzone {version.group(1)}" if version else m["signer"]
        return (f"signed by {signer} with {m['algorithm']} (KSK + ZSK), {denial}; "
                f"{m['records']} records, {self.path.stat().st_size >> 20} MiB")


def signer_version():
    try:
        r = subprocess.run(["ldns-signzone", "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DnssecError(f"ldns-signzone is not usable ({e}); bench/run.sh installs ldnsutils")
    return (r.stdout + r.stderr).strip().splitlines()[0] if r.stdout or r.stderr else "?"


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_tool(cmd, cwd, what):
    """Runs CMD in CWD; returns (stdout, seconds, peak RSS KiB). Stops the bench on failure."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        try:
            # os.wait4 rather than p.wait(): it also gives the peak RSS (ru_maxrss, KiB).
            _, status, usage = os.wait4(p.pid, 0)
        except BaseException:
            p.kill()
            p.wait()
            raise
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if p.returncode != 0:
        raise DnssecError(f"{what} failed (exit {p.returncode}): {shlex.join(cmd)}\n"
                          f"{stdout}{stderr}")
    return stdout, time.monotonic() - t0, usage.ru_maxrss


def count_records(path):
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip() and not line.startswith(b";"))


def sign_zone(unsigned, origin, algorithm, denial, label):
    """UNSIGNED signed with fresh keys, from the cache when the same inputs were signed before
    and the signatures have at least MIN_REMAINING_S left. LABEL names the entry (e.g.
    "100000-names"); older entries of the same label and settings are replaced."""
    signer = signer_version()
    inputs = f"{file_digest(unsigned)} {origin} {algorithm} {denial} {signer} {VALIDITY_S}"
    key = hashlib.sha256(inputs.encode()).hexdigest()[:16]
    stem = f"{label}-{algorithm}-{denial}"
    folder = CACHE / f"{stem}-{key}"
    meta_path = folder / "meta.json"
    now = int(time.time())
    if meta_path.exists() and (folder / "zone.signed").exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("expires", 0) - now >= MIN_REMAINING_S:
            zone = SignedZone(folder, meta)
            zone.from_cache = True
            log(f"dnssec: signed zone from the cache: {zone.path} (signed in "
                f"{meta['sign_s']:.0f} s; signatures expire in "
                f"{(meta['expires'] - now) // 86400} days)")
            return zone
        log(f"dnssec: {folder.name}: signatures expire within {MIN_REMAINING_S // 86400} days; "
            "signing again")
    CACHE.mkdir(parents=True, exist_ok=True)
    # Built aside and renamed into place, so an interrupted signing leaves no entry behind.
    tmp = Path(tempfile.mkdtemp(prefix=f".{stem}-", dir=CACHE))
    try:
        keys = []
        for ksk in (True, False):  # RFC 4033 §2: KSK (flags 257) signs the DNSKEY RRset
            cmd = ["ldns-keygen", "-a", algorithm, "-r", "/dev/urandom"] + (
                ["-k"] if ksk else []) + [origin]
            out, _, _ = run_tool(cmd, tmp, "ldns-keygen")
            keys.append(out.strip().splitlines()[-1])
        inception, expiration = now - 3600, now + VALIDITY_S
        cmd = ["ldns-signzone"] + (["-n", "-t", "0"] if denial == "nsec3" else []) + [
            "-o", origin, "-i", str(inception), "-e", str(expiration),
            "-f", "zone.signed", str(unsigned)] + keys
        log(f"dnssec: signing {unsigned.name} (once; cached in {CACHE}): {shlex.join(cmd)}")
        _, seconds, peak_kib = run_tool(cmd, tmp, "ldns-signzone")
        meta = {"signer": signer, "algorithm": algorithm, "denial": denial, "origin": origin,
                "label": label, "unsigned_sha256": inputs.split()[0], "keys": keys,
                "inception": inception, "expires": expiration, "sign_s": seconds,
                "sign_peak_rss_kib": peak_kib, "records": count_records(tmp / "zone.signed"),
                "command": shlex.join(cmd)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        tmp.chmod(0o755)  # mkdtemp's 0700 would shut out a server that drops privileges
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # The same zone size signed from an older generator or signer is stale now, and so is
    # what a killed signing of it left aside more than a day ago.
    for old in list(CACHE.glob(f"{stem}-*")) + list(CACHE.glob(f".{stem}-*")):
        stale = old.name.startswith(".") and time.time() - old.stat().st_mtime > 86400
        if old.is_dir() and (stale or (old != folder and not old.name.startswith("."))):
            shutil.rmtree(old, ignore_errors=True)
    zone = SignedZone(folder, meta)
    log(f"dnssec: signed in {meta['sign_s']:.1f} s, ldns-signzone peak RSS "
        f"{meta['sign_peak_rss_kib'] >> 10} MiB; {zone.describe()}")
    return zone


def link_zone(signed, zone_dir, origin):
    """ZONE_DIR/<origin>zone, a symlink to the cached signed zone (the servers only read it:
    Knot is told never to write its zone file back)."""
    zone_dir.mkdir(parents=True, exist_ok=True)
    link = zone_dir / f"{origin}zone"
    link.symlink_to(signed.path)
    return link


# ---------------------------------------------------------------------------------------------
# The answer check: signatures that verify, complete denial proofs


def ask(port, qname, qtype, do, timeout=1.0):
    """QNAME QTYPE with EDNS as dnsperf sends it (4096 octets), DO as given; over TCP when the
    UDP answer is truncated."""
    q = dns.message.make_query(qname, qtype, use_edns=0, payload=EDNS_PAYLOAD, want_dnssec=do)
    q.flags &= ~dns.flags.RD
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)
    if r.flags & dns.flags.TC:
        r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=timeout)
    return r


def type_bitmap(rdata):
    """The types an NSEC or NSEC3 record's bitmap lists (RFC 4034 §4.1.2)."""
    types = set()
    for window, bitmap in rdata.windows:
        for i, octet in enumerate(bitmap):
            for bit in range(8):
                if octet & (0x80 >> bit):
                    types.add(window * 256 + i * 8 + bit)
    return types


class Nsec3Chain:
    """The NSEC3 records of a response, to test names against (RFC 5155 §8.3)."""

    def __init__(self, response):
        self.records = []  # (owner hash, next hash, types, rdata); base32hex sorts as octets
        for rrset in response.authority:
            if rrset.rdtype != dns.rdatatype.NSEC3:
                continue
            for rd in rrset:
                owner = rrset.name.labels[0].decode("ascii").upper()
                nxt = base64.b32hexencode(rd.next).decode("ascii").rstrip("=")
                self.records.append((owner, nxt, type_bitmap(rd), rd))

    def hash(self, name):
        rd = self.records[0][3]
        return dns.dnssec.nsec3_hash(name, rd.salt, rd.iterations, rd.algorithm)

    def matching(self, name):
        h = self.hash(name)
        return next((r for r in self.records if r[0] == h), None)

    def covers(self, name):
        h = self.hash(name)
        return any(owner < h < nxt or (nxt <= owner and (h > owner or h < nxt))
                   for owner, nxt, _, _ in self.records)


class NsecChain:
    """The NSEC records of a response, in canonical order (RFC 4034 §6.1)."""

    def __init__(self, response):
        self.records = [(rrset.name, rd.next, type_bitmap(rd), rd)
                        for rrset in response.authority if rrset.rdtype == dns.rdatatype.NSEC
                        for rd in rrset]

    def matching(self, name):
        return next((r for r in self.records if r[0] == name), None)

    def covering(self, name):
        return next((r for r in self.records
                     if r[0] < name < r[1] or (r[1] <= r[0] and name > r[0])), None)


def closest_encloser_problems(chain, qname, origin):
    """RFC 5155 §7.2.1: the NSEC3 matching the closest encloser, one covering the next closer
    name and one covering the wildcard at the closest encloser."""
    name = qname
    while name != origin and name.is_subdomain(origin):
        parent = name.parent()
        if chain.matching(parent):
            problems = []
            if not chain.covers(name):
                problems.append(f"no NSEC3 covers the next closer name {name}")
            if not chain.covers(dns.name.Name((b"*",) + parent.labels)):
                problems.append(f"no NSEC3 covers the wildcard *.{parent}")
            return problems
        name = parent
    return [f"no NSEC3 matches a closest encloser of {qname}"]


def denial_problems(r, category, qname, qtype, origin, denial):
    """What the response's denial of existence lacks, for the sample's category."""
    if denial == "nsec3":
        chain = Nsec3Chain(r)
        if not chain.records:
            return ["no NSEC3 records"] if category in ("nxdomain", "nodata", "wildcard",
                                                        "referral") else []
        if category == "nxdomain":  # RFC 5155 §7.2.2
            return closest_encloser_problems(chain, qname, origin)
        if category == "nodata":  # RFC 5155 §7.2.3
            m = chain.matching(qname)
            if not m:
                return [f"no NSEC3 matches {qname}"]
            if qtype in m[2] or dns.rdatatype.CNAME in m[2]:
                return [f"the NSEC3 of {qname} lists {dns.rdatatype.to_text(qtype)} or CNAME"]
            return []
        if category == "wildcard":  # RFC 5155 §7.2.6: the next closer name does not exist
            sig = next((rs for rs in r.answer if rs.rdtype == dns.rdatatype.RRSIG), None)
            if sig is None:
                return []  # reported as a missing signature already
            labels = sig[0].labels  # RFC 4034 §3.1.3: the labels of the wildcard's owner
            next_closer = dns.name.Name(qname.labels[-(labels + 2):])
            return [] if chain.covers(next_closer) else [
                f"no NSEC3 covers the next closer name {next_closer}"]
        if category == "referral":  # RFC 5155 §7.2.7: an insecure delegation, no DS
            cut = next((rs.name for rs in r.authority if rs.rdtype == dns.rdatatype.NS), None)
            m = chain.matching(cut) if cut else None
            if not m:
                return [f"no NSEC3 matches the delegation {cut}"]
            if dns.rdatatype.DS in m[2] or dns.rdatatype.NS not in m[2]:
                return [f"the NSEC3 of {cut} does not show NS without DS"]
        return []
    chain = NsecChain(r)
    if not chain.records:
        return ["no NSEC records"] if category in ("nxdomain", "nodata", "wildcard",
                                                   "referral") else []
    if category == "nxdomain":  # RFC 4035 §3.1.3.2: the name and the wildcard both covered
        cover = chain.covering(qname)
        if not cover:
            return [f"no NSEC covers {qname}"]
        encloser = max((qname.fullcompare(n)[2] for n in (cover[0], cover[1])))
        wildcard = dns.name.Name((b"*",) + qname.labels[-encloser:])
        return [] if chain.covering(wildcard) else [f"no NSEC covers the wildcard {wildcard}"]
    if category == "nodata":  # RFC 4035 §3.1.3.1, or an empty non-terminal's covering NSEC
        m = chain.matching(qname)
        if m:
            bad = qtype in m[2] or dns.rdatatype.CNAME in m[2]
            return [f"the NSEC of {qname} lists the type or CNAME"] if bad else []
        cover = chain.covering(qname)
        if cover and cover[1].is_subdomain(qname):
            return []
        return [f"no NSEC matches {qname} (or shows it an empty non-terminal)"]
    if category == "wildcard":  # RFC 4035 §3.1.3.3
        return [] if chain.covering(qname) else [f"no NSEC covers {qname}"]
    if category == "referral":  # RFC 4035 §3.1.4: NS without DS at the cut
        cut = next((rs.name for rs in r.authority if rs.rdtype == dns.rdatatype.NS), None)
        m = chain.matching(cut) if cut else None
        if not m or dns.rdatatype.DS in m[2] or dns.rdatatype.NS not in m[2]:
            return [f"no NSEC at the delegation {cut} showing NS without DS"]
    return []


def signature_problems(r, keys, origin, category):
    """Every RRset of the answer and authority sections with an RRSIG that verifies, but the
    NS RRset of a referral, which the parent does not sign (RFC 4035 §2.2)."""
    problems = []
    for section_name, section in (("answer", r.answer), ("authority", r.authority)):
        for rrset in section:
            if rrset.rdtype == dns.rdatatype.RRSIG:
                continue
            if category == "referral" and rrset.rdtype == dns.rdatatype.NS \
                    and section is r.authority and rrset.name != origin:
                continue
            what = f"{section_name} {rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"
            sigs = next((s for s in section if s.rdtype == dns.rdatatype.RRSIG
                         and s.covers == rrset.rdtype and s.name == rrset.name), None)
            if sigs is None:
                problems.append(f"{what}: no RRSIG")
                continue
            if not CAN_VERIFY:
                continue
            try:
                dns.dnssec.validate(rrset, sigs, {origin: keys})
            except dns.dnssec.ValidationFailure as e:
                problems.append(f"{what}: RRSIG does not verify ({e})")
    return problems


def sample_queries(kit, names, origin):
    return kit.sample_queries(names) + [("hit", origin, "DNSKEY")]


def check_answers(kit, servers, names, keys, origin, denial):
    """Each server's DO=1 and DO=0 answers to the sample queries. Returns {server name: list
    of problems} and warnings about servers that disagree; a hit without an answer stops the
    bench (it would measure errors)."""
    origin_name = dns.name.from_text(origin)
    problems = {s.name: [] for s in servers}
    warnings = []
    for category, qname_text, qtype_text in sample_queries(kit, names, origin):
        qname = dns.name.from_text(qname_text)
        qtype = dns.rdatatype.from_text(qtype_text)
        seen = {}
        for s in servers:
            try:
                signed = ask(s.port, qname, qtype, True)
                plain = ask(s.port, qname, qtype, False)
            except (dns.exception.DNSException, OSError) as e:
                if category == "hit":
                    raise DnssecError(f"{s.name}: {qname} {qtype_text} got no answer ({e!r})")
                problems[s.name].append(f"{category} {qname} {qtype_text}: no answer ({e!r})")
                continue
            d = kit.describe(plain)
            if category == "hit" and (d[0] != "NOERROR" or not d[2]):
                raise DnssecError(f"{s.name}: {qname} {qtype_text}: {d[0]} with "
                                  f"{len(d[2])} answer RRsets")
            where = f"{category} {qname} {qtype_text}"
            found = [f"DO=1 {p}" for p in
                     signature_problems(signed, keys, origin_name, category)
                     + denial_problems(signed, category, qname, qtype, origin_name, denial)]
            if qtype not in DNSSEC_TYPES + (dns.rdatatype.DNSKEY,):
                extra = sorted({dns.rdatatype.to_text(rs.rdtype) for sec in
                                (plain.answer, plain.authority, plain.additional) for rs in sec
                                if rs.rdtype in DNSSEC_TYPES})
                if extra:  # RFC 4035 §3.2.1
                    found.append(f"DO=0 answer carries {', '.join(extra)}")
            problems[s.name] += [f"{where}: {p}" for p in found]
            # What the answers must agree on, signatures aside: rcode, AA, the answer RRsets.
            unsigned_answer = tuple(sorted(rs.to_text() for rs in signed.answer
                                           if rs.rdtype != dns.rdatatype.RRSIG))
            seen[s.name] = (dns.rcode.to_text(signed.rcode()),
                            bool(signed.flags & dns.flags.AA), unsigned_answer)
        if len(set(seen.values())) > 1:
            warnings.append(f"servers differ on {qname} {qtype_text} with DO=1: " + "; ".join(
                f"{n}: {d[0]} aa={int(d[1])} an={list(d[2])}" for n, d in seen.items()))
    return problems, warnings


# ---------------------------------------------------------------------------------------------
# The runs


class Row:
    """One server answering the query file with one DO setting, in every round."""

    def __init__(self, server, do):
        self.server = server
        self.do = do
        self.label = f"{server.name} DO={int(do)}"
        self.runs = []

    @property
    def slug(self):
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")

    def command(self, kit, args, query_file, duration, rate):
        # -e: EDNS with DO clear, so DO=0 and DO=1 queries differ in that bit alone.
        return kit.dnsperf_command(args, self.server.port, query_file, duration, rate) + (
            ["-D"] if self.do else ["-e"])

    def median(self):
        return statistics.median(r["cpu_us_per_query"] for r in self.runs)


class Result:
    def __init__(self):
        self.zone = None
        self.unsigned_records = 0
        self.queries = 0
        self.rows = []
        self.servers = []
        self.problems = {}
        self.warnings = []
        self.commands = []
        self.seconds = 0.0


def make_server(kit, kind, work, zone_file, meridian_binary, records):
    port = kit.free_port()
    if kind == "meridian":
        # Meridian refuses a zone above max_zone_records (5M by default, README.md "Limits").
        limit = f"max_zone_records = {records + records // 10}\n" if records > 5000000 else ""
        return kit.Meridian(work, zone_file, port, meridian_binary, extra_config=limit)
    return {"knot": kit.Knot, "nsd": kit.Nsd}[kind](work, zone_file, port)


def start_timeout(args, records):
    """A signed zone has about three times the records of the unsigned one, and bigger ones."""
    return max(args.start_timeout, 30 + records / 20000)


def run(args, kit, work, servers):
    """Signs (or takes from the cache) the zone, starts the servers (added to SERVERS, so they
    are stopped on any exit; stopped here when done), checks and measures. Returns a Result."""
    t_start = time.monotonic()
    result = Result()
    work = work / "dnssec"
    work.mkdir()
    origin = kit.ORIGIN
    unsigned = work / f"{origin}unsigned"
    names = args.dnssec_names
    kit.write_zone(unsigned, names)
    result.unsigned_records = sum(1 for line in open(unsigned)
                                  if line.strip() and not line.startswith("$"))
    query_file = work / "queries.txt"
    result.queries = len(kit.write_queries(query_file, args.queries, names, args.dnssec_mix,
                                           args.seed))
    zone = sign_zone(unsigned, origin, args.dnssec_algorithm, args.dnssec_denial,
                     f"{names}-names")
    result.zone = zone
    zone_file = link_zone(zone, work / "zones", origin)
    keys = zone.dnskeys(origin)

    meridian_binary = None
    if "meridian" in args.dnssec_servers:
        meridian_binary = Path(args.meridian) if args.meridian else kit.build_meridian(args)
        meridian_binary = meridian_binary.resolve()
        args.meridian = str(meridian_binary)
    start_args = argparse.Namespace(**vars(args))
    start_args.start_timeout = start_timeout(args, zone.records)
    started = []
    try:
        for kind in args.dnssec_servers:
            s = make_server(kit, kind, work, zone_file, meridian_binary, zone.records)
            s.kind = kind
            if kit.start_server(start_args, s, started):
                result.servers.append(s)
        servers.extend(started)
        if not result.servers:
            raise DnssecError("no server started")
        result.problems, result.warnings = check_answers(kit, result.servers, names, keys,
                                                         origin, args.dnssec_denial)
        for s in result.servers:
            for line in check_summary(s, result.problems[s.name], s.kind == "meridian"):
                log(f"dnssec: {line}")
        for w in result.warnings:
            log(f"dnssec: warning: {w}")
        measure(args, kit, work, query_file, result)
    finally:
        for s in started:
            s.stop()
            if s in servers:
                servers.remove(s)
    result.seconds = time.monotonic() - t_start
    return result


def measure(args, kit, work, query_file, result):
    """Warm-up, then ROUNDS rounds of every row, servers interleaved and, within a server, DO=0
    and DO=1 in alternating order so neither always runs first."""
    rate = args.dnssec_rate
    rows = {s.name: (Row(s, False), Row(s, True)) for s in result.servers}
    result.rows = [row for pair in rows.values() for row in pair]
    timeout = args.duration + args.query_timeout + 30
    if args.warmup:
        for row in result.rows:
            kit.run_dnsperf(row.command(kit, args, query_file, args.warmup, rate),
                            work / f"warmup-{row.slug}.txt", row.server,
                            args.warmup + args.query_timeout + 30)
    for rnd in range(args.rounds):
        for pair in rows.values():
            for row in (pair if rnd % 2 == 0 else reversed(pair)):
                st = kit.run_dnsperf(row.command(kit, args, query_file, args.duration, rate),
                                     work / f"rate-{row.slug}-{rnd}.txt", row.server, timeout)
                row.runs.append(st)
                log(f"dnssec round {rnd + 1}/{args.rounds} {row.label}: "
                    f"{st['cpu_us_per_query']:.2f} us/query, {st['completed']}/{st['sent']} "
                    f"answered, {st['qps']:.0f} q/s, {st['response_bytes']} B/response, "
                    f"server CPU {st['server_cpu_s']:.2f} s, dnsperf CPU "
                    f"{st['client_cpu_s']:.2f} s, other CPU {st['other_cpu_s']:.2f} s")
    if result.rows:
        for row in result.rows[:2]:
            result.commands.append(row.command(kit, args, query_file, args.duration, rate))


# ---------------------------------------------------------------------------------------------
# Report


def check_summary(server, problems, loud):
    """Lines saying whether SERVER's samples were signed and proven; LOUD for Meridian, whose
    missing signatures make its DO=1 row measure unsigned answers."""
    if not problems:
        verified = ("signatures verify" if CAN_VERIFY
                    else "signatures NOT verified: python3-cryptography is missing")
        return [f"{server.name}: every DO=1 sample answer signed ({verified}) with complete "
                "denial proofs; no DNSSEC records with DO=0"]
    lines = []
    unsigned = any("no RRSIG" in p for p in problems)
    if loud and unsigned:
        bar = "!" * 78
        lines += [bar, f"{server.name.upper()} DOES NOT SIGN ITS DO=1 ANSWERS: its DO=1 row "
                       "measures answers without RRSIGs", "or denial proofs, so its DO=1 "
                       "figures and the targets below mean nothing yet.", bar]
    lines.append(f"{server.name}: {len(problems)} problem(s) in the sample answers:")
    lines += [f"  {p}" for p in problems[:12]]
    if len(problems) > 12:
        lines.append(f"  ... and {len(problems) - 12} more")
    return lines


def verdict(ok):
    return "met" if ok else "NOT met"


def report(args, kit, result):
    by = {}
    for row in result.rows:
        by.setdefault(row.server.name, {})[row.do] = row
    meridian = by.get("meridian", {})
    m1 = meridian[True].median() if True in meridian else None
    table = []
    for name, pair in by.items():
        r0, r1 = pair[False], pair[True]
        c0 = [r["cpu_us_per_query"] for r in r0.runs]
        c1 = [r["cpu_us_per_query"] for r in r1.runs]
        both = r0.runs + r1.runs
        sent = sum(r["sent"] for r in both)
        done = sum(r["completed"] for r in both)
        other = statistics.median(r["other_cpu_s"] / r["wall_s"] for r in both)
        table.append([
            name, f"{r0.median():.2f}", f"{min(c0):.2f}-{max(c0):.2f}",
            f"{r1.median():.2f}", f"{min(c1):.2f}-{max(c1):.2f}",
            f"{r1.median() / r0.median():.2f}",
            kit.fmt(m1 / r1.median() if m1 else None, ".2f"),
            f"{r0.runs[-1]['response_bytes'] or '-'}/{r1.runs[-1]['response_bytes'] or '-'}",
            f"{100.0 * done / sent:.2f}" if sent else "-",
            f"{other * 100:.0f}",
            "yes" if not result.problems.get(name) else "NO",
        ])
    zone = result.zone
    print()
    print(f"DNSSEC: {args.dnssec_names} names ({result.unsigned_records} records unsigned), "
          f"{zone.describe()}")
    mix = ", ".join(f"{k} {v:g}%" for k, v in args.dnssec_mix.items())
    print(f"Queries: {result.queries} ({mix}), "
          f"seed {args.seed}; each sent with DO=0 (dnsperf -e: EDNS {EDNS_PAYLOAD}, DO clear) "
          "and with DO=1 (dnsperf -D)")
    print(f"CPU runs: {args.rounds} x {args.duration} s per row at {args.dnssec_rate} q/s "
          f"offered, servers interleaved; one server worker each; {kit.machine_info()}")
    print()
    kit.print_table(table, ["server", "DO=0 us/q", "min-max", "DO=1 us/q", "min-max",
                            "DO=1/DO=0", "meridian DO=1/server DO=1", "bytes/resp DO=0/DO=1",
                            "answered %", "other CPU%", "signed answers"])
    print()
    print("us/q: median server CPU (all threads and processes) per answered query at the fixed "
          "rate. DO=1/DO=0: what the DO bit costs the server.")
    print("meridian DO=1/server DO=1: below 1 means Meridian spends less per DO=1 query. "
          "bytes/resp: dnsperf's average response size, last run.")
    print("signed answers: the sample check below found every DO=1 answer signed and proven.")
    print()
    meridian_signed = "meridian" in by and not result.problems.get("meridian")
    if m1 is not None:
        m0 = meridian[False].median()
        lines = [f"Meridian DO=1/DO=0: {m1 / m0:.2f} (target <= 1.15: "
                 f"{verdict(m1 / m0 <= 1.15)})"]
        for peer in ("knot", "nsd"):
            if peer in by:
                p1 = by[peer][True].median()
                lines.append(f"Meridian DO=1 vs {peer} DO=1: {m1:.2f} vs {p1:.2f} us/q, "
                             f"ratio {m1 / p1:.2f} (target < 1: {verdict(m1 < p1)})")
        if not meridian_signed:
            lines = [f"{line} [NOT MEANINGFUL: Meridian's DO=1 answers lack DNSSEC records]"
                     for line in lines]
        for line in lines:
            print(f"Target: {line}")
    for row in result.rows:
        for n in kit.run_warnings(
                row.label, row.runs, args.duration, args.dnssec_rate,
                lambda achieved, row=row: (
                    f"{row.label}: answered {min(achieved):.0f}-{max(achieved):.0f} q/s of "
                    f"{args.dnssec_rate} offered; not comparable (lower --dnssec-rate)")):
            print(f"Note: {n}")
    print()
    print(f"Sample check: {len(sample_queries(kit, args.dnssec_names, kit.ORIGIN))} queries "
          "per server with DO=1 (RRSIGs verified against the zone's DNSKEYs, NSEC3/NSEC proofs "
          "per RFC 5155 §7.2 / RFC 4035 §3.1.3) and with DO=0 (no DNSSEC records, RFC 4035 "
          "§3.2.1):")
    for s in result.servers:
        for line in check_summary(s, result.problems.get(s.name, []), s.kind == "meridian"):
            print(f"  {line}")
    for w in result.warnings:
        print(f"  warning: {w}")
    print()
    print(f"Scenario time: {result.seconds:.0f} s (signing "
          + ("skipped: from the cache" if zone.from_cache
             else f"{zone.meta['sign_s']:.0f} s") + ")")
    print(f"  signing: ldns-keygen -a {zone.meta['algorithm']} [-k] {kit.ORIGIN}; "
          f"{zone.meta['command']}")
    for cmd in result.commands:
        print(f"  dnsperf: {shlex.join(map(str, cmd))}")
    for s in result.servers:
        print(f"  {s.name} ({s.version() or 'version unknown'}): {s.start_command}")


def to_json(result):
    return {"dnssec": {
        "zone": result.zone.meta if result.zone else None,
        "rows": [{"label": r.label, "server": r.server.name, "do": r.do, "rate_runs": r.runs}
                 for r in result.rows],
        "sample_problems": result.problems, "warnings": result.warnings,
        "seconds": result.seconds}}


def main(args, kit, work, servers, merge_json):
    """Runs the scenario and prints its report. With --json, adds its results to the file, to
    what the other scenarios wrote there in this run when MERGE_JSON."""
    result = run(args, kit, work, servers)
    report(args, kit, result)
    if args.json:
        path = Path(args.json)
        data = (json.loads(path.read_text()) if merge_json and path.exists()
                else {"machine": kit.machine_info()})
        data.update(to_json(result))
        path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return 0

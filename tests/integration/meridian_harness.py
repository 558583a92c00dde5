"""Shared machinery for Meridian's integration tests: start the real binary on a free loopback
port with a generated config, query it with dnspython, raw bytes and kdig, stop it by PID.

Each test_*.py is one CTest test, run with /usr/bin/python3 (Debian's python3-dnspython lives
there). Exit codes: 0 all passed, 1 something failed, 77 skipped (a peer or module missing).
A check that needs something the others do not (a tool, ::1) is marked @part("name"): CTest
runs it as its own test, <file>_<name> (MERIDIAN_TEST_PART=name; the unmarked ones run as
<file>, MERIDIAN_TEST_PART=main), so a part that cannot run shows as skipped while the rest
pass. A run where some checks passed and others were skipped fails: CTest would count it as
passed.
The scripts are grouped by behaviour in tests/integration/<group>/ and put this folder on
sys.path to import this module. By hand: MERIDIAN_BINARY=build/meridian /usr/bin/python3
tests/integration/answers/test_answers.py [part of a test name ...]; MERIDIAN_KEEP_TMP=1 keeps each server's temp dir (config, zones, log).
"""

import atexit
import itertools
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

SKIP = 77

try:
    import dns.edns
    import dns.flags
    import dns.message
    import dns.name
    import dns.opcode
    import dns.query
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.zone
except ImportError:
    print("=" * 72, file=sys.stderr)
    print(f"SKIPPED: dnspython is not importable by {sys.executable}.", file=sys.stderr)
    print("Install python3-dnspython and run with /usr/bin/python3.", file=sys.stderr)
    print("=" * 72, file=sys.stderr)
    sys.exit(SKIP)

SOURCE_DIR = Path(os.environ.get("MERIDIAN_SOURCE_DIR", Path(__file__).resolve().parents[2]))
# The read-only material beside the checkout (MaxMind's own test databases, a real CC0 one);
# MERIDIAN_SHARED_DIR points elsewhere, or at nothing to see what is skipped without it.
SHARED_DIR = Path(os.environ.get("MERIDIAN_SHARED_DIR") or SOURCE_DIR.parent / "shared")
# The test databases the build writes (tests/fixtures/maxmind), beside the binary by default.
FIXTURES_DIR = Path(os.environ.get("MERIDIAN_FIXTURES_DIR") or
                    Path(os.environ.get("MERIDIAN_BINARY", "meridian")).resolve().parent /
                    "tests" / "fixtures")
ZONES_DIR = SOURCE_DIR / "tests" / "zones"
LOOPBACK = "127.0.0.1"
DEFAULT_ZONES = (("example.com.zone", "example.com."), ("sub2.example.com.zone", "sub2.example.com."))


def skip_notice(reason):
    """Says loudly that something is skipped; each test it skips then raises Skipped."""
    print("=" * 72, file=sys.stderr)
    print(f"SKIPPED: {reason}", file=sys.stderr)
    print("=" * 72, file=sys.stderr)


def skip(reason):
    """Skips the whole test file loudly (CTest reports it as skipped, not passed)."""
    skip_notice(reason)
    sys.exit(SKIP)


def meridian_binary():
    binary = os.environ.get("MERIDIAN_BINARY")
    if not binary:
        skip("MERIDIAN_BINARY is not set (run through ctest, or export it)")
    if not os.access(binary, os.X_OK):
        skip(f"MERIDIAN_BINARY={binary} is not an executable file")
    return binary


def require_program(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not path:
        skip(f"{name} is not installed; this test needs it as a peer")
    return path


# ---------------------------------------------------------------------------------------------
# Ports and processes


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (and ::1 when it exists)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((LOOPBACK, 0))
            port = probe.getsockname()[1]
        sockets = []
        try:
            for family, address in ((socket.AF_INET, LOOPBACK), (socket.AF_INET6, "::1")):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    s = socket.socket(family, kind)
                    sockets.append(s)
                    try:
                        s.bind((address, port))
                    except OSError as error:
                        if family == socket.AF_INET6 and error.errno == 99:  # no ::1 here
                            continue
                        raise
            return port
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free loopback port found")


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


_running = []


def _stop_all():
    for process in list(_running):
        process.stop()


atexit.register(_stop_all)


def stop_pid(popen, timeout=5.0):
    """SIGTERM, wait, then SIGKILL; returns the exit status."""
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout)
    return popen.returncode


def toml_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_table(table, **keys):
    """`[[table]]` and a `key = value` line for each keyword, in order: a str is quoted, a list
    is a list of quoted strings, anything else is written as Python prints it."""
    lines = [f"[[{table}]]"]
    for key, value in keys.items():
        if isinstance(value, str):
            value = toml_string(value)
        elif isinstance(value, list):
            value = "[" + ", ".join(toml_string(item) for item in value) + "]"
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def zone_file(origin, records, ttl=300, soa_timers="2024010101 7200 900 1209600 60"):
    """A test zone's text: $ORIGIN and $TTL, the SOA and NS of ns1 (192.0.2.1), then `records`."""
    return (f"$ORIGIN {origin}\n$TTL {ttl}\n@ SOA ns1 hostmaster {soa_timers}\n@ NS ns1\n"
            f"ns1 A 192.0.2.1\n{records}")


def poll(condition, timeout, step):
    """Calls `condition` every `step` s until it returns a true value, which it returns; None
    once `timeout` s have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return None


def wait_for(condition, timeout, step=0.1):
    """True as soon as `condition()` is true; after `timeout` s, what one last call returns."""
    return True if poll(condition, timeout, step) else condition()


def wait_for_value(what, condition, timeout, step=0.05):
    """The first true value of `condition()` within `timeout` s; else fails naming `what`."""
    value = poll(condition, timeout, step)
    if value:
        return value
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class ManagedServer:
    """A server process this test started: stopped by its PID, its temp folder removed."""

    def stop(self):
        status = None
        if self.process is not None:
            status = stop_pid(self.process)
            self._log_file.close()
        if self in _running:
            _running.remove(self)
        if self.tmpdir.exists() and not os.environ.get("MERIDIAN_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return status

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def spawn(self, argv):
        """Starts `argv` with stdout and stderr to self.log; stopped at exit if still running."""
        self._log_file = open(self.log, "wb")
        self.process = subprocess.Popen(argv, stdout=self._log_file, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        _running.append(self)

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def is_running(self):
        return self.process is not None and self.process.poll() is None


class Meridian(ManagedServer):
    """One `meridian serve` process with its own temp dir, config and copy of tests/zones.

    `server` overrides keys of the [server] table (None removes a key); `zones` is a list of
    (file, origin) pairs relative to tests/zones.
    """

    def __init__(self, server=None, zones=DEFAULT_ZONES, ipv6=True, extra_config="", files=None,
                 more_configs=()):
        self.binary = meridian_binary()
        self.port = free_port()
        self.ipv6 = ipv6 and has_ipv6_loopback()
        self.settings = {
            "workers": 2,
            "identity": "test-pop",
            "version": "Meridian test",
            "udp_payload": 1232,
            "tcp_idle_timeout": 10,
            "tcp_max_connections": 1024,
        }
        self.settings.update(server or {})
        self.zones = list(zones)
        self.tmpdir = Path(tempfile.mkdtemp(prefix="meridian-it-"))
        shutil.copytree(ZONES_DIR, self.tmpdir / "zones")
        self.config = self.tmpdir / "meridian.toml"
        self.log = self.tmpdir / "meridian.log"
        self.process = None
        # Tables after [server] and the zones ([geoip], [[pool]], [[geo]]...), and files
        # (relative path -> text) written next to the config, such as a test's own zone.
        self.extra_config = extra_config
        for relative, text in (files or {}).items():
            target = self.tmpdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        # Further config files (relative paths, usually among `files`) merged after the
        # generated one, as `--config meridian.toml --config pop.toml`.
        self.more_configs = [self.tmpdir / relative for relative in more_configs]

    def config_text(self):
        listen = [f'"{LOOPBACK}:{self.port}"'] + ([f'"[::1]:{self.port}"'] if self.ipv6 else [])
        lines = ["[server]", f"listen = [{', '.join(listen)}]"]
        for key, value in self.settings.items():
            if value is None:
                continue
            lines.append(f"{key} = {toml_string(value) if isinstance(value, str) else value}")
        for file, origin in self.zones:
            lines += ["", "[[zone]]", f"file = {toml_string('zones/' + file)}"]
            if origin:
                lines.append(f"origin = {toml_string(origin)}")
        if self.extra_config:
            lines += ["", self.extra_config.strip("\n")]
        return "\n".join(lines) + "\n"

    def write_config(self):
        self.config.write_text(self.config_text())
        return self.config

    def config_arguments(self):
        arguments = ["--config", str(self.config)]
        for path in self.more_configs:
            arguments += ["--config", str(path)]
        return arguments

    def start(self, ready_timeout=10.0):
        self.write_config()
        self.spawn([self.binary, "serve", *self.config_arguments()])
        self.wait_ready(ready_timeout)
        return self

    def wait_ready(self, timeout):
        """Bounded: some answer (any rcode) to a UDP query, or the log and an exception."""
        probe_name = self.zones[0][1] if self.zones else "id.server."
        probe_class = "IN" if self.zones else "CH"
        probe_type = "SOA" if self.zones else "TXT"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"meridian exited with {self.process.returncode} before "
                                   f"answering:\n{self.log_text()}")
            wire = dns.message.make_query(probe_name, probe_type, probe_class).to_wire()
            if udp_raw(self.port, wire, timeout=0.2) is not None:
                return
        self.stop()
        raise RuntimeError(f"meridian on port {self.port} did not answer a {probe_type} "
                           f"{probe_name} query within {timeout}s (log:\n{self.log_text()})")



def run_meridian(*args, timeout=30):
    """Runs the binary to completion (check, --version, --help); returns CompletedProcess."""
    return subprocess.run([meridian_binary(), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------------
# Queries


def make_query(qname, qtype="A", rdclass="IN", edns=0, payload=1232, options=None, rd=False,
               dnssec=False):
    """`edns` = None for a query without OPT, else the EDNS version."""
    query = dns.message.make_query(qname, qtype, rdclass, use_edns=edns is not None,
                                   payload=payload, options=options, want_dnssec=dnssec)
    if edns not in (None, 0):
        query.use_edns(edns, 0, payload, options=options)
    if not rd:
        query.flags &= ~dns.flags.RD
    return query


def query(port, qname, qtype="A", transport="udp", timeout=2.0, address=LOOPBACK, source=None,
          **kwargs):
    """One query over `transport` to `address` (from `source`, say 127.0.1.5, when given);
    returns the dns.message.Message answer."""
    message = qname if isinstance(qname, dns.message.Message) else make_query(qname, qtype, **kwargs)
    if transport == "udp":
        return dns.query.udp(message, address, timeout=timeout, port=port, source=source,
                             ignore_trailing=False, raise_on_truncation=False)
    if transport == "tcp":
        return dns.query.tcp(message, address, timeout=timeout, port=port, source=source)
    raise ValueError(transport)


def udp_raw(port, data, timeout=1.0, address=LOOPBACK):
    """Sends bytes in one datagram; returns the reply's bytes, or None when none came."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (address, port))
        try:
            reply, _ = s.recvfrom(65535)
            return reply
        except socket.timeout:
            return None


def tcp_connect(port, timeout=2.0, address=LOOPBACK):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((address, port))
    return s


def frame(data):
    """RFC 1035 §4.2.2 / RFC 7766 §8: a two-octet length prefix."""
    return struct.pack("!H", len(data)) + data


def recv_exact(sock, count):
    """Reads exactly `count` octets; None if the peer closed first. Raises socket.timeout."""
    chunks = b""
    while len(chunks) < count:
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return chunks


def read_frame(sock):
    """One length-prefixed message; None when the connection closed (or was reset)."""
    try:
        header = recv_exact(sock, 2)
        if header is None:
            return None
        return recv_exact(sock, struct.unpack("!H", header)[0])
    except ConnectionResetError:
        return None


def tcp_raw(port, data, timeout=2.0, framed=False):
    """Sends `data` (framed unless `framed`) on a new connection; the reply's bytes or None."""
    with tcp_connect(port, timeout) as s:
        s.sendall(data if framed else frame(data))
        try:
            return read_frame(s)
        except socket.timeout:
            return None


def header(reply):
    """(id, flags, qdcount, ancount, nscount, arcount) of raw reply bytes."""
    return struct.unpack("!HHHHHH", reply[:12])


def rcode_of(reply):
    """The 4-bit header rcode of raw reply bytes (ignores extended bits in the OPT)."""
    return header(reply)[1] & 0xF


def opt_of(message):
    """The OPT pseudo-record of a parsed message, or None."""
    return message.opt if hasattr(message, "opt") else None


def section_rrsets(message, section):
    return list(getattr(message, section))


def rrset_of(message, section, name, rdtype):
    """The RRset with this owner and type in a section (case-insensitive), or None."""
    wanted_name = dns.name.from_text(name)
    wanted_type = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
    for rrset in getattr(message, section):
        if rrset.name == wanted_name and rrset.rdtype == wanted_type:
            return rrset
    return None


def describe(message):
    """A compact text of a response for failure messages."""
    if message is None:
        return "<no response>"
    if isinstance(message, (bytes, bytearray)):
        try:
            message = dns.message.from_wire(message)
        except Exception as error:  # noqa: BLE001 -- any parse failure is worth showing
            return f"<{len(message)} unparsable octets: {error}>"
    flags = dns.flags.to_text(message.flags)
    lines = [f"rcode={dns.rcode.to_text(message.rcode())} flags=[{flags}]"]
    for section in ("answer", "authority", "additional"):
        for rrset in getattr(message, section):
            for line in rrset.to_text().splitlines():
                lines.append(f"  {section}: {line}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# kdig


class KdigResult:
    def __init__(self, text):
        self.text = text
        self.rcode = None
        self.opcode = None
        self.flags = set()
        self.sections = {"QUESTION": [], "ANSWER": [], "AUTHORITY": [], "ADDITIONAL": [],
                         "EDNS PSEUDOSECTION": []}
        self.nsid = None

    def records(self, section):
        """[(owner, ttl, class, type, rdata)] with owner lowercased, ttl an int."""
        return self.sections[section.upper()]


def kdig(port, qname, qtype="A", *options, transport="udp", timeout=2):
    """Runs kdig against the server and parses its text output (Knot 3.2 format)."""
    binary = shutil.which("kdig")
    if not binary:
        return None
    args = [binary, f"@{LOOPBACK}", "-p", str(port), f"+timeout={timeout}", "+retry=0",
            "+norecurse", *options, qname, qtype]
    if transport == "tcp":
        args.append("+tcp")
    completed = subprocess.run(args, capture_output=True, text=True, timeout=timeout * 3 + 5)
    return parse_kdig(completed.stdout)


def parse_kdig(text):
    result = KdigResult(text)
    section = None
    for line in text.splitlines():
        header = re.match(r";; ->>HEADER<<- opcode: (\w+); status: (\w+); id: \d+", line)
        if header:
            result.opcode, result.rcode = header.group(1), header.group(2)
            continue
        flags = re.match(r";; Flags: ([^;]*);", line)
        if flags:
            result.flags = set(flags.group(1).split())
            continue
        nsid = re.match(r";; NSID: (\S+)(?: \"(.*)\")?", line)
        if nsid:
            result.nsid = nsid.group(2) if nsid.group(2) is not None else nsid.group(1)
            continue
        heading = re.match(r";; ([A-Z ]+?)(?: SECTION)?:\s*$", line)
        if heading and heading.group(1) in result.sections:
            section = heading.group(1)
            continue
        if not line.strip() or line.startswith(";;"):
            if not line.strip():
                section = None if section != "EDNS PSEUDOSECTION" else section
            continue
        if section in ("ANSWER", "AUTHORITY", "ADDITIONAL"):
            parts = line.split(None, 4)
            if len(parts) >= 4:
                owner, ttl, klass, rdtype = parts[:4]
                result.sections[section].append(
                    (owner.lower(), int(ttl), klass, rdtype, parts[4] if len(parts) > 4 else ""))
    return result


# ---------------------------------------------------------------------------------------------
# A tiny test runner: every test_* function, in file order, each reported; one failure does not
# stop the others. A test may take a `transport` parameter: then it runs over UDP and TCP; and
# @variants(parameter, values...) runs it once per value (name[value], each reported). Its
# other parameters are fixtures: setup() returns one object, or a dict of them by name.


class Skipped(Exception):
    """Raised by a test that cannot run here; printed loudly, not counted as a pass."""


class Blocked(Exception):
    """Raised by a test waiting for a feature that has not landed; counted as a failure."""


def part(name):
    """Puts the test in CTest's <file>_<name> instead of <file>: for a check that needs what the
    file's others do not, so that its skip shows in CTest (tests/CMakeLists.txt finds these
    lines, so write the decorator alone on its line, with a literal name)."""
    if name == "main" or not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"part name {name!r}: lowercase letters, digits and _, not main")

    def mark(fn):
        fn.part = name
        return fn
    return mark


def selected_part():
    """The part CTest runs (None by hand: all of them)."""
    return os.environ.get("MERIDIAN_TEST_PART") or None


def variants(parameter, *values):
    """Runs the test once per value of `parameter`, labelled name[str(value)], like transport."""
    def mark(fn):
        fn.variants = {**getattr(fn, "variants", {}), parameter: values}
        return fn
    return mark


def expect(condition, what, expected, got):
    """Fails with the query, what was expected and what came back."""
    if not condition:
        raise AssertionError(f"{what}\n    expected: {expected}\n    got:      {got}")


def start_default_meridian():
    """The setup most test files share: one Meridian on the default test zones."""
    return Meridian().start()


def stop_server(server):
    """The matching teardown: stop it and say how it exited."""
    if server is not None:
        status = server.stop()
        print(f"meridian exited with {status}")


def run_tests(namespace, setup=None, teardown=None):
    tests = [(name, fn) for name, fn in namespace.items()
             if name.startswith("test_") and callable(fn)]
    tests.sort(key=lambda item: item[1].__code__.co_firstlineno)
    chosen = selected_part()
    if chosen:
        tests = [(name, fn) for name, fn in tests if getattr(fn, "part", "main") == chosen]
        if not tests:
            # A misspelt part would otherwise pass with nothing run.
            print(f"FAIL: no test in part {chosen!r} (MERIDIAN_TEST_PART)", flush=True)
            return 1
    only = sys.argv[1:]
    results = {"passed": [], "failed": [], "skipped": []}
    context = None
    try:
        if setup:
            try:
                context = setup()
            except Exception:  # noqa: BLE001 -- report any setup failure once, clearly
                print("SETUP FAILED:\n" + traceback.format_exc(), flush=True)
                return 1
        for name, fn in tests:
            if only and not any(o in name for o in only):
                continue
            parameters = fn.__code__.co_varnames[:fn.__code__.co_argcount]
            axes = dict(getattr(fn, "variants", {}))
            if "transport" in parameters:
                axes["transport"] = ("udp", "tcp")
            for combination in itertools.product(*axes.values()):
                label = name if not axes else \
                    f"{name}[{','.join(str(value) for value in combination)}]"
                kwargs = dict(zip(axes, combination))
                for parameter in parameters:
                    if parameter in kwargs:
                        continue
                    # A dict context holds named fixtures; any other is passed as-is.
                    kwargs[parameter] = context[parameter] if isinstance(context, dict) \
                        else context
                try:
                    fn(**kwargs)
                except Skipped as reason:
                    print(f"SKIP  {label}: {reason}", flush=True)
                    results["skipped"].append(label)
                    continue
                except AssertionError as error:
                    print(f"FAIL  {label}: {error}", flush=True)
                except Blocked as reason:
                    print(f"FAIL  {label}: BLOCKED: {reason}", flush=True)
                except Exception:  # noqa: BLE001 -- an exception is a failure of this test only
                    print(f"FAIL  {label}: exception\n{traceback.format_exc()}", flush=True)
                else:
                    print(f"PASS  {label}", flush=True)
                    results["passed"].append(label)
                    continue
                results["failed"].append(label)
    finally:
        if teardown:
            teardown(context)
        _stop_all()
    print(f"\n{len(results['passed'])} passed, {len(results['failed'])} failed, "
          f"{len(results['skipped'])} skipped", flush=True)
    if results["failed"]:
        print("failed: " + ", ".join(results["failed"]), flush=True)
        return 1
    if results["skipped"] and results["passed"]:
        # Exit 0 would report the skipped checks as passed, 77 the passed ones as skipped.
        print("FAIL: " + ", ".join(results["skipped"]) + " could not run while the rest "
              "passed; give such a check its own @part so that CTest reports it as skipped",
              flush=True)
        return 1
    if results["skipped"]:
        return SKIP
    if not results["passed"]:
        print("FAIL: no test ran", flush=True)
        return 1
    return 0


# ---------------------------------------------------------------------------------------------
# Knot DNS as a reference peer (Debian's knotd 3.2)


class Knot(ManagedServer):
    """knotd in the foreground with a generated config, serving copies of tests/zones and
    `files` (relative path -> text, written next to the config, as Meridian's)."""

    def __init__(self, zones=DEFAULT_ZONES, server_lines=(), files=None):
        self.binary = require_program("knotd")
        self.server_lines = list(server_lines)  # extra "key: value" lines for server:
        self.port = free_port()
        self.zones = list(zones)
        self.tmpdir = Path(tempfile.mkdtemp(prefix="meridian-knot-"))
        shutil.copytree(ZONES_DIR, self.tmpdir / "zones")
        for relative, text in (files or {}).items():
            target = self.tmpdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        (self.tmpdir / "run").mkdir()
        (self.tmpdir / "storage").mkdir()
        self.config = self.tmpdir / "knot.conf"
        self.log = self.tmpdir / "knot.log"
        self.process = None

    def server_sections(self):
        """The server, database and log sections every Knot of the tests shares: loopback,
        one worker of each kind, its own folders, everything logged to stderr."""
        extra = "".join(f"  {line}\n" for line in self.server_lines)
        return f"""server:
  listen: {LOOPBACK}@{self.port}
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
  rundir: {self.tmpdir / 'run'}
{extra}database:
  storage: {self.tmpdir / 'storage'}
log:
  - target: stderr
    any: info
"""

    def config_text(self):
        zones = "\n".join(f"  - domain: {origin}\n    file: {file}" for file, origin in self.zones)
        return self.server_sections() + f"""template:
  - id: default
    storage: {self.tmpdir / 'zones'}
    journal-content: none
    zonefile-load: whole
    zonefile-sync: -1
    semantic-checks: off
zone:
{zones}
"""

    def tsig_sections(self, key_name, secret, meridian_port):
        """The TSIG key (hmac-sha256) and the remote `meridian` at `meridian_port`, signed
        with it: what a Knot transferring to or from Meridian puts after server_sections()."""
        return f"""key:
  - id: {key_name}
    algorithm: hmac-sha256
    secret: {secret}
remote:
  - id: meridian
    address: {LOOPBACK}@{meridian_port}
    key: {key_name}
"""

    def launch(self):
        """Writes the config and starts knotd, without waiting for it."""
        self.config.write_text(self.config_text())
        self.spawn([self.binary, "-c", str(self.config)])

    def start(self, ready_timeout=10.0):
        self.launch()
        deadline = time.monotonic() + ready_timeout
        probe = dns.message.make_query(self.zones[0][1], "SOA").to_wire()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"knotd exited with {self.process.returncode}:\n"
                                   f"{self.log.read_text(errors='replace')}")
            reply = udp_raw(self.port, probe, timeout=0.2)
            if reply is not None and rcode_of(reply) == 0:  # SERVFAIL until the zone loads
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("knotd did not serve its zones in time")


# ---------------------------------------------------------------------------------------------
# Unbound as a real ECS resolver in front of Meridian (Debian's unbound 1.17)


class Unbound(ManagedServer):
    """unbound -d with a generated config: a caching resolver on a free loopback port whose
    subnetcache module sends the client's address as ECS to the authority at
    `stub_address@stub_port`, reached for `zone` through a stub-zone. Its control socket lives
    in the temp folder, for `stats()`."""

    def __init__(self, zone, stub_port, stub_address=LOOPBACK, server_lines=()):
        self.binary = require_program("unbound")
        self.control_binary = shutil.which("unbound-control") or shutil.which(
            "unbound-control", path="/usr/sbin:/usr/bin")
        self.zone, self.stub_port, self.stub_address = zone, stub_port, stub_address
        self.server_lines = list(server_lines)  # extra "key: value" lines for server:
        self.port = free_port()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="meridian-unbound-"))
        self.config = self.tmpdir / "unbound.conf"
        self.log = self.tmpdir / "unbound.log"
        self.process = None

    def common_server_lines(self):
        """The server: settings every test's Unbound shares: loopback, foreground, its files
        in the temp folder, one thread."""
        return f"""server:
    interface: {LOOPBACK}
    port: {self.port}
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{self.tmpdir}"
    pidfile: "{self.tmpdir / 'unbound.pid'}"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
"""

    def config_text(self):
        extra = "".join(f"    {line}\n" for line in self.server_lines)
        zone = self.zone.rstrip(".") + "."
        return self.common_server_lines() + f"""    # ECS (RFC 7871) towards the authority, with the client's whole address: the default
    # 24 bits would hide the difference between test clients.
    module-config: "subnetcache iterator"
    send-client-subnet: {self.stub_address}
    client-subnet-always-forward: yes
    max-client-subnet-ipv4: 32
    max-client-subnet-ipv6: 128
    # The authority is on loopback and the zone is unsigned.
    do-not-query-localhost: no
    domain-insecure: "{zone}"
    auto-trust-anchor-file: ""
    qname-minimisation: no
    prefetch: no
    # num.query.subnet and num.query.subnet_cache are extended statistics.
    extended-statistics: yes
{extra}
remote-control:
    control-enable: yes
    control-interface: "{self.tmpdir / 'control.sock'}"
    control-use-cert: no

stub-zone:
    name: "{zone}"
    stub-addr: {self.stub_address}@{self.stub_port}
"""

    def start(self, ready_timeout=10.0):
        self.config.write_text(self.config_text())
        checkconf = shutil.which("unbound-checkconf", path="/usr/sbin:/usr/bin")
        if checkconf:
            checked = subprocess.run([checkconf, str(self.config)], capture_output=True,
                                     text=True, timeout=30)
            if checked.returncode != 0:
                raise RuntimeError(f"unbound-checkconf refused the generated config:\n"
                                   f"{checked.stdout}{checked.stderr}")
        self.spawn([self.binary, "-d", "-c", str(self.config)])
        deadline = time.monotonic() + ready_timeout
        probe = dns.message.make_query("version.server.", "TXT", "CH").to_wire()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"unbound exited with {self.process.returncode}:\n"
                                   f"{self.log_text()}")
            if udp_raw(self.port, probe, timeout=0.2) is not None:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("unbound did not answer in time")

    def stats(self):
        """unbound-control stats_noreset as {name: number}; None without unbound-control."""
        if not self.control_binary:
            return None
        completed = subprocess.run([self.control_binary, "-c", str(self.config),
                                    "stats_noreset"], capture_output=True, text=True, timeout=10)
        if completed.returncode != 0:
            raise RuntimeError(f"unbound-control stats_noreset failed:\n{completed.stdout}"
                               f"{completed.stderr}")
        stats = {}
        for line in completed.stdout.splitlines():
            name, _, value = line.partition("=")
            try:
                stats[name] = float(value)
            except ValueError:
                continue
        return stats

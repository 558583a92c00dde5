"""Binding the anycast address (IP_FREEBIND): in a network namespace this test creates,
Meridian starts on 198.51.100.53 before the address exists there, answers once the address is
added to lo, and keeps answering on the same sockets after the address is withdrawn and added
again. Needs root (for the namespace), iproute2 and kdig; skipped loudly otherwise."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    ZONES_DIR, expect, meridian_binary, require_program, run_tests, skip, stop_pid)

ANYCAST = "198.51.100.53"
PORT = 5300  # the namespace is ours alone, so any port is free
NAMESPACE = f"meridian-anycast-{os.getpid()}"


def ip(*args, check=True):
    return subprocess.run([IP, *args], capture_output=True, text=True, timeout=10, check=check)


def soa_answered():
    """One SOA query from inside the namespace; True when kdig printed an answer."""
    completed = subprocess.run(
        [IP, "netns", "exec", NAMESPACE, KDIG, f"@{ANYCAST}", "-p", str(PORT), "+timeout=1",
         "+retry=0", "+norecurse", "example.com.", "SOA"],
        capture_output=True, text=True, timeout=10)
    return "status: NOERROR" in completed.stdout and "ANSWER SECTION" in completed.stdout


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def setup():
    ip("netns", "add", NAMESPACE)
    ip("-n", NAMESPACE, "link", "set", "lo", "up")
    folder = Path(tempfile.mkdtemp(prefix="meridian-anycast-"))
    shutil.copytree(ZONES_DIR, folder / "zones")
    config = folder / "meridian.toml"
    config.write_text(f"""[server]
listen = ["{ANYCAST}:{PORT}"]
workers = 1
identity = "pop-a"

[[zone]]
file = "zones/example.com.zone"
origin = "example.com."
""")
    log = open(folder / "meridian.log", "wb")
    # `ip netns exec` enters the namespace and execs the binary, so this PID is Meridian's.
    process = subprocess.Popen([IP, "netns", "exec", NAMESPACE, meridian_binary(), "serve",
                                "--config", str(config)], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    return {"server": {"process": process, "folder": folder, "log": log}}


def teardown(context):
    if context:
        server = context["server"]
        stop_pid(server["process"])
        server["log"].close()
        if not os.environ.get("MERIDIAN_KEEP_TMP"):
            shutil.rmtree(server["folder"], ignore_errors=True)
    ip("netns", "del", NAMESPACE, check=False)


def log_text(server):
    return (server["folder"] / "meridian.log").read_text(errors="replace")


def test_starts_before_the_address_exists(server):
    started = wait_for(lambda: "serving 1 zone on" in log_text(server))
    expect(started and server["process"].poll() is None,
           f"meridian bound to {ANYCAST} with the address on no interface",
           "running and serving", f"exit {server['process'].poll()}, log:\n{log_text(server)}")
    expect(not soa_answered(), "a query before the address exists", "no answer", "an answer")


def test_answers_once_the_address_is_added(server):
    ip("-n", NAMESPACE, "addr", "add", f"{ANYCAST}/32", "dev", "lo")
    expect(wait_for(soa_answered), f"SOA query to {ANYCAST} after adding it to lo",
           "an answer", f"none; log:\n{log_text(server)}")


def test_keeps_its_sockets_when_the_address_is_withdrawn_and_added_again(server):
    ip("-n", NAMESPACE, "addr", "del", f"{ANYCAST}/32", "dev", "lo")
    expect(not soa_answered(), "a query while the address is withdrawn", "no answer", "an answer")
    ip("-n", NAMESPACE, "addr", "add", f"{ANYCAST}/32", "dev", "lo")
    expect(wait_for(soa_answered), "SOA query after the address came back", "an answer",
           f"none; log:\n{log_text(server)}")
    expect(server["process"].poll() is None, "the same process", "still running",
           f"exit {server['process'].poll()}")


if __name__ == "__main__":
    if os.geteuid() != 0:
        skip("network namespaces need root; this test binds an anycast address in one")
    IP = require_program("ip")
    KDIG = require_program("kdig")
    if ip("netns", "add", NAMESPACE, check=False).returncode != 0:
        skip("cannot create a network namespace here (ip netns add failed)")
    ip("netns", "del", NAMESPACE)
    sys.exit(run_tests(globals(), setup, teardown))

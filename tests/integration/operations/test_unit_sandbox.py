"""deploy/systemd/meridian.service's sandbox against what the README's configuration writes:
the secondary zone's kept copy, the control socket and the drain state.

The main part reads the unit (ProtectSystem=strict leaves only its StateDirectory=,
RuntimeDirectory=, CacheDirectory=, LogsDirectory= and ReadWritePaths= writable) and checks that
every path the README's example config writes lies in one of them, never in the config folder;
the paths are the ones `meridian check` reports, so its defaults are what is checked.

The sandbox part runs the server in that sandbox for real, as far as a machine without systemd
as PID 1 allows (systemd-run and systemd-nspawn need it; CI and this project's machines have
none): in a mount namespace (unshare, as root) where the whole file system is read-only except
the unit's directories, as an unprivileged user (setpriv), it transfers a secondary zone from a
scripted primary, keeps the copy, remembers a drain, and shows no write error; the same with
the copy in the config folder (the README's example before) shows the error in the log,
/metrics and `ctl status`. /tmp is read-only there too, stricter than the unit's PrivateTmp=.
The system call filter, capabilities and the other Protect*= settings are not emulated."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "transfers"))  # its primary
import dns.exception  # noqa: E402

from meridian_harness import (  # noqa: E402
    LOOPBACK, SOURCE_DIR, Skipped, expect, free_port, meridian_binary, part, query,
    run_meridian, run_tests, stop_pid, wait_for_value)
from test_secondary_transfers import ScriptedPrimary  # noqa: E402

UNIT = SOURCE_DIR / "deploy" / "systemd" / "meridian.service"
README = SOURCE_DIR / "README.md"
# The README's secondary zone.
ORIGIN = "example.net."
# The user the sandbox runs as: Debian's nobody / nogroup, standing in for the unit's User=.
SERVICE_UID = SERVICE_GID = 65534


def unit_settings():
    """The [Service] settings of the unit: name -> list of values, in order."""
    settings = {}
    section = None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            name, value = line.split("=", 1)
            settings.setdefault(name.strip(), []).append(value.strip())
    return settings


def writable_directories(settings):
    """What ProtectSystem=strict leaves writable: the unit's own directories (systemd.exec(5),
    "RuntimeDirectory=..."), and ReadWritePaths=."""
    expect(settings.get("ProtectSystem") == ["strict"], "the unit's ProtectSystem",
           "strict (else this test checks the wrong thing)", settings.get("ProtectSystem"))
    roots = {"RuntimeDirectory": "/run", "StateDirectory": "/var/lib",
             "CacheDirectory": "/var/cache", "LogsDirectory": "/var/log"}
    writable = []
    for name, root in roots.items():
        for value in settings.get(name, []):
            writable += [Path(root) / directory for directory in value.split()]
    for value in settings.get("ReadWritePaths", []):
        writable += [Path(path.lstrip("-")) for path in value.split()]
    return writable


def readme_toml_block(containing):
    """The README's first ```toml block that contains `containing`."""
    for block in re.findall(r"```toml\n(.*?)```", README.read_text(), re.DOTALL):
        if containing in block:
            return block
    raise AssertionError(f"README.md has no toml block with {containing!r}")


def pop_config(primary_port, http_port, listen_port, zone_edit=None):
    """The README's secondary zone and [control] table as a PoP would use them, with this
    test's addresses: the primary, HTTP and listen ports. The zone's TSIG key (its secret is
    a placeholder) is left out. `zone_edit` may change the zone's table."""
    zone = readme_toml_block("primaries =")
    zone = zone.split("\n[[tsig]]")[0]
    zone = "\n".join(line for line in zone.splitlines() if not line.startswith("tsig ="))
    zone = re.sub(r"^primaries = .*$", f'primaries = ["{LOOPBACK}:{primary_port}"]', zone,
                  flags=re.MULTILINE)
    if zone_edit:
        zone = zone_edit(zone)
    control = readme_toml_block("[control]\nhttp =")
    control = re.sub(r'^http = "[^"]*"', f'http = "{LOOPBACK}:{http_port}"', control,
                     flags=re.MULTILINE)
    control = re.sub(r"^check_interval = .*$", "check_interval = 0.1", control,
                     flags=re.MULTILINE)
    return f'[server]\nlisten = ["{LOOPBACK}:{listen_port}"]\n\n{zone}\n{control}'


def toml_value(text, key):
    match = re.search(rf'^{key} = "([^"]*)"', text, re.MULTILINE)
    return match.group(1) if match else None


def is_under(path, folders):
    return any(Path(path) == folder or folder in Path(path).parents for folder in folders)


def test_every_path_the_readme_config_writes_is_writable_in_the_unit():
    writable = writable_directories(unit_settings())
    folder = Path(tempfile.mkdtemp(prefix="meridian-unit-"))
    try:
        config_folder = folder / "etc" / "meridian"  # as /etc/meridian: read-only in the unit
        config_folder.mkdir(parents=True)
        config = config_folder / "base.toml"
        text = pop_config(53053, 8053, 53)
        config.write_text(text)
        checked = run_meridian("check", "--config", config)
        expect(checked.returncode == 0, "meridian check of the README's config", "exit 0",
               checked.stderr)
        copy = re.search(rf"secondary zone {re.escape(ORIGIN)} has no copy in (\S+) yet",
                         checked.stderr)
        expect(copy, "meridian check", "where the secondary zone's copy goes", checked.stderr)
        socket_path = toml_value(text, "socket") or "/run/meridian/control.sock"
        state = toml_value(text, "state")
        expect(state, "the README's [control]", "a state folder (a drain survives restarts)",
               text)
        for what, path in (("the secondary zone's copy", copy.group(1)),
                           ("the control socket", socket_path), ("the drain state", state)):
            expect(is_under(path, writable), what, f"under one of {[str(w) for w in writable]}",
                   path)
            expect(not is_under(path, [config_folder]), what, "outside the config folder", path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class SandboxedMeridian:
    """`meridian serve` as the unit would run it: a private mount namespace where / is
    read-only but for the unit's directories (each a folder of this test's, bound there), as
    SERVICE_UID. Stopped by its PID (unshare, sh and setpriv each exec the next)."""

    def __init__(self, folder, writable, config):
        self.folder = folder
        self.log = folder / "meridian.log"
        script = ["set -e"]
        parents = []
        self.bound = {}
        for index, directory in enumerate(writable):
            source = folder / f"writable{index}"
            source.mkdir()
            os.chown(source, SERVICE_UID, SERVICE_GID)
            os.chmod(source, 0o750)
            self.bound[directory] = source
            if directory.parent not in parents:
                # A fresh folder over the parent, so the directory can be made without
                # touching the host; read-only again below.
                parents.append(directory.parent)
                script.append(f"mount -t tmpfs -o mode=0755 tmpfs '{directory.parent}'")
            script += [f"mkdir -p '{directory}'", f"mount --bind '{source}' '{directory}'"]
        script.append("mount -o remount,bind,ro /")  # ProtectSystem=strict
        script += [f"mount -o remount,ro '{parent}'" for parent in parents]
        script.append(f"exec setpriv --reuid={SERVICE_UID} --regid={SERVICE_GID} "
                      f"--clear-groups --no-new-privs '{meridian_binary()}' serve "
                      f"--config '{config}'")
        self.log_file = open(self.log, "wb")
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script)],
            stdout=self.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def host_path(self, path):
        """Where a path inside the sandbox is on the host."""
        for directory, source in self.bound.items():
            if directory == Path(path) or directory in Path(path).parents:
                return source / Path(path).relative_to(directory)
        raise AssertionError(f"{path} is not in a writable directory of the unit")

    def log_text(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        stop_pid(self.process)
        self.log_file.close()


def require_sandbox():
    """Skips unless this machine can build the sandbox: root (for mount namespaces), unshare,
    setpriv, and a binary the service user may run."""
    if os.geteuid() != 0:
        raise Skipped("a mount namespace needs root")
    for program in ("unshare", "setpriv", "mount"):
        if not shutil.which(program):
            raise Skipped(f"{program} is not installed")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "mount -o remount,bind,ro / && ! touch /meridian-sandbox-probe"],
                           capture_output=True, timeout=10)
    if probe.returncode != 0:
        raise Skipped("cannot make / read-only in a mount namespace here: "
                      + probe.stderr.decode(errors="replace"))
    runs = subprocess.run(["setpriv", f"--reuid={SERVICE_UID}", f"--regid={SERVICE_GID}",
                           "--clear-groups", meridian_binary(), "--version"],
                          capture_output=True, timeout=10)
    if runs.returncode != 0:
        raise Skipped(f"the binary cannot be run as uid {SERVICE_UID}: "
                      + runs.stderr.decode(errors="replace"))


def serial_of(port):
    try:
        reply = query(port, ORIGIN, "SOA", timeout=1.0)
    except dns.exception.Timeout:
        return None
    return reply.answer[0][0].serial if reply.rcode() == 0 and reply.answer else None


def metrics_of(http_port):
    with urllib.request.urlopen(f"http://{LOOPBACK}:{http_port}/metrics", timeout=5) as reply:
        return reply.read().decode()


def run_in_sandbox(zone_edit=None):
    """Serves the README's config in the sandbox until its zone is transferred; returns the
    server (running), its ports and the primary. The caller stops both."""
    writable = writable_directories(unit_settings())
    folder = Path(tempfile.mkdtemp(prefix="meridian-sandbox-"))
    os.chmod(folder, 0o755)  # the config is read by the service user
    config_folder = folder / "etc" / "meridian"
    config_folder.mkdir(parents=True)
    for parent in (folder / "etc", config_folder):
        os.chmod(parent, 0o755)
    primary = ScriptedPrimary()
    http_port, listen_port = free_port(), free_port()
    config = config_folder / "base.toml"
    config.write_text(pop_config(primary.port, http_port, listen_port, zone_edit))
    server = SandboxedMeridian(folder, writable, config)
    try:
        wait_for_value("the first transfer", lambda: serial_of(listen_port) == 1 or
                       server.process.poll() is not None, 15)
        expect(server.process.poll() is None, "the sandboxed server", "running",
               server.log_text())
    except BaseException:
        server.stop()
        primary.stop()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return server, http_port, primary, folder


@part("sandbox")
def test_the_readme_config_keeps_its_copy_and_state_in_the_sandbox():
    require_sandbox()
    server, http_port, primary, folder = run_in_sandbox()
    try:
        copy = server.host_path(f"/var/lib/meridian/secondary/{ORIGIN}zone")
        wait_for_value("the kept copy", copy.exists, 10)
        expect("3600 600 1209600 60" in copy.read_text(), "the kept copy", "the zone's SOA",
               copy.read_text())
        socket_path = server.host_path("/run/meridian/control.sock")
        drained = run_meridian("ctl", "--socket", socket_path, "drain")
        expect(drained.returncode == 0 and "remembered across restarts in /var/lib/meridian"
               in drained.stdout, "ctl drain in the sandbox", "remembered in the state folder",
               drained.stdout + drained.stderr + server.log_text())
        status = run_meridian("ctl", "--socket", socket_path, "status")
        metrics = metrics_of(http_port)
        expect("copy error" not in status.stdout and
               "meridian_secondary_copy_write_failures_total 0\n" in metrics and
               "ERROR" not in server.log_text() and "not remembered" not in server.log_text(),
               "ctl status, /metrics and the log", "no write error",
               status.stdout + server.log_text())
    finally:
        server.stop()
        primary.stop()
        shutil.rmtree(folder, ignore_errors=True)


@part("sandbox")
def test_a_copy_in_the_config_folder_is_an_error_in_the_log_metrics_and_status():
    require_sandbox()
    # The README's example before: the copy beside the config, read-only under the unit.
    server, http_port, primary, folder = run_in_sandbox(
        lambda zone: zone + '\nfile = "cache/example.net.zone"\n')
    try:
        wait_for_value("the error in the log", lambda: "ERROR: the copy was not kept on disk"
                       in server.log_text(), 10)
        metrics = metrics_of(http_port)
        expect("meridian_secondary_copy_write_failures_total 1\n" in metrics and
               f'meridian_secondary_copy_failing{{zone="{ORIGIN}"}} 1\n' in metrics,
               "/metrics", "the failed write counted",
               "\n".join(line for line in metrics.splitlines() if "copy" in line))
        status = run_meridian("ctl", "--socket", server.host_path("/run/meridian/control.sock"),
                              "status")
        expect(re.search(rf"^copy error +{re.escape(ORIGIN)} not kept on disk: .*Read-only file "
                         "system", status.stdout, re.MULTILINE), "ctl status",
               "a copy error row naming the cause", status.stdout)
        expect(serial_of(int(re.search(r'listen = \["[^:]+:(\d+)"',
                                       (folder / "etc/meridian/base.toml").read_text())[1]))
               == 1, "the zone", "served all the same", server.log_text())
    finally:
        server.stop()
        primary.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_tests(globals()))

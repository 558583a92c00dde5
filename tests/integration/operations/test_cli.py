"""The command line: `check` verdicts and `file:line: message` diagnostics, `serve` refusing a
broken zone, `--version`, `--help`, and a clean exit on SIGTERM. Configs: tests/zones/*.toml."""

import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    SOURCE_DIR, ZONES_DIR, Meridian, expect, meridian_binary, run_meridian, run_tests, stop_pid)


def marked_line(path, marker):
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{path} has no line marked {marker}")


def output(completed):
    return f"exit {completed.returncode}\nstdout: {completed.stdout}\nstderr: {completed.stderr}"


def test_check_accepts_good_config():
    completed = run_meridian("check", "--config", ZONES_DIR / "good.toml")
    expect(completed.returncode == 0, "meridian check --config good.toml", "exit 0",
           output(completed))


def test_check_accepts_generated_config():
    server = Meridian()
    try:
        completed = run_meridian("check", "--config", server.write_config())
    finally:
        server.stop()
    expect(completed.returncode == 0, "meridian check on the harness's config", "exit 0",
           output(completed))


def test_check_reports_zone_syntax_error_with_file_and_line():
    line = marked_line(ZONES_DIR / "broken.zone", "SYNTAX-ERROR-LINE")
    completed = run_meridian("check", "--config", ZONES_DIR / "broken-zone.toml")
    text = completed.stdout + completed.stderr
    expect(completed.returncode != 0, "meridian check --config broken-zone.toml", "non-zero exit",
           output(completed))
    expect(re.search(rf"broken\.zone:{line}: \S", text),
           "meridian check --config broken-zone.toml", f"a 'broken.zone:{line}: message' line",
           output(completed))


def test_check_names_unknown_key_and_line():
    line = marked_line(ZONES_DIR / "unknown-key.toml", "UNKNOWN-KEY-LINE")
    completed = run_meridian("check", "--config", ZONES_DIR / "unknown-key.toml")
    text = completed.stdout + completed.stderr
    expect(completed.returncode != 0, "meridian check --config unknown-key.toml",
           "non-zero exit", output(completed))
    expect(re.search(rf"unknown-key\.toml:{line}: .*worker_count", text),
           "meridian check --config unknown-key.toml",
           f"'unknown-key.toml:{line}: ...worker_count...'", output(completed))


def test_check_reports_missing_files():
    completed = run_meridian("check", "--config", ZONES_DIR / "no-such-config.toml")
    expect(completed.returncode != 0 and "no-such-config.toml" in completed.stderr,
           "meridian check on a missing config", "non-zero exit naming the file",
           output(completed))
    server = Meridian(zones=[("no-such.zone", "example.com.")])
    try:
        completed = run_meridian("check", "--config", server.write_config())
    finally:
        server.stop()
    expect(completed.returncode != 0 and "no-such.zone" in completed.stderr,
           "meridian check on a config naming a missing zone file",
           "non-zero exit naming the zone file", output(completed))


def test_serve_refuses_to_start_on_broken_zone():
    server = Meridian(zones=[("broken.zone", "broken.example.")])
    process = None
    try:
        config = server.write_config()
        process = subprocess.Popen([meridian_binary(), "serve", "--config", str(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL)
        try:
            stdout, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            stop_pid(process)
            raise AssertionError("meridian serve on broken.zone: expected it to exit with an "
                                 "error; it was still running after 10 s")
        expect(process.returncode != 0 and "broken.zone" in stderr,
               "meridian serve with broken.zone", "non-zero exit naming broken.zone",
               f"exit {process.returncode}\nstderr: {stderr}")
    finally:
        if process is not None and process.poll() is None:
            stop_pid(process)
        server.stop()


def test_version_prints_project_version():
    declared = re.search(r"project\(meridian VERSION ([0-9.]+)",
                         (SOURCE_DIR / "CMakeLists.txt").read_text())
    completed = run_meridian("--version")
    expect(completed.returncode == 0 and declared and declared.group(1) in completed.stdout,
           "meridian --version", f"exit 0 and {declared.group(1) if declared else '?'}",
           output(completed))


def test_help_describes_commands():
    completed = run_meridian("--help")
    expect(completed.returncode == 0 and "serve" in completed.stdout
           and "check" in completed.stdout, "meridian --help",
           "exit 0, usage naming serve and check on stdout", output(completed))


def test_unknown_command_is_an_error():
    for args in (("frobnicate",), (), ("serve",)):
        completed = run_meridian(*args)
        expect(completed.returncode != 0 and completed.stderr.strip(),
               f"meridian {' '.join(args)}", "non-zero exit with a message on stderr",
               output(completed))


def test_sigterm_exits_cleanly():
    server = Meridian().start()
    started = time.monotonic()
    status = server.stop()
    elapsed = time.monotonic() - started
    expect(status == 0, "SIGTERM to meridian serve", "exit status 0", status)
    expect(elapsed < 5.0, "SIGTERM to meridian serve", "exit within 5 s (no SIGKILL needed)",
           f"{elapsed:.1f} s")


if __name__ == "__main__":
    sys.exit(run_tests(globals()))

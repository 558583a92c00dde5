"""One config, many PoPs: `--config base.toml --config pop.toml` through the real binary. The
later file's keys win, zones from both files are served, `check --print` shows the merged
config (which loads on its own), diagnostics name the file and line, `explain` and a SIGHUP
reload read every file."""

import os
import signal
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import Meridian, expect, query, run_meridian, run_tests  # noqa: E402

EXTRA = "merged.example."
EXTRA_ZONE = (f"$ORIGIN {EXTRA}\n$TTL 60\n@ SOA ns1 hostmaster 7 7200 3600 1209600 60\n"
              "@ NS ns1\nns1 A 192.0.2.1\n")


def pop_config(identity):
    return (f'# the per-PoP part\n[server]\nidentity = "{identity}"\n\n'
            '[[zone]]\nfile = "zones/merged.example.zone"\n')


def setup():
    server = Meridian(files={"pop.toml": pop_config("pop-b"),
                             "zones/merged.example.zone": EXTRA_ZONE},
                      more_configs=["pop.toml"])
    return server.start()


def teardown(server):
    if server is not None:
        server.stop()


def identity(server):
    reply = query(server.port, "id.server.", "TXT", rdclass="CH")
    return reply.answer[0][0].strings[0].decode() if reply.answer else None


def output(completed):
    return f"exit {completed.returncode}\nstdout: {completed.stdout}\nstderr: {completed.stderr}"


def test_the_later_file_sets_the_identity(server):
    expect(identity(server) == "pop-b", "CH TXT id.server.", "pop-b", identity(server))


def test_zones_from_both_files_are_served(server):
    for origin in ("example.com.", EXTRA):
        reply = query(server.port, origin, "SOA")
        expect(reply.rcode() == 0 and reply.answer, f"{origin} SOA", "NOERROR with the SOA",
               reply)


def test_check_print_shows_the_merged_config(server):
    completed = run_meridian("check", *server.config_arguments(), "--print")
    expect(completed.returncode == 0, "check --print", "exit 0", output(completed))
    merged = tomllib.loads(completed.stdout)
    expect(merged["server"]["identity"] == "pop-b", "identity in the printed config", "pop-b",
           merged["server"])
    files = [zone["file"] for zone in merged["zone"]]
    expect(files[-1] == "zones/merged.example.zone" and len(files) == 3,
           "[[zone]] entries in the printed config", "the base's two, then the PoP's", files)
    expect(completed.stderr.startswith("ok: 3 zones"), "check's verdict", "on stderr",
           output(completed))
    printed = server.tmpdir / "printed.toml"
    printed.write_text(completed.stdout)
    again = run_meridian("check", "--config", printed)
    expect(again.returncode == 0, "check on the printed config alone", "exit 0", output(again))


def test_check_names_the_file_and_line_of_an_error(server):
    bad = server.tmpdir / "bad.toml"
    bad.write_text("# a broken PoP file\n[server]\nudp_payload = 1\n")
    completed = run_meridian("check", *server.config_arguments(), "--config", bad)
    expect(completed.returncode != 0 and f"{bad}:3: 'udp_payload' must be between"
           in completed.stderr, "check with a broken third file", f"{bad}:3: ...",
           output(completed))


def test_explain_reads_every_file(server):
    completed = run_meridian("explain", *server.config_arguments(), EXTRA, "SOA")
    expect(completed.returncode == 0 and "merged.example." in completed.stdout,
           "explain with two --config files", "the PoP file's zone answers", output(completed))


def test_sighup_rereads_every_file(server):
    (server.tmpdir / "pop.toml").write_text(pop_config("pop-c"))
    before = server.log_text().count("meridian: reloaded in")
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while server.log_text().count("meridian: reloaded in") == before:
        expect(time.monotonic() < deadline, "a reload summary after SIGHUP", "within 10 s",
               server.log_text())
        time.sleep(0.01)
    expect(identity(server) == "pop-c", "id.server after editing pop.toml and SIGHUP", "pop-c",
           identity(server))


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup, teardown))

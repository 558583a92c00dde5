"""`meridian check` on zones signed elsewhere, as ldns-verify-zone checks them, and what `serve`
does with the same problems: each kind of broken zone is reported at its file and line, a broken
NSEC chain is refused by serve (and a reload keeps the version it had), signatures that expire
soon are warned about and exported as meridian_zone_rrsig_expiry_seconds, and a GeoDNS policy
on a name of a signed zone is refused (steered answers would carry no signatures)."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    Meridian, expect, free_port, meridian_binary, query, run_tests, wait_for)
from signed_servers import SignedVariants, require_signing_tools  # noqa: E402

import dns.rcode  # noqa: E402

PARENT = "dnssec.test."
variants = SignedVariants()


def signed_text(variant):
    """The signed parent zone of `variant` as text, and its folder."""
    signed = variants.get(variant)
    return (signed.folder / f"{PARENT}zone").read_text(), signed.folder


def line_of(text, owner, rdtype, covered=None):
    """1-based line of the first record (owner, type[, type covered]) in zone text."""
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if len(fields) > 4 and fields[0].lower() == owner and fields[3] == rdtype and \
                (covered is None or fields[4] == covered):
            return number
    raise AssertionError(f"no {owner} {rdtype} {covered or ''} in the zone")


def without(text, owner, rdtype, covered=None):
    """The zone text without the records (owner, type[, type covered])."""
    kept = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[0].lower() == owner and fields[3] == rdtype and \
                (covered is None or fields[4] == covered):
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def check(folder, zone_text, extra=""):
    """Writes the zone and a config naming it; runs `meridian check`; (exit code, output)."""
    zone = folder / "check.zone"
    zone.write_text(zone_text)
    config = folder / "check.toml"
    config.write_text(f'[server]\nlisten = ["127.0.0.1:{free_port()}"]\n\n'
                      f'[[zone]]\nfile = "{zone}"\norigin = "{PARENT}"\n{extra}')
    completed = subprocess.run([meridian_binary(), "check", "--config", str(config)],
                               capture_output=True, text=True, timeout=120)
    return completed.returncode, completed.stdout + completed.stderr, zone


def test_good_zone_passes():
    text, folder = signed_text("nsec")
    code, output, _ = check(folder, text)
    expect(code == 0 and "ok:" in output and "warning" not in output,
           "check of a well signed zone", "exit 0, no warning", f"{code}: {output}")


def test_tampered_signature_at_its_line():
    text, folder = signed_text("tampered")
    code, output, zone = check(folder, text)
    at = f"{zone}:{line_of(text, 'www.' + PARENT, 'RRSIG', 'A')}:"
    expect(code == 1 and at in output and "does not verify" in output,
           "check of a tampered signature", f"exit 1 and '{at} ... does not verify'",
           f"{code}: {output}")


def test_expired_signatures_reported():
    text, folder = signed_text("expired")
    code, output, zone = check(folder, text)
    at = f"{zone}:{line_of(text, PARENT, 'RRSIG', 'SOA')}:"
    expect(code == 1 and at in output and "expired" in output,
           "check of expired signatures", f"exit 1 and '{at} ... expired'", f"{code}: {output}")


def test_missing_rrsig_at_the_rrset():
    text, folder = signed_text("nsec")
    broken = without(text, "txt." + PARENT, "RRSIG", "TXT")
    code, output, zone = check(folder, broken)
    at = f"{zone}:{line_of(broken, 'txt.' + PARENT, 'TXT')}:"
    expect(code == 1 and at in output, "check of an RRset without RRSIG",
           f"exit 1 and an error at {at}", f"{code}: {output}")


def test_broken_nsec_chain_at_its_lines():
    text, folder = signed_text("nsec")
    broken = without(text, "www." + PARENT, "NSEC")
    code, output, zone = check(folder, broken)
    at = f"{zone}:{line_of(broken, 'www.' + PARENT, 'A')}:"
    expect(code == 1 and at in output and "has no NSEC record" in output
           and "NSEC chain broken" in output, "check of a broken NSEC chain",
           f"exit 1, '{at} ... has no NSEC record' and 'NSEC chain broken'", f"{code}: {output}")


def test_broken_nsec3_chain():
    text, folder = signed_text("nsec3")
    # Dropping one NSEC3 leaves its predecessor naming a hash that is not there.
    first = next(line.split()[0].lower() for line in text.splitlines()
                 if len(line.split()) > 3 and line.split()[3] == "NSEC3")
    broken = without(text, first, "NSEC3")
    code, output, _ = check(folder, broken)
    expect(code == 1 and "NSEC3 chain broken" in output, "check of a broken NSEC3 chain",
           "exit 1 and 'NSEC3 chain broken'", f"{code}: {output}")


def test_signatures_expiring_within_refresh_warned():
    signed = variants.get("nsec")
    folder = signed.folder
    keys = sorted(str(path)[:-4] for path in (folder / "keys").glob(f"K{PARENT}*.key"))
    # SOA refresh is 7200 s: signatures that expire in one hour are warned about.
    expiry = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y%m%d%H%M%S")
    out = folder / "soon.zone"
    subprocess.run(["ldns-signzone", "-o", PARENT, "-f", str(out), "-e", expiry,
                    str(folder / f"{PARENT}zone.unsigned"), *keys], check=True, timeout=60,
                   capture_output=True)
    code, output, zone = check(folder, out.read_text())
    expect(code == 0 and "warning" in output and "within the SOA refresh" in output,
           "check of signatures expiring in 1 h (refresh 2 h)",
           "exit 0 with 'warning: ... within the SOA refresh'", f"{code}: {output}")


def test_geo_policy_on_a_signed_zone_refused():
    text, folder = signed_text("nsec")
    extra = ('\n[[pool]]\nname = "eu"\naddresses = ["192.0.2.10"]\n\n'
             f'[[geo]]\nname = "www.{PARENT}"\nmode = "map"\n[geo.map]\ncontinent = {{ EU = ["eu"] }}\n')
    code, output, _ = check(folder, text, extra)
    expect(code == 1 and "signed elsewhere" in output, "check of a geo policy in a signed zone",
           "exit 1 and '... signed elsewhere ...'", f"{code}: {output}")


def metric(server, port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(rf'^{name}{{zone="{re.escape(PARENT)}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


def test_serve_refuses_a_broken_chain_and_reload_keeps_the_served_version():
    text, folder = signed_text("nsec")
    broken = without(text, "www." + PARENT, "NSEC")
    refused = Meridian(zones=[], files={"zones/bad.zone": broken},
                       extra_config=f'[[zone]]\nfile = "zones/bad.zone"\norigin = "{PARENT}"\n')
    refused.write_config()
    completed = subprocess.run([meridian_binary(), "serve", "--config", str(refused.config)],
                               capture_output=True, text=True, timeout=30)
    expect(completed.returncode != 0 and "has no NSEC record" in completed.stderr,
           "serve with a broken NSEC chain", "refused, naming the problem",
           f"{completed.returncode}: {completed.stderr}")

    http_port = free_port()
    server = Meridian(zones=[("signed.zone", PARENT)], files={"zones/signed.zone": text},
                      extra_config=f'[control]\nhttp = "127.0.0.1:{http_port}"\n').start()
    try:
        left = metric(server, http_port, "meridian_zone_rrsig_expiry_seconds")
        # ldns-signzone signs for 4 weeks by default.
        expect(left is not None and 0 < left <= 40 * 86400, "meridian_zone_rrsig_expiry_seconds",
               "the seconds to the earliest RRSIG expiry", left)
        (server.tmpdir / "zones" / "signed.zone").write_text(broken)
        before = server.log_text()
        os.kill(server.process.pid, signal.SIGHUP)
        wait_for(lambda: "reload failed" in server.log_text()[len(before):]
                 or "reloaded in" in server.log_text()[len(before):], timeout=20)
        log = server.log_text()[len(before):]
        expect("has no NSEC record" in log, "the log of a reload with a broken chain",
               "the problem named", log)
        reply = query(server.port, "www." + PARENT, "A")
        expect(reply.rcode() == dns.rcode.NOERROR and reply.answer,
               "an answer after the refused reload", "the previous version's answer", reply)
    finally:
        server.stop()


def setup():
    require_signing_tools()
    meridian_binary()


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup))

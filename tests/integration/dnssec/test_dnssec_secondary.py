"""A signed zone reaching a PoP by zone transfer is served signed (issue 14, item 1): one
Meridian serves the zone signed by ldns-signzone as a primary, a second transfers it (AXFR,
then IXFR after the primary re-signs it with a new record and notifies) and must answer every
question, with DO and without, exactly as the primary does: RRSIGs beside their RRsets and the
NSEC3 proofs, which live at hashed names the zone's index leaves out."""

import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    LOOPBACK, Meridian, expect, make_query, query, run_tests, wait_for_value)
from signed_servers import SignedVariants, require_signing_tools  # noqa: E402

import dns.exception  # noqa: E402
import dns.rcode  # noqa: E402

PARENT = "dnssec.test."
variants = SignedVariants()
QUESTIONS = [("www", "A"), ("www", "TXT"), ("nx", "A"), ("a.b.nx", "AAAA"), ("foo.wild", "A"),
             ("foo.wild", "AAAA"), ("y.ent", "A"), ("alias", "A"), ("host.dname", "A"),
             ("www.insecure", "A"), ("www.secure", "A"), ("secure", "DS"), ("", "DNSKEY"),
             ("", "NSEC3PARAM"), ("", "SOA"), ("new", "A")]


def answers(server, dnssec):
    """The normalised answers to QUESTIONS (rcode, flags, each section's records as text)."""
    out = {}
    for label, qtype in QUESTIONS:
        name = f"{label}.{PARENT}" if label else PARENT
        message = make_query(name, qtype, edns=0, payload=4096)
        if dnssec:
            message.want_dnssec(True)
        try:
            reply = query(server.port, message, transport="tcp", timeout=2.0)
        except dns.exception.Timeout:
            out[(name, qtype)] = "no answer"
            continue
        out[(name, qtype)] = (dns.rcode.to_text(reply.rcode()), int(reply.flags),
                              [sorted(rrset.to_text() for rrset in section)
                               for section in (reply.answer, reply.authority, reply.additional)])
    return out


def serial(server):
    try:
        reply = query(server.port, PARENT, "SOA", timeout=1.0)
    except dns.exception.Timeout:
        return None
    return reply.answer[0][0].serial if reply.answer else None


def compare(primary, secondary, what):
    for dnssec in (False, True):
        theirs, ours = answers(primary, dnssec), answers(secondary, dnssec)
        differing = [key for key in theirs if theirs[key] != ours[key]]
        signed = sum(" RRSIG " in text for reply in ours.values() if reply != "no answer"
                     for section in reply[2] for text in section)
        nsec3 = sum(" NSEC3 " in text for reply in ours.values() if reply != "no answer"
                    for section in reply[2] for text in section)
        expect((signed > 0 and nsec3 > 0) == dnssec, f"{what}, DO={int(dnssec)}: signatures and "
               "NSEC3 proofs in the secondary's answers", "with DO only", (signed, nsec3))
        expect(not differing, f"{what}, DO={int(dnssec)}: the secondary answers as the primary",
               "no difference", {key: (theirs[key], ours[key]) for key in differing[:3]})


def test_signed_zone_transferred_and_served_signed():
    signed = variants.get("nsec3")
    text = (signed.folder / f"{PARENT}zone").read_text()
    secondary = Meridian(zones=[])
    primary = Meridian(zones=[("dnssec.test.zone", PARENT)], files={"zones/dnssec.test.zone": text},
                       # Keys of the [[zone]] the harness writes last.
                       extra_config=f'allow_transfer = [{{ address = "127.0.0.0/8" }}]\n'
                                    f'notify = [{{ address = "{LOOPBACK}:{secondary.port}" }}]\n')
    primary.start()
    try:
        secondary.extra_config = (f'[[zone]]\norigin = "{PARENT}"\n'
                                  f'primaries = ["{LOOPBACK}:{primary.port}"]\n'
                                  f'file = "cache/dnssec.test.zone"\n')
        secondary.start()
        try:
            first = serial(primary)
            wait_for_value("the first transfer", lambda: serial(secondary) == first, 20)
            compare(primary, secondary, "after the AXFR")

            # The primary's zone re-signed with one more name and a new serial: an IXFR.
            unsigned = (signed.folder / f"{PARENT}zone.unsigned").read_text()
            unsigned = unsigned.replace(" 2024010101 ", " 2024010102 ") + "new A 192.0.2.123\n"
            source = signed.folder / "next.unsigned"
            source.write_text(unsigned)
            keys = sorted(str(p)[:-4] for p in (signed.folder / "keys").glob(f"K{PARENT}*.key"))
            resigned = signed.folder / "next.signed"
            subprocess.run(["ldns-signzone", "-o", PARENT, "-f", str(resigned), "-n", "-t", "0",
                            str(source), *keys], check=True, capture_output=True, timeout=60)
            (primary.tmpdir / "zones" / "dnssec.test.zone").write_text(resigned.read_text())
            os.kill(primary.process.pid, signal.SIGHUP)
            wait_for_value("the primary's new serial", lambda: serial(primary) == 2024010102, 20)
            wait_for_value("the secondary's new serial", lambda: serial(secondary) == 2024010102,
                           20)
            log = secondary.log_text()
            expect("IXFR from" in log, "the change came by IXFR", "an IXFR line", log[-2000:])
            compare(primary, secondary, "after the IXFR")
        finally:
            secondary.stop()
    finally:
        primary.stop()


def setup():
    require_signing_tools()


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup))

"""Signed answers checked by real validators: Debian's Unbound on loopback, with the test zone's
trust anchor and a stub zone to the server under test, and delv asking the server directly.
Positive, NXDOMAIN, NODATA, wildcard, wildcard NODATA, CNAME, DNAME, empty non-terminal, DS and
DNSKEY answers validate (AD, "fully validated"), the signed child's answers too, while the
unsigned child's are proven insecure (no AD); for the NSEC, NSEC3 and NSEC3 opt-out zones, each
its own part. A zone with one tampered signature and a zone with expired signatures give
SERVFAIL (Unbound) and a failed validation (delv): the validators really validate.

MERIDIAN_DNSSEC_SERVER=knot serves the zones with Knot instead of Meridian (see
signed_servers.py). Needs unbound, delv (bind9-dnsutils) and ldnsutils; skipped otherwise."""

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    LOOPBACK, Unbound, describe, make_query, part, query, require_program, run_tests)
from signed_servers import (  # noqa: E402
    SignedVariants, require_server_under_test, require_signing_tools, serve)

import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

require_program("unbound")
DELV = require_program("delv")
require_signing_tools()
require_server_under_test()

ZONE = "dnssec.test."
SECURE, INSECURE, BOGUS = "secure", "insecure", "bogus"


@dataclass(frozen=True)
class Case:
    """A question, the rcode and the RRsets (owner, type) its answer section must hold, and
    what a validator must make of it: `security`, but see below for `opt_out_span`."""
    qname: str
    qtype: str
    rcode: str
    holds: tuple = ()
    security: str = SECURE
    opt_out_span: bool = False
    what: str = ""

    def expected(self, variant, validator):
        """The outcomes `validator` (unbound or delv) may give in `variant`."""
        if variant != "nsec3_optout" or not self.opt_out_span:
            return {self.security}
        return {INSECURE} if validator == "unbound" else {SECURE, INSECURE}


# RFC 5155 §9.2: a denial that rests on an NSEC3 covering the next closer name with the Opt-Out
# bit set cannot prove that no unsigned delegation is there. ldns-signzone -p, like most
# signers, sets the bit on every NSEC3 of the chain, so under opt-out every NXDOMAIN and every
# wildcard answer (which must prove no closer match) rests on one. Unbound calls these answers
# insecure (no AD); delv (BIND 9.18) calls some "fully validated" and others "unsigned answer",
# so for delv either will do there, as long as the answer is not bogus and has its rcode.
# Such cases say opt_out_span=True.

CASES = [
    Case(ZONE, "SOA", "NOERROR", ((ZONE, "SOA"),), what="apex SOA"),
    Case(ZONE, "NS", "NOERROR", ((ZONE, "NS"),), what="apex NS"),
    Case(ZONE, "MX", "NOERROR", ((ZONE, "MX"),), what="apex MX with in-zone targets"),
    Case(ZONE, "DNSKEY", "NOERROR", ((ZONE, "DNSKEY"),), what="DNSKEY"),
    Case("www." + ZONE, "A", "NOERROR", (("www." + ZONE, "A"),), what="positive A"),
    Case("www." + ZONE, "AAAA", "NOERROR", (("www." + ZONE, "AAAA"),), what="positive AAAA"),
    Case("txt." + ZONE, "TXT", "NOERROR", (("txt." + ZONE, "TXT"),), what="positive TXT"),
    Case("big." + ZONE, "TXT", "NOERROR", (("big." + ZONE, "TXT"),),
         what="40 TXT records (truncated over UDP, then TCP)"),
    Case("nx." + ZONE, "A", "NXDOMAIN", opt_out_span=True, what="NXDOMAIN"),
    Case("nx.www." + ZONE, "A", "NXDOMAIN", opt_out_span=True,
         what="NXDOMAIN below an existing name"),
    Case("www." + ZONE, "TXT", "NOERROR", what="NODATA"),
    Case("y.ent." + ZONE, "A", "NOERROR", what="NODATA at an empty non-terminal"),
    Case("ent." + ZONE, "TXT", "NOERROR", what="NODATA at a higher empty non-terminal"),
    Case("foo.wild." + ZONE, "A", "NOERROR", (("foo.wild." + ZONE, "A"),), opt_out_span=True,
         what="wildcard answer"),
    Case("a.b.wild." + ZONE, "TXT", "NOERROR", (("a.b.wild." + ZONE, "TXT"),),
         opt_out_span=True, what="wildcard answer two labels down"),
    Case("foo.wild." + ZONE, "AAAA", "NOERROR", opt_out_span=True, what="wildcard NODATA"),
    Case("exists.wild." + ZONE, "A", "NOERROR", (("exists.wild." + ZONE, "A"),),
         what="a real name beside the wildcard"),
    Case("exists.wild." + ZONE, "TXT", "NOERROR",
         what="NODATA at a real name beside the wildcard (no wildcard TXT)"),
    Case("x.sub.wild." + ZONE, "A", "NXDOMAIN", opt_out_span=True,
         what="NXDOMAIN below an empty non-terminal that blocks the wildcard"),
    Case("foo.wcname." + ZONE, "A", "NOERROR",
         (("foo.wcname." + ZONE, "CNAME"), ("www." + ZONE, "A")), opt_out_span=True,
         what="wildcard CNAME"),
    Case("alias." + ZONE, "A", "NOERROR",
         (("alias." + ZONE, "CNAME"), ("alias2." + ZONE, "CNAME"), ("www." + ZONE, "A")),
         what="CNAME chain to a name with data"),
    Case("dangling." + ZONE, "A", "NXDOMAIN",
         (("dangling." + ZONE, "CNAME"), ("dangling2." + ZONE, "CNAME")), opt_out_span=True,
         what="CNAME chain to a name that does not exist"),
    Case("host.dname." + ZONE, "A", "NOERROR",
         (("dname." + ZONE, "DNAME"), ("host.dname." + ZONE, "CNAME"),
          ("host.target." + ZONE, "A")), what="DNAME synthesis"),
    Case("nx.dname." + ZONE, "A", "NXDOMAIN",
         (("dname." + ZONE, "DNAME"), ("nx.dname." + ZONE, "CNAME")), opt_out_span=True,
         what="DNAME to a name that does not exist"),
    Case("dname." + ZONE, "DNAME", "NOERROR", (("dname." + ZONE, "DNAME"),),
         what="DNAME asked for"),
    Case("secure." + ZONE, "DS", "NOERROR", (("secure." + ZONE, "DS"),), what="DS"),
    Case("insecure." + ZONE, "DS", "NOERROR", opt_out_span=True,
         what="no DS at the insecure delegation (opt-out: not even an NSEC3 there)"),
    Case("secure." + ZONE, "DNSKEY", "NOERROR", (("secure." + ZONE, "DNSKEY"),),
         what="the signed child's DNSKEY"),
    Case("www.secure." + ZONE, "A", "NOERROR", (("www.secure." + ZONE, "A"),),
         what="an answer in the signed child"),
    Case("nx.secure." + ZONE, "A", "NXDOMAIN", what="NXDOMAIN in the signed child"),
    Case("www.insecure." + ZONE, "A", "NOERROR", (("www.insecure." + ZONE, "A"),),
         security=INSECURE, what="an answer below the insecure delegation"),
    Case("nx.insecure." + ZONE, "A", "NXDOMAIN", security=INSECURE,
         what="NXDOMAIN below the insecure delegation"),
]


# ---------------------------------------------------------------------------------------------
# The validators


class ValidatingUnbound(Unbound):
    """Unbound as a validating resolver with the zone's DS as its only trust anchor and the
    server under test as a stub for the zone; the root is a stub to a closed port, so nothing
    leaves the machine."""

    def __init__(self, anchor_fields, stub_port):
        self.anchor_fields = anchor_fields
        super().__init__(ZONE, stub_port)

    def config_text(self):
        owner, tag, algorithm, digest_type, digest = self.anchor_fields
        return self.common_server_lines() + f"""    module-config: "validator iterator"
    trust-anchor: "{owner} DS {tag} {algorithm} {digest_type} {digest}"
    # The reason for each bogus answer, in its log (shown when a check fails).
    val-log-level: 2
    # Each query proven on its own answers, not from NSEC records cached by earlier ones.
    aggressive-nsec: no
    qname-minimisation: no
    prefetch: no
    do-not-query-localhost: no
    # RFC 6761 would have Unbound answer for test. itself.
    local-zone: "test." nodefault

remote-control:
    control-enable: no

stub-zone:
    name: "."
    stub-addr: {LOOPBACK}@9

# The server under test serves both children too and answers for them itself; a referral
# instead would send Unbound to their glue (192.0.2.x), which answers nothing.
stub-zone:
    name: "{ZONE}"
    stub-addr: {self.stub_address}@{self.stub_port}
"""


def ask_unbound(unbound, case):
    """(rcode text, AD set, the answer's (owner, type) pairs, the response or None)."""
    message = make_query(case.qname, case.qtype, rd=True, dnssec=True)
    message.flags |= dns.flags.AD  # RFC 6840 §5.7: ask for the AD bit
    try:
        response = query(unbound.port, message, timeout=10.0)
    except dns.exception.Timeout:
        return "NO ANSWER", False, set(), None
    if response.flags & dns.flags.TC:
        response = query(unbound.port, message, transport="tcp", timeout=10.0)
    held = {(rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype))
            for rrset in response.answer}
    return (dns.rcode.to_text(response.rcode()), bool(response.flags & dns.flags.AD), held,
            response)


def unbound_failures(unbound, variant, cases):
    failures = []
    for case in cases:
        security = case.expected(variant, "unbound").pop()
        rcode, ad, held, response = ask_unbound(unbound, case)
        if security == BOGUS:
            ok = rcode == "SERVFAIL"
            expected = "SERVFAIL (bogus)"
        else:
            missing = [pair for pair in case.holds
                       if (pair[0].lower(), pair[1]) not in held]
            ok = rcode == case.rcode and ad == (security == SECURE) and not missing
            expected = (f"{case.rcode} {'with' if security == SECURE else 'without'} AD "
                        f"({security})" + (f", answer holding {list(case.holds)}"
                                           if case.holds else ""))
        if not ok:
            failures.append(f"{case.qname} {case.qtype} via Unbound ({case.what}, {variant})\n"
                            f"    expected: {expected}\n"
                            f"    got:      {describe(response)}")
    if failures:
        # val-log-level: 2 logs "validation failure <QUERY>: REASON" per query: each distinct
        # reason once, with the queries that gave it.
        reasons = {}
        for line in unbound.log_text().splitlines():
            found = re.search(r"validation failure <([^>]*)>: (.*)", line)
            if found:
                reasons.setdefault(found.group(2), []).append(found.group(1))
        if reasons:
            failures.append("Unbound's log says:\n    " + "\n    ".join(
                f"{reason} [{', '.join(where[:3])}{', ...' if len(where) > 3 else ''}]"
                for reason, where in list(reasons.items())[:12]))
    return failures


def delv(server, anchors_file, case):
    """(outcome, rcode) as delv sees it, and its output: outcome is secure, insecure or
    bogus; rcode NOERROR, NXDOMAIN (ncache nxdomain) or, for a failure, SERVFAIL."""
    argv = [DELV, f"@{LOOPBACK}", "-p", str(server.port), "-a", str(anchors_file),
            f"+root={ZONE}", case.qname, case.qtype]
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                   stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "no result in 30 s", "", " ".join(argv)
    text = completed.stdout + completed.stderr
    if "; fully validated" in text or "; negative response, fully validated" in text:
        outcome = SECURE
    elif "; unsigned answer" in text or "; negative response, unsigned answer" in text:
        outcome = INSECURE
    else:
        outcome = BOGUS
    if outcome == BOGUS:
        rcode = "SERVFAIL"
    else:
        # A negative answer, or the end of a CNAME chain, shows as `;-$NXDOMAIN`.
        rcode = "NXDOMAIN" if ";-$NXDOMAIN" in text else "NOERROR"
    return outcome, rcode, f"$ {' '.join(argv)}\n{text}"


def delv_failures(server, anchors_file, variant, cases):
    failures = []
    for case in cases:
        allowed = case.expected(variant, "delv")
        outcome, rcode, output = delv(server, anchors_file, case)
        if allowed == {BOGUS}:
            ok, expected = outcome == BOGUS, "a validation failure (resolution failed)"
        else:
            ok = outcome in allowed and rcode == case.rcode
            expected = f"{case.rcode}, {' or '.join(sorted(allowed))}"
        if not ok:
            shown = "\n      ".join(output.strip().splitlines()[:8])
            failures.append(f"{case.qname} {case.qtype} via delv ({case.what}, {variant})\n"
                            f"    expected: {expected}\n"
                            f"    got:      {outcome}, {rcode}:\n      {shown}")
    return failures


def unsigned_bogus_cases(server, variant, cases):
    """A SERVFAIL proves a tampered or expired signature bogus only if the server sent that
    signature: each case expected bogus must come from the server itself (over TCP, with DO)
    with RRSIGs, else it is a failure of its own."""
    failures = []
    for case in cases:
        if case.security != BOGUS:
            continue
        response = query(server.port, make_query(case.qname, case.qtype, dnssec=True),
                         transport="tcp", timeout=5.0)
        signed = [rrset for section in (response.answer, response.authority)
                  for rrset in section if rrset.rdtype == dns.rdatatype.RRSIG]
        if not signed:
            failures.append(f"{case.qname} {case.qtype} with DO straight from the server "
                            f"({case.what}, {variant})\n"
                            f"    expected: RRSIGs (the signatures the validator is to reject)\n"
                            f"    got:      {describe(response)}")
    return failures


def raise_any(failures, cases):
    if failures:
        count = sum(1 for f in failures if not f.startswith("Unbound's log"))
        raise AssertionError(f"{count} of {len(cases)} cases wrong:\n  " + "\n  ".join(failures))


# ---------------------------------------------------------------------------------------------
# One server under test and one Unbound per variant, started on first use


class Lab:
    def __init__(self):
        self.signed = SignedVariants()
        self.running = {}

    def get(self, variant):
        """(server, unbound, anchors file for delv) serving `variant`."""
        if variant not in self.running:
            signed = self.signed.get(variant)
            server = serve(signed)
            try:
                unbound = ValidatingUnbound(signed.anchor_fields(), server.port).start()
            except Exception:
                server.stop()
                raise
            owner, tag, algorithm, digest_type, digest = signed.anchor_fields()
            anchors = signed.folder / "delv-anchors.conf"
            anchors.write_text(f'trust-anchors {{\n    {owner} static-ds {tag} {algorithm} '
                               f'{digest_type} "{digest}";\n}};\n')
            self.running[variant] = (server, unbound, anchors)
        return self.running[variant]

    def stop(self):
        for variant, (server, unbound, _) in self.running.items():
            unbound.stop()
            print(f"{variant}: server under test exited with {server.stop()}")


def setup():
    return {"lab": Lab()}


def teardown(context):
    if context:
        context["lab"].stop()


def check_unbound(lab, variant, cases=CASES):
    server, unbound, _ = lab.get(variant)
    raise_any(unsigned_bogus_cases(server, variant, cases)
              + unbound_failures(unbound, variant, cases), cases)


def check_delv(lab, variant, cases=CASES):
    server, _, anchors = lab.get(variant)
    raise_any(unsigned_bogus_cases(server, variant, cases)
              + delv_failures(server, anchors, variant, cases), cases)


# ---------------------------------------------------------------------------------------------


@part("nsec")
def test_nsec_answers_validate_at_unbound(lab):
    check_unbound(lab, "nsec")


@part("nsec")
def test_nsec_answers_validate_with_delv(lab):
    check_delv(lab, "nsec")


@part("nsec3")
def test_nsec3_answers_validate_at_unbound(lab):
    check_unbound(lab, "nsec3")


@part("nsec3")
def test_nsec3_answers_validate_with_delv(lab):
    check_delv(lab, "nsec3")


@part("nsec3_optout")
def test_nsec3_optout_answers_validate_at_unbound(lab):
    check_unbound(lab, "nsec3_optout")


@part("nsec3_optout")
def test_nsec3_optout_answers_validate_with_delv(lab):
    check_delv(lab, "nsec3_optout")


# The tampered zone: only www A's signature is altered; a name beside it still validates, so
# the SERVFAIL is that signature's doing, not a zone that fails as a whole.
TAMPERED_CASES = [
    Case("www." + ZONE, "A", "NOERROR", security=BOGUS, what="the altered signature"),
    Case("txt." + ZONE, "TXT", "NOERROR", (("txt." + ZONE, "TXT"),),
         what="an untouched signature in the same zone"),
]
EXPIRED_CASES = [
    Case(ZONE, "SOA", "NOERROR", security=BOGUS, what="expired in 2020"),
    Case("www." + ZONE, "A", "NOERROR", security=BOGUS, what="expired in 2020"),
    Case("nx." + ZONE, "A", "NXDOMAIN", security=BOGUS, what="expired NSEC proof"),
]


@part("tampered")
def test_a_tampered_signature_gives_servfail_at_unbound(lab):
    check_unbound(lab, "tampered", TAMPERED_CASES)


@part("tampered")
def test_a_tampered_signature_fails_delv(lab):
    check_delv(lab, "tampered", TAMPERED_CASES)


@part("expired")
def test_expired_signatures_give_servfail_at_unbound(lab):
    check_unbound(lab, "expired", EXPIRED_CASES)


@part("expired")
def test_expired_signatures_fail_delv(lab):
    check_delv(lab, "expired", EXPIRED_CASES)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), setup, teardown))

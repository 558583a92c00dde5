"""The answer logic as seen by a client, over UDP and TCP: authority, exact matches, CNAME and
DNAME, wildcards and empty non-terminals, negative answers, referrals, additional records,
ANY, REFUSED outside our zones, and nested zones. Data: tests/zones/example.com.zone."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, one folder up
from meridian_harness import (  # noqa: E402
    part,
    Skipped, dns, describe, expect, kdig, make_query, query, rrset_of, run_tests,
    start_default_meridian, stop_server, tcp_raw, udp_raw)

import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402


def ask(server, transport, qname, qtype="A", **kwargs):
    return query(server.port, qname, qtype, transport=transport, **kwargs)


def rdatas(message, section, name, rdtype):
    rrset = rrset_of(message, section, name, rdtype)
    return None if rrset is None else sorted(rd.to_text() for rd in rrset)


def is_aa(message):
    return bool(message.flags & dns.flags.AA)


def expect_answer(server, transport, qname, qtype, expected, ttl=None):
    """NOERROR, AA, and exactly `expected` (rdata texts) at qname/qtype in the answer."""
    r = ask(server, transport, qname, qtype)
    what = f"{qname} {qtype} over {transport}"
    expect(r.rcode() == dns.rcode.NOERROR and is_aa(r), what, "NOERROR with AA", describe(r))
    got = rdatas(r, "answer", qname, qtype)
    expect(got == sorted(expected), what, f"answer {qtype} {sorted(expected)}", describe(r))
    if ttl is not None:
        got_ttl = rrset_of(r, "answer", qname, qtype).ttl
        expect(got_ttl == ttl, what, f"TTL {ttl}", f"TTL {got_ttl}")
    return r


def expect_negative(server, transport, qname, qtype, rcode, soa_owner, negative_ttl):
    """RFC 2308 §3 and §5: SOA of the zone in authority, TTL = min(SOA TTL, SOA MINIMUM)."""
    r = ask(server, transport, qname, qtype)
    what = f"{qname} {qtype} over {transport}"
    expect(r.rcode() == rcode and is_aa(r) and not r.answer, what,
           f"{dns.rcode.to_text(rcode)}, AA, empty answer", describe(r))
    soa = rrset_of(r, "authority", soa_owner, "SOA")
    expect(soa is not None, what, f"SOA {soa_owner} in authority", describe(r))
    expect(soa.ttl == negative_ttl, what, f"SOA TTL {negative_ttl} (RFC 2308 §5)",
           f"SOA TTL {soa.ttl}")
    return r


def expect_nodata(server, transport, qname, qtype, soa_owner="example.com.", negative_ttl=300):
    return expect_negative(server, transport, qname, qtype, dns.rcode.NOERROR, soa_owner,
                           negative_ttl)


def expect_nxdomain(server, transport, qname, soa_owner="example.com.", negative_ttl=300):
    return expect_negative(server, transport, qname, "A", dns.rcode.NXDOMAIN, soa_owner,
                           negative_ttl)


# ---------------------------------------------------------------------------------------------
# Exact matches


def test_authoritative_answer_has_aa_and_exact_rrset(server, transport):
    r = expect_answer(server, transport, "www.example.com.", "A", ["192.0.2.10"], ttl=3600)
    expect(len(r.answer) == 1, "www.example.com. A", "one RRset in the answer", describe(r))
    expect_answer(server, transport, "www.example.com.", "AAAA", ["2001:db8::10"])


def test_each_record_type_is_answered_exactly(server, transport):
    cases = [
        ("example.com.", "SOA", ["ns1.example.com. hostmaster.example.com. 2024010101 7200 "
                                 "3600 1209600 300"]),
        ("txt.example.com.", "TXT", ['"hello world"']),
        ("txt-multi.example.com.", "TXT", ['"first string" "second string" "third"']),
        ("txt-long.example.com.", "TXT",
         ['"' + ("meridian-long-txt-" * 20)[:255] + '" "tail"']),
        ("caa.example.com.", "CAA", ['0 iodef "mailto:security@example.com"',
                                     '0 issue "ca.example.net"']),
        ("ptr.example.com.", "PTR", ["www.example.com."]),
        ("naptr.example.com.", "NAPTR", ['100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" .']),
        ("unknown.example.com.", "TYPE65280", ["\\# 4 0a000001"]),
        ("_sip._udp.example.com.", "SRV", ["10 60 5060 sipserver.example.com."]),
        ("example.com.", "MX", ["10 mail.example.com.", "20 mx.example.net."]),
    ]
    for qname, qtype, expected in cases:
        expect_answer(server, transport, qname, qtype, expected)


def test_lookup_is_case_insensitive(server, transport):
    expect_answer(server, transport, "WWW.EXAMPLE.COM.", "A", ["192.0.2.10"])


def test_ttl_directives_and_explicit_ttls(server, transport):
    expect_answer(server, transport, "ttl60.example.com.", "A", ["192.0.2.160"], ttl=60)
    expect_answer(server, transport, "ttl-explicit.example.com.", "A", ["192.0.2.161"], ttl=7200)
    expect_answer(server, transport, "after-include.example.com.", "A", ["192.0.2.111"], ttl=3600)


def test_origin_and_include_directives(server, transport):
    expect_answer(server, transport, "host.deep.example.com.", "A", ["192.0.2.90"])
    expect_answer(server, transport, "deep.example.com.", "TXT", ['"deep apex"'])
    expect_answer(server, transport, "inc.example.com.", "TXT", ['"included apex"'])
    expect_answer(server, transport, "host1.inc.example.com.", "A", ["192.0.2.101"])
    expect_answer(server, transport, "host2.inc.example.com.", "AAAA", ["2001:db8::102"])
    # RFC 1035 §5.1: the origin reverts after $INCLUDE.
    expect_answer(server, transport, "after-include.example.com.", "A", ["192.0.2.111"])


# ---------------------------------------------------------------------------------------------
# CNAME and DNAME


def test_cname_chain_is_followed_in_order(server, transport):
    # RFC 1034 §4.3.2 step 3a: restart at the CNAME target while it is in the zone.
    r = ask(server, transport, "chain1.example.com.", "A")
    got = [(rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype),
            sorted(rd.to_text() for rd in rrset)) for rrset in r.answer]
    expected = [("chain1.example.com.", "CNAME", ["chain2.example.com."]),
                ("chain2.example.com.", "CNAME", ["chain3.example.com."]),
                ("chain3.example.com.", "CNAME", ["www.example.com."]),
                ("www.example.com.", "A", ["192.0.2.10"])]
    expect(r.rcode() == dns.rcode.NOERROR and is_aa(r) and got == expected,
           f"chain1.example.com. A over {transport}", expected, describe(r))


def test_cname_query_returns_the_cname_only(server, transport):
    r = expect_answer(server, transport, "chain1.example.com.", "CNAME", ["chain2.example.com."])
    expect(len(r.answer) == 1, "chain1.example.com. CNAME", "no chasing for qtype CNAME",
           describe(r))


def test_cname_loop_terminates(server, transport):
    message = make_query("loop1.example.com.", "A")
    wire = message.to_wire()
    reply = udp_raw(server.port, wire, 2.0) if transport == "udp" else tcp_raw(server.port, wire)
    expect(reply is not None, f"loop1.example.com. A over {transport}", "an answer", "no answer")
    r = dns.message.from_wire(reply, one_rr_per_rrset=True)
    records = [(rr.name.to_text().lower(), rr.rdtype, rr[0].to_text()) for rr in r.answer]
    expect(r.rcode() == dns.rcode.NOERROR and records[:1] == [
        ("loop1.example.com.", dns.rdatatype.CNAME, "loop2.example.com.")],
        "loop1.example.com. A", "NOERROR starting with loop1 CNAME loop2", describe(r))
    expect(len(records) == len(set(records)), "loop1.example.com. A",
           "each CNAME of the loop at most once", describe(r))


def test_cname_to_outside_target_is_not_followed(server, transport):
    r = ask(server, transport, "external.example.com.", "A")
    got = [(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)) for rrset in r.answer]
    expect(r.rcode() == dns.rcode.NOERROR and is_aa(r)
           and got == [("external.example.com.", "CNAME")],
           "external.example.com. A", "NOERROR, AA, only the CNAME to www.example.net.",
           describe(r))


def test_dname_synthesises_cname(server, transport):
    # RFC 6672 §2.2 and §3.1: the DNAME itself, then a CNAME synthesised for the qname with
    # the DNAME's TTL.
    r = ask(server, transport, "x.dname.example.com.", "A")
    what = f"x.dname.example.com. A over {transport}"
    dname = rdatas(r, "answer", "dname.example.com.", "DNAME")
    cname = rrset_of(r, "answer", "x.dname.example.com.", "CNAME")
    expect(r.rcode() == dns.rcode.NOERROR and is_aa(r) and dname == ["example.net."]
           and cname is not None and [rd.to_text() for rd in cname] == ["x.example.net."],
           what, "DNAME dname->example.net. and CNAME x.dname->x.example.net.", describe(r))
    expect(cname.ttl == 3600, what, "synthesised CNAME TTL = DNAME TTL 3600", cname.ttl)
    expect(r.answer[0].rdtype == dns.rdatatype.DNAME, what, "DNAME before the CNAME",
           describe(r))


def test_dname_into_the_zone_is_followed(server, transport):
    r = ask(server, transport, "host.dname-in.example.com.", "A")
    expect(rdatas(r, "answer", "dname-in.example.com.", "DNAME") == ["target.example.com."]
           and rdatas(r, "answer", "host.dname-in.example.com.", "CNAME")
           == ["host.target.example.com."]
           and rdatas(r, "answer", "host.target.example.com.", "A") == ["192.0.2.70"],
           f"host.dname-in.example.com. A over {transport}",
           "DNAME, synthesised CNAME and the target's A", describe(r))


def test_dname_with_qtype_cname_stops_at_synthesised_cname(server, transport):
    # RFC 6672 §2.2 + RFC 1034 §4.3.2 step 3a: the synthesised CNAME matches QTYPE CNAME, so
    # it is the answer; restarting at its target would add a NODATA/NXDOMAIN that belongs to
    # the target, not to the name asked about (Knot agrees).
    for qname, target in (("host.dname-in.example.com.", "host.target.example.com."),
                          ("nx.dname-in.example.com.", "nx.target.example.com.")):
        r = ask(server, transport, qname, "CNAME")
        expect(r.rcode() == dns.rcode.NOERROR and is_aa(r)
               and rdatas(r, "answer", "dname-in.example.com.", "DNAME") == ["target.example.com."]
               and rdatas(r, "answer", qname, "CNAME") == [target] and len(r.answer) == 2
               and not r.authority,
               f"{qname} CNAME over {transport}",
               f"NOERROR, AA, DNAME + CNAME -> {target}, empty authority", describe(r))


def test_dname_owner_itself_is_not_redirected(server, transport):
    # RFC 6672 §2.3: the DNAME applies below its owner, not to the owner.
    expect_answer(server, transport, "dname.example.com.", "DNAME", ["example.net."])
    expect_negative(server, transport, "dname.example.com.", "A", dns.rcode.NOERROR,
                    "example.com.", 300)


# ---------------------------------------------------------------------------------------------
# Wildcards and empty non-terminals (RFC 4592)


def test_wildcard_synthesis_uses_qname_as_owner(server, transport):
    expect_answer(server, transport, "foo.wild.example.com.", "A", ["192.0.2.80"])
    expect_answer(server, transport, "foo.wild.example.com.", "TXT", ['"wildcard"'])
    # RFC 4592 §3.3.1: the closest encloser is wild.example.com., so deeper names match too.
    expect_answer(server, transport, "x.y.wild.example.com.", "A", ["192.0.2.80"])


def test_wildcard_nodata_for_missing_type(server, transport):
    expect_negative(server, transport, "foo.wild.example.com.", "MX", dns.rcode.NOERROR,
                    "example.com.", 300)


def test_wildcard_cname_is_followed(server, transport):
    r = ask(server, transport, "x.wcname.example.com.", "A")
    expect(rdatas(r, "answer", "x.wcname.example.com.", "CNAME") == ["www.example.com."]
           and rdatas(r, "answer", "www.example.com.", "A") == ["192.0.2.10"],
           f"x.wcname.example.com. A over {transport}",
           "synthesised CNAME owned by the qname, then www A", describe(r))


def test_existing_name_beats_wildcard(server, transport):
    expect_answer(server, transport, "a.b.wild.example.com.", "A", ["192.0.2.81"])


def test_empty_non_terminal_gives_nodata(server, transport):
    # RFC 4592 §2.2.2: b.wild exists (a.b.wild is below it) but owns nothing: NODATA.
    expect_nodata(server, transport, "b.wild.example.com.", "A")
    expect_nodata(server, transport, "wild.example.com.", "A")


def test_empty_non_terminal_blocks_wildcard(server, transport):
    # RFC 4592 §2.2.2: the closest encloser of x.b.wild is b.wild, which has no wildcard.
    expect_nxdomain(server, transport, "x.b.wild.example.com.")


# ---------------------------------------------------------------------------------------------
# Negative answers


def test_nxdomain_has_soa_with_negative_ttl(server, transport):
    expect_nxdomain(server, transport, "nx.example.com.")
    expect_nxdomain(server, transport, "nx.www.example.com.")
    # The nested zone: SOA TTL 60 < MINIMUM 600, so 60.
    expect_nxdomain(server, transport, "nx.sub2.example.com.", "sub2.example.com.", 60)


def test_nodata_has_soa_with_negative_ttl(server, transport):
    expect_nodata(server, transport, "www.example.com.", "TXT")
    expect_nodata(server, transport, "www.sub2.example.com.", "MX", "sub2.example.com.", 60)


# ---------------------------------------------------------------------------------------------
# Delegations


def expect_referral(server, transport, qname, qtype, cut, ns, glue):
    """RFC 1034 §4.3.2 step 3b: AA clear, the cut's NS in authority, glue in additional."""
    r = ask(server, transport, qname, qtype)
    what = f"{qname} {qtype} over {transport}"
    expect(r.rcode() == dns.rcode.NOERROR and not is_aa(r) and not r.answer, what,
           "NOERROR, AA clear, empty answer (a referral)", describe(r))
    expect(rdatas(r, "authority", cut, "NS") == sorted(ns), what, f"NS {sorted(ns)} in authority",
           describe(r))
    for name, rdtype, values in glue:
        expect(rdatas(r, "additional", name, rdtype) == sorted(values), what,
               f"glue {name} {rdtype} {values}", describe(r))
    return r


SUB_NS = ["ns1.sub.example.com.", "ns2.sub.example.com."]
SUB_GLUE = [("ns1.sub.example.com.", "A", ["192.0.2.53"]),
            ("ns1.sub.example.com.", "AAAA", ["2001:db8:53::1"]),
            ("ns2.sub.example.com.", "A", ["192.0.2.54"])]


def test_referral_below_delegation(server, transport):
    expect_referral(server, transport, "www.sub.example.com.", "A", "sub.example.com.", SUB_NS,
                    SUB_GLUE)
    expect_referral(server, transport, "a.b.c.sub.example.com.", "MX", "sub.example.com.",
                    SUB_NS, SUB_GLUE)


def test_ns_query_at_cut_is_a_referral(server, transport):
    # The parent is not authoritative for the child's NS RRset (RFC 2181 §6.1).
    expect_referral(server, transport, "sub.example.com.", "NS", "sub.example.com.", SUB_NS,
                    SUB_GLUE)


def test_glue_is_not_answered_authoritatively(server, transport):
    # ns1.sub.example.com. lies below the cut: the answer is the referral, not the glue.
    expect_referral(server, transport, "ns1.sub.example.com.", "A", "sub.example.com.", SUB_NS,
                    SUB_GLUE)


def test_referral_to_out_of_zone_servers_has_no_glue(server, transport):
    r = expect_referral(server, transport, "www.ext.example.com.", "A", "ext.example.com.",
                        ["ns1.example.net.", "ns2.example.net."], [])
    expect(not r.additional, "www.ext.example.com. A", "no additional records", describe(r))


def test_ds_at_delegation_is_answered_by_parent(server, transport):
    # RFC 4035 §3.1.4.1: the parent side of the cut is authoritative for DS.
    expect_answer(server, transport, "sub.example.com.", "DS",
                  ["12345 13 2 2bb183af5f22588179a53b0a98631fad1a292118c1bfb4cb3ec2fd44e9e3b0c1"])


def test_ds_at_nested_zone_apex_comes_from_parent_zone(server, transport):
    # RFC 4035 §3.1.4.1: even when we also serve the child, DS comes from the parent zone.
    expect_answer(server, transport, "sub2.example.com.", "DS",
                  ["54321 13 2 7f3a0b9c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e"])


# ---------------------------------------------------------------------------------------------
# Additional section processing (RFC 1035 §3.3.9, §3.3.11; RFC 2782)


def test_additional_addresses_for_in_zone_targets(server, transport):
    cases = [
        ("example.com.", "MX", [("mail.example.com.", "A", ["192.0.2.25"]),
                                ("mail.example.com.", "AAAA", ["2001:db8::25"])]),
        ("_sip._udp.example.com.", "SRV", [("sipserver.example.com.", "A", ["192.0.2.60"]),
                                           ("sipserver.example.com.", "AAAA", ["2001:db8::60"])]),
        ("example.com.", "NS", [("ns1.example.com.", "A", ["192.0.2.1"]),
                                ("ns1.example.com.", "AAAA", ["2001:db8::1"]),
                                ("ns2.example.com.", "A", ["192.0.2.2"]),
                                ("ns2.example.com.", "AAAA", ["2001:db8::2"])]),
    ]
    for qname, qtype, additional in cases:
        r = ask(server, transport, qname, qtype)
        for name, rdtype, values in additional:
            expect(rdatas(r, "additional", name, rdtype) == values,
                   f"{qname} {qtype} over {transport}", f"additional {name} {rdtype} {values}",
                   describe(r))


# ---------------------------------------------------------------------------------------------
# ANY, names outside our zones, the question, nested zones


def test_any_is_answered_minimally(server, transport):
    r = ask(server, transport, "example.com.", "ANY")
    what = f"example.com. ANY over {transport}"
    expect(r.rcode() == dns.rcode.NOERROR and is_aa(r) and r.answer, what,
           "NOERROR, AA, a non-empty answer", describe(r))
    if transport == "udp":
        # RFC 8482 §4: one RRset (or a synthesised HINFO), not every RRset of the apex.
        kinds = {(rrset.name, rrset.rdtype) for rrset in r.answer}
        expect(len(kinds) == 1, what, "exactly one RRset (RFC 8482)", describe(r))
    r = ask(server, transport, "nx.example.com.", "ANY")
    expect(r.rcode() == dns.rcode.NXDOMAIN, f"nx.example.com. ANY over {transport}", "NXDOMAIN",
           describe(r))


def test_name_outside_every_zone_is_refused(server, transport):
    for qname in ("www.example.org.", "com.", "."):
        r = ask(server, transport, qname, "A")
        expect(r.rcode() == dns.rcode.REFUSED and not is_aa(r) and not r.answer,
               f"{qname} A over {transport}", "REFUSED without AA or answer", describe(r))


def test_question_is_echoed_with_original_case(server, transport):
    message = make_query("WwW.ExAmPlE.CoM.", "A")
    wire = message.to_wire()
    reply = udp_raw(server.port, wire, 2.0) if transport == "udp" else tcp_raw(server.port, wire)
    expect(reply is not None, f"WwW.ExAmPlE.CoM. A over {transport}", "an answer", "no answer")
    question = wire[12:12 + len(dns.name.from_text("WwW.ExAmPlE.CoM.").to_wire()) + 4]
    expect(reply[12:12 + len(question)] == question, f"WwW.ExAmPlE.CoM. A over {transport}",
           f"question echoed octet for octet {question!r}", reply[12:12 + len(question)])
    r = dns.message.from_wire(reply)
    expect(rdatas(r, "answer", "www.example.com.", "A") == ["192.0.2.10"],
           "WwW.ExAmPlE.CoM. A", "A 192.0.2.10", describe(r))


def test_nested_zone_answers_from_most_specific_zone(server, transport):
    expect_answer(server, transport, "www.sub2.example.com.", "A", ["192.0.2.200"])
    expect_answer(server, transport, "www.sub2.example.com.", "TXT", ['"from the nested zone"'])
    expect_answer(server, transport, "sub2.example.com.", "NS", ["ns.sub2.example.com."])
    expect_answer(server, transport, "sub2.example.com.", "SOA",
                  ["ns.sub2.example.com. hostmaster.sub2.example.com. 2024020201 7200 3600 "
                   "1209600 600"], ttl=60)


@part("kdig")
def test_kdig_sees_an_authoritative_answer(server, transport):
    result = kdig(server.port, "www.example.com", "A", transport=transport)
    if result is None:
        raise Skipped("kdig is not installed (apt install knot-dnsutils)")
    expect(result.rcode == "NOERROR" and "aa" in result.flags
           and ("www.example.com.", 3600, "IN", "A", "192.0.2.10") in result.records("answer"),
           f"kdig www.example.com A over {transport}", "NOERROR, aa, www A 192.0.2.10",
           result.text)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), start_default_meridian, stop_server))

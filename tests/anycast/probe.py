"""The anycast lab's client, run inside the client's network namespace (`ip netns exec`):

  probe.py ask SERVER NAME TYPE [CLASS]
      one query with NSID; prints {"rcode", "nsid", "answers"} as JSON, or {"error"}.
  probe.py stream SERVER --rate R --duration S --timeout T
      SOA queries with NSID at R per second for S seconds (bounded: R*S queries), each given
      T seconds to be answered; prints one JSON object: for every query its send time
      (CLOCK_MONOTONIC, shared by every process on the host, so the lab can compare it with
      the moment it drained a PoP) and the NSID that answered it, or null when none did.
"""

import json
import select
import socket
import sys
import time

import dns.edns
import dns.flags
import dns.message
import dns.rcode

PORT = 53


def nsid_of(message):
    for option in message.options:
        if option.otype == dns.edns.NSID:
            # dnspython 2.3 (Debian 12) parses it as a GenericOption, later ones as NSIDOption.
            data = getattr(option, "nsid", None) or getattr(option, "data", b"")
            return data.decode(errors="replace")
    return None


def make_query(name, rdtype, rdclass="IN"):
    query = dns.message.make_query(name, rdtype, rdclass, use_edns=0,
                                   options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
    query.flags &= ~dns.flags.RD
    return query


def ask(server, name, rdtype, rdclass="IN"):
    import dns.query
    try:
        reply = dns.query.udp(make_query(name, rdtype, rdclass), server, port=PORT, timeout=1.0)
    except Exception as error:  # noqa: BLE001 -- the lab shows whatever went wrong
        return {"error": f"{type(error).__name__}: {error}"}
    answers = [item.to_text() for rrset in reply.answer for item in rrset]
    return {"rcode": dns.rcode.to_text(reply.rcode()), "nsid": nsid_of(reply),
            "answers": answers}


def stream(server, rate, duration, timeout):
    count = max(1, int(rate * duration))
    interval = 1.0 / rate
    sent = []       # per query: monotonic send time
    answered = {}   # query index -> NSID of the answer (or "" when it carried none)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        start = time.monotonic()
        stop_at = start + count * interval + timeout

        def receive(until):
            while True:
                left = until - time.monotonic()
                if left <= 0:
                    return
                readable, _, _ = select.select([sock], [], [], left)
                if not readable:
                    return
                try:
                    data = sock.recv(65535)
                except OSError:  # ICMP port unreachable and the like: no answer
                    continue
                try:
                    reply = dns.message.from_wire(data)
                except Exception:  # noqa: BLE001 -- a garbled reply is no answer
                    continue
                index = reply.id
                # IDs are the query index (count stays below 65536); a reply after its
                # query's deadline does not count as answered.
                if index < len(sent) and index not in answered \
                        and time.monotonic() - sent[index] <= timeout:
                    answered[index] = nsid_of(reply) or ""

        for index in range(count):
            due = start + index * interval
            receive(due)
            query = make_query("example.com.", "SOA")
            query.id = index
            sent.append(time.monotonic())
            try:
                sock.sendto(query.to_wire(), (server, PORT))
            except OSError:  # no route at this instant: unanswered, as a real client sees it
                pass
        receive(stop_at)
    return {"queries": [[sent[i], answered.get(i)] for i in range(count)]}


def main(argv):
    if argv[:1] == ["ask"] and len(argv) in (4, 5):
        print(json.dumps(ask(*argv[1:])))
        return 0
    if argv[:1] == ["stream"] and len(argv) == 8:
        options = dict(zip(argv[2::2], argv[3::2]))
        rate, duration = float(options["--rate"]), float(options["--duration"])
        if rate * duration >= 65536:
            print("stream: at most 65535 queries", file=sys.stderr)
            return 2
        print(json.dumps(stream(argv[1], rate, duration, float(options["--timeout"]))))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

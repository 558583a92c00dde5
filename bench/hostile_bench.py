#!/usr/bin/env python3
# The hostile-packet scenario: what a flood of UDP AXFR queries and of queries signed with a
# wrong TSIG secret costs Meridian, per answer, against plain queries (issue 13 defect 1: at
# most 2x). Run through bench/run.sh --scenarios hostile, or directly.
"""Server CPU per answer for plain queries, UDP AXFR refusals, bad-TSIG queries (BADSIG) and
correctly signed queries, measured with dnsperf at a fixed rate, kinds interleaved over
--rounds rounds; prints each kind's median and its ratio to plain queries (the median of the
per-round ratios). Meridian runs with one worker on a loopback port and is stopped by its
PID; everything else lives in a temporary folder removed at the end."""

import argparse
import base64
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
ORIGIN = "bench.test."
KEY = "transfer-key"
SECRET = base64.b64encode(bytes(range(32))).decode()
WRONG_SECRET = base64.b64encode(b"not the secret the server knows!").decode()  # dnsperf 2.10
# refuses secrets whose base64 has no padding
KINDS = ("plain", "axfr", "bad-tsig", "good-tsig")


def log(message):
    print(f"hostile: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return udp.getsockname()[1]


def server_cpu_ticks(pid):
    """utime + stime of every thread of PID (/proc/PID/stat counts them all)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def build_meridian():
    build = REPO / "build-bench"
    log(f"building Meridian (Release) in {build}")
    subprocess.run(["cmake", "-S", str(REPO), "-B", str(build), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release", "-DMERIDIAN_WERROR=OFF",
                    "-DMERIDIAN_TESTS=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(build), "--target", "meridian"], check=True,
                   stdout=subprocess.DEVNULL)
    return build / "meridian"


def start_meridian(binary, work, port):
    zone = (f"$ORIGIN {ORIGIN}\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
            "@ NS ns1\nns1 A 192.0.2.1\n" +
            "".join(f"h{i} A 192.0.2.{i % 250 + 1}\n" for i in range(100)))
    (work / "bench.test.zone").write_text(zone)
    (work / "meridian.toml").write_text(f"""[server]
listen = ["127.0.0.1:{port}"]
workers = 1

[[tsig]]
name = "{KEY}"
algorithm = "hmac-sha256"
secret = "{SECRET}"

[[zone]]
file = "bench.test.zone"
origin = "{ORIGIN}"
allow_transfer = [{{ address = "10.0.0.0/8", key = "{KEY}" }}]
""")
    log_file = open(work / "meridian.log", "wb")
    process = subprocess.Popen([str(binary), "serve", "--config", str(work / "meridian.toml")],
                               stdout=log_file, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    query = bytes.fromhex("abcd00000001000000000000") + b"\x02h1\x05bench\x04test\x00\x00\x01\x00\x01"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"meridian exited:\n{(work / 'meridian.log').read_text()}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(0.2)
            udp.sendto(query, ("127.0.0.1", port))
            try:
                udp.recv(512)
                return process
            except socket.timeout:
                continue
    process.kill()
    raise SystemExit("meridian did not answer within 10 s")


def dnsperf(args, port, kind, work):
    """(answers, server CPU seconds) of one dnsperf run of `kind`."""
    data = work / f"{kind}.txt"
    if kind == "axfr":
        data.write_text(f"{ORIGIN} AXFR\n")
    else:
        data.write_text("".join(f"h{i}.{ORIGIN} A\n" for i in range(100)))
    command = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(data),
               "-l", str(args.seconds), "-Q", str(args.rate), "-c", "4", "-t", "2"]
    if kind == "bad-tsig":
        command += ["-y", f"hmac-sha256:{KEY}:{WRONG_SECRET}"]
    elif kind == "good-tsig":
        command += ["-y", f"hmac-sha256:{KEY}:{SECRET}"]
    before = server_cpu_ticks(args.pid)
    completed = subprocess.run(command, capture_output=True, text=True,
                               timeout=args.seconds + 30)
    after = server_cpu_ticks(args.pid)
    match = re.search(r"Queries completed:\s+(\d+)", completed.stdout)
    if completed.returncode != 0 or not match:
        raise SystemExit(f"dnsperf failed ({kind}):\n{completed.stdout}{completed.stderr}")
    codes = re.search(r"Response codes:\s+(.*)", completed.stdout)
    return int(match.group(1)), (after - before) / CLK_TCK, codes.group(1) if codes else "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meridian", help="the binary (default: build it in build-bench/)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="per dnsperf run")
    parser.add_argument("--rate", type=int, default=20000, help="queries per second offered")
    parser.add_argument("--keep-workdir", action="store_true")
    args = parser.parse_args()
    if not shutil.which("dnsperf"):
        raise SystemExit("dnsperf is missing (apt-get install dnsperf, or bench/run.sh)")
    binary = Path(args.meridian) if args.meridian else build_meridian()
    work = Path(tempfile.mkdtemp(prefix="meridian-hostile-"))
    port = free_port()
    process = start_meridian(binary, work, port)
    args.pid = process.pid
    results = {kind: [] for kind in KINDS}
    try:
        for kind in KINDS:  # warm-up, not measured
            dnsperf(argparse.Namespace(**{**vars(args), "seconds": 1}), port, kind, work)
        for round_number in range(args.rounds):
            for kind in KINDS:
                answers, cpu, codes = dnsperf(args, port, kind, work)
                per_answer = cpu / answers * 1e6 if answers else float("nan")
                results[kind].append(per_answer)
                log(f"round {round_number + 1} {kind}: {answers} answers, {cpu:.2f} s CPU, "
                    f"{per_answer:.2f} us/answer ({codes})")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        lines = (work / "meridian.log").read_text(errors="replace").count("\n")
        if args.keep_workdir:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nServer CPU per answer, {args.rounds} rounds x {args.seconds} s at {args.rate} q/s, "
          f"kinds interleaved (Meridian, 1 worker; its log had {lines} lines):")
    print(f"{'kind':<10} {'median us':>10} {'min-max':>14} {'x plain':>8}")
    for kind in KINDS:
        values = results[kind]
        ratios = [value / plain for value, plain in zip(values, results["plain"])]
        print(f"{kind:<10} {statistics.median(values):>10.2f} "
              f"{min(values):>6.2f}-{max(values):<7.2f} {statistics.median(ratios):>8.2f}")


if __name__ == "__main__":
    main()

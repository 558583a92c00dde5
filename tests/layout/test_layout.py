#!/usr/bin/env python3
"""The layout's dependency rules, checked against the real build.

Each folder is a library whose include path is a view of only what it may use (see the top
CMakeLists.txt). This test compiles a one-line probe with the exact compiler command of a
file in each library: an include that points the wrong way must fail as "file not found",
and an allowed one must compile, so the check cannot pass by breaking every include. It
also reads the sources for the rules a view cannot express (system socket headers below
the front end; TSIG and ldns in the front end).
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

SOURCE = os.environ["MERIDIAN_SOURCE_DIR"]
BUILD = os.environ["MERIDIAN_BUILD_DIR"]

# (a source file of the library, an include it may use, includes it must not reach)
PROBES = [
    ("wire/name.cpp", "wire/constants.hpp", ["geoip/network.hpp", "zones/zone.hpp"]),
    ("geoip/network.cpp", "wire/name.hpp", ["zones/zone.hpp", "server/worker.hpp"]),
    ("zones/zone.cpp", "geoip/network.hpp",
     ["server/worker.hpp", "server/system/log.hpp", "server/transfer/tsig.hpp"]),
    ("server/transfer/tsig.cpp", "zones/zone.hpp",
     ["server/worker.hpp", "server/config/config.hpp"]),
    ("server/worker.cpp", "server/transfer/exchange.hpp",
     ["server/config/config.hpp", "server/reload/reload.hpp", "server/control/control.hpp"]),
    ("server/config/config.cpp", "server/transfer/tsig.hpp",
     ["server/worker.hpp", "server/secondary/secondary_zones.hpp", "server/reload/reload.hpp"]),
    ("server/secondary/zone_fetch.cpp", "server/config/config.hpp",
     ["server/reload/reload.hpp", "server/control/control.hpp"]),
    ("server/reload/reload.cpp", "server/secondary/secondary_store.hpp",
     ["server/control/control.hpp", "server/cli/serve.hpp"]),
    ("server/control/control.cpp", "server/reload/reload.hpp", ["server/cli/serve.hpp"]),
]

SOCKET_HEADERS = re.compile(r'#include\s*<(sys/socket\.h|netinet/[^>]+|arpa/inet\.h)>')
FRONT_END_FORBIDDEN = re.compile(
    r'#include\s*[<"](server/config/|server/transfer/tsig|zones/ldns|ldns/)')

failures = []
passed = 0


def check(condition, message):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(message)


def compile_command(source):
    with open(os.path.join(BUILD, "compile_commands.json")) as f:
        for entry in json.load(f):
            if os.path.realpath(entry["file"]) == os.path.realpath(os.path.join(SOURCE, source)):
                return entry
    return None


def compiles(entry, include):
    arguments = entry.get("arguments") or shlex.split(entry["command"])
    with tempfile.NamedTemporaryFile("w", suffix=".cpp", dir=tempfile.gettempdir(),
                                     delete=False) as probe:
        probe.write(f'#include "{include}"\n')
    try:
        command = [arguments[0]]
        skip = False
        for argument in arguments[1:]:
            if skip:
                skip = False
                continue
            if argument in ("-o", "-c", "-MF", "-MT"):
                skip = True
                continue
            if argument.endswith(".cpp") or argument in ("-MD",):
                continue
            command.append(argument)
        command += ["-fsyntax-only", probe.name]
        result = subprocess.run(command, cwd=entry["directory"], capture_output=True, text=True)
        return result.returncode == 0, result.stderr
    finally:
        os.unlink(probe.name)


for source, allowed, forbidden in PROBES:
    entry = compile_command(source)
    check(entry is not None, f"{source}: not in compile_commands.json")
    if entry is None:
        continue
    ok, errors = compiles(entry, allowed)
    check(ok, f"{source}: the allowed include {allowed} does not compile:\n{errors}")
    for include in forbidden:
        ok, errors = compiles(entry, include)
        check(not ok and "No such file" in errors,
              f"{source}: the wrong-way include {include} compiled (or failed otherwise):\n{errors}")

for folder in ("wire", "geoip", "zones"):
    for name in sorted(os.listdir(os.path.join(SOURCE, folder))):
        text = open(os.path.join(SOURCE, folder, name)).read()
        found = SOCKET_HEADERS.findall(text)
        check(not found, f"{folder}/{name} includes socket headers: {found}")

for name in sorted(os.listdir(os.path.join(SOURCE, "server"))):
    path = os.path.join(SOURCE, "server", name)
    if not os.path.isfile(path) or not name.endswith((".cpp", ".hpp")):
        continue
    found = FRONT_END_FORBIDDEN.findall(open(path).read())
    check(not found, f"server/{name} (front end) includes {found}")

front_end_files = [n for n in os.listdir(os.path.join(SOURCE, "server"))
                   if n.endswith((".cpp", ".hpp"))]
check(len(front_end_files) <= 24,
      f"server/ holds {len(front_end_files)} source files; the front end should need at most 24")

for failure in failures:
    print("FAIL:", failure)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)

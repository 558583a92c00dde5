"""The DNSSEC tests' common setup: the test zones of tests/fixtures/dnssec/ signed (by its
sign_zone.py) into a temp folder, and the server under test serving them.

MERIDIAN_DNSSEC_SERVER=knot serves them with Knot DNS instead of Meridian: that is how the tests
themselves are shown right (they must pass against Knot, which serves signed zones correctly);
unset or `meridian`, the server under test is Meridian (MERIDIAN_BINARY)."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

from meridian_harness import SOURCE_DIR, Knot, Meridian, meridian_binary, require_program, skip

sys.path.insert(0, str(SOURCE_DIR / "tests" / "fixtures" / "dnssec"))
import sign_zone  # noqa: E402

SERVER_KIND = os.environ.get("MERIDIAN_DNSSEC_SERVER") or "meridian"
if SERVER_KIND not in ("meridian", "knot"):
    print(f"FAIL: MERIDIAN_DNSSEC_SERVER={SERVER_KIND!r}: say meridian or knot", flush=True)
    sys.exit(1)


def require_signing_tools():
    missing = sign_zone.missing_tools()
    if missing:
        skip(f"{', '.join(missing)} not installed (Debian package ldnsutils): the DNSSEC tests "
             "sign their zones with them")


def require_server_under_test():
    """knotd when Knot stands in for Meridian, else the binary (MERIDIAN_BINARY)."""
    if SERVER_KIND == "knot":
        require_program("knotd")
    else:
        meridian_binary()
    print(f"server under test: {SERVER_KIND}"
          f"{' (MERIDIAN_DNSSEC_SERVER=knot)' if SERVER_KIND == 'knot' else ''}", flush=True)


class SignedVariants:
    """Each variant signed once, on first use, into one temp folder removed at exit (kept with
    MERIDIAN_KEEP_TMP=1)."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="meridian-dnssec-"))
        self.signed = {}
        atexit.register(self.remove)

    def get(self, variant):
        if variant not in self.signed:
            self.signed[variant] = sign_zone.sign(self.folder, variant)
        return self.signed[variant]

    def remove(self):
        if not os.environ.get("MERIDIAN_KEEP_TMP"):
            shutil.rmtree(self.folder, ignore_errors=True)


def serve(signed, kind=None, udp_payload=1232):
    """A started server of `kind` (default: the server under test) serving every zone of a
    sign_zone.SignedZones, answering UDP up to `udp_payload` octets."""
    kind = kind or SERVER_KIND
    files = {f"zones/{file}": text for file, text in signed.zone_texts().items()}
    if kind == "knot":
        return Knot(zones=signed.zones, files=files,
                    server_lines=[f"udp-max-payload: {udp_payload}"]).start()
    return Meridian(zones=signed.zones, files=files, server={"udp_payload": udp_payload}).start()

#!/usr/bin/env bash
# Entry point of the dnsperf benchmark: installs what the bench needs when it is missing
# (Debian/Ubuntu, as root), then hands over to bench/dnsperf_bench.py. Options: --help.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# bench/run.sh --hostile [options]: CPU per answer of UDP AXFR refusals and bad-TSIG queries
# against plain ones (bench/hostile_bench.py --help); needs only dnsperf and a build.
if [ "${1:-}" = "--hostile" ]; then
    shift
    if ! command -v dnsperf >/dev/null 2>&1; then
        [ "$(id -u)" -eq 0 ] || { echo "bench: need root to apt-get install dnsperf" >&2; exit 2; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dnsperf
    fi
    exec /usr/bin/python3 "$here/hostile_bench.py" "$@"
fi

# Command -> Debian package. gdnsd is needed by the geo scenario or when asked for.
need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have dnsperf || need+=(dnsperf)
have knotd || need+=(knot)
have kdig || need+=(knot-dnsutils)
have nsd || need+=(nsd)
have cmake || need+=(cmake)
have ninja || need+=(ninja-build)
have cc || need+=(gcc)  # builds Meridian and the floor responder
[ -x /usr/bin/python3 ] || need+=(python3)
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import dns.message' 2>/dev/null; then
    need+=(python3-dnspython)
fi
# The geo scenario (on unless --scenarios leaves it out) needs gdnsd and Perl's MaxMind DB
# reader and writer, which convert the database for it (bench/geo_database.pl).
scenarios="all"
prev=""
for arg in "$@"; do
    case "$arg" in
        --scenarios=*) scenarios="${arg#--scenarios=}" ;;
    esac
    [ "$prev" = "--scenarios" ] && scenarios="$arg"
    prev="$arg"
done
[ "$scenarios" = all ] && scenarios="static,geo,load,tcp,idle,workers,dnssec"
wants_gdnsd=no
[[ " $* " == *gdnsd* ]] && wants_gdnsd=yes
if [[ ",$scenarios," == *,geo,* ]]; then
    wants_gdnsd=yes
    perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null || need+=(libmaxmind-db-writer-perl)
    perl -MMaxMind::DB::Reader -e 1 2>/dev/null || need+=(libmaxmind-db-reader-perl)
    # The XS reader walks the database about 20x faster than the pure-Perl one.
    perl -MMaxMind::DB::Reader::XS -e 1 2>/dev/null || need+=(libmaxmind-db-reader-xs-perl)
fi
# The tcp, idle and workers scenarios include gdnsd by default (--tcp-servers, --workers-servers).
if [[ ",$scenarios," =~ ,(tcp|idle|workers), ]]; then wants_gdnsd=yes; fi
if [ "$wants_gdnsd" = yes ] && ! have gdnsd; then need+=(gdnsd); fi
# The dnssec and load-signed scenarios sign the zone with ldns-keygen and ldns-signzone, and
# verify sample answers' RRSIGs with dnspython, which needs python3-cryptography for that.
if [[ ",$scenarios," =~ ,(dnssec|load-signed), ]]; then
    have ldns-signzone || need+=(ldnsutils)
    if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import cryptography' 2>/dev/null; then
        need+=(python3-cryptography)
    fi
fi

if [ ${#need[@]} -gt 0 ]; then
    echo "bench: installing ${need[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench: need root to apt-get install ${need[*]}" >&2
        exit 2
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The Debian packages start their daemons on port 53; the bench uses its own instances.
    apt-get install -y -qq --no-install-recommends "${need[@]}"
    for unit in knot nsd gdnsd; do
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
fi

# Debian's python3-dnspython is installed for /usr/bin/python3, not for a pyenv/venv python.
exec /usr/bin/python3 "$here/dnsperf_bench.py" "$@"

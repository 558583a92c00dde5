#!/usr/bin/env bash
# Meridian's two set-up commands for a Debian 12 machine:
#   ./dev.sh run    install what is missing, build, and serve the example config on 127.0.0.1:5300
#   ./dev.sh test   install what is missing, build, and run every test
# Other verbs: build (install + build only), deps (install only).
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}
# The build also writes the GeoIP tests' databases with MaxMind's writer (Perl).
BUILD_PACKAGES=(build-essential cmake ninja-build pkg-config libldns-dev libuv1-dev
    libmaxminddb-dev libtomlplusplus-dev libmicrohttpd-dev doctest-dev libssl-dev
    libmaxmind-db-writer-perl)
# Real clients and peers the tests drive: kdig/dig, Knot for the answer comparison,
# dnspython for raw packets, mmdblookup as the independent reader of the GeoIP databases,
# Unbound as an ECS resolver in front of Meridian; BIRD 2 for the anycast lab and the deploy
# files, with systemd-analyze (systemd), promtool (prometheus) and exabgp checking the other
# deploy files. ldnsutils (ldns-keygen, ldns-signzone) signs the DNSSEC tests' zones; Unbound
# and delv (bind9-dnsutils) validate what Meridian serves from them.
TEST_PACKAGES=(knot-dnsutils dnsutils bind9-dnsutils knot python3 python3-dnspython mmdb-bin
    unbound iproute2 procps curl bird2 systemd prometheus exabgp ldnsutils)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "dev.sh: installing ${missing[*]}"
    # Peers such as knot would start as system services on port 53 when installed; the
    # tests start their own copies, so keep the packaged services from starting.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod +x "$policy"
        added_policy=1
    fi
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    [ "$added_policy" -eq 1 ] && as_root rm -f "$policy"
    return 0
}

build() {
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMERIDIAN_WERROR=ON >/dev/null
    cmake --build "$BUILD_DIR" -j "$(nproc)"
}

case "${1:-}" in
    deps)
        install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
        ;;
    build)
        install_packages "${BUILD_PACKAGES[@]}"
        build
        ;;
    run)
        install_packages "${BUILD_PACKAGES[@]}" dnsutils
        build
        echo
        echo "Meridian is starting on 127.0.0.1:5300 and [::1]:5300 with deploy/example/meridian.toml."
        echo "Try, from another terminal:"
        echo "  dig @127.0.0.1 -p 5300 www.example.com A"
        echo "  dig @127.0.0.1 -p 5300 +nsid example.com SOA"
        echo "  dig @127.0.0.1 -p 5300 CH TXT id.server"
        echo "  curl http://127.0.0.1:8053/health; curl http://127.0.0.1:8053/metrics"
        echo "  $BUILD_DIR/meridian ctl --config deploy/example/meridian.toml status"
        echo "Stop it with Ctrl-C."
        echo
        exec "$BUILD_DIR/meridian" serve --config deploy/example/meridian.toml
        ;;
    test)
        install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
        build
        cd "$BUILD_DIR"
        ctest --output-on-failure -j "$(nproc)" --timeout 600
        ;;
    *)
        sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac

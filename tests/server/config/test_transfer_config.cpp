// The config keys that set up transfers out and TSIG: [[tsig]] tables, allow_transfer, notify
// and ixfr_history, with errors at their lines. (Moved from tests/server/transfer/, whose
// binary links only the transfer library.)
#include <doctest/doctest.h>

#include <string>

#include "geoip/network.hpp"
#include "server/config/config.hpp"
#include "server/transfer/tsig.hpp"
#include "support/config_loading.hpp"
#include "support/small_zone.hpp"

using namespace meridian;
using namespace meridian::server;
using namespace meridian::testing;

namespace {

// example.com. in its zone file and a config serving it, with `zone_keys` in its [[zone]]
// table from line 6.
std::filesystem::path write_zone_config(TempFolder& folder, const std::string& zone_keys) {
    folder.write("example.com.zone", zone_with_hosts(1));
    return folder.write(
        "meridian.toml",
        std::string(kListenOnly) + "\n[[zone]]\nfile = \"example.com.zone\"\n" + zone_keys);
}

}  // namespace

TEST_CASE("transfer_keys_of_a_zone_are_checked_with_errors_at_their_lines") {
    TempFolder folder;
    const auto path = write_zone_config(
        folder, R"(allow_transfer = [{ address = "10.1.0.0/8" }, { adress = "10.0.0.0/8" },
                  { address = "10.0.0.0/8", key = "missing-key" }]
notify = [{ address = "192.0.2.7:99999" }, { address = "192.0.2.8", colour = "red" }]
ixfr_history = -1
)");
    Diagnostics diagnostics;
    CHECK(!load_config(path, diagnostics));
    check_errors_at(diagnostics, {{6, "10.1.0.0/8"},
                                  {6, "adress"},
                                  {7, "unknown TSIG key 'missing-key.'"},
                                  {8, "bad notify address '192.0.2.7:99999'"},
                                  {8, "colour"},
                                  {9, "ixfr_history"}});
}

TEST_CASE("notify_entries_take_a_port_or_default_to_53") {
    TempFolder folder;
    const auto path = write_zone_config(
        folder,
        R"(notify = [{ address = "192.0.2.7:5301" }, { address = "192.0.2.8" }, { address = "2001:db8::9" }]
)");
    Diagnostics diagnostics;
    const auto config = load_config(path, diagnostics);
    REQUIRE(config);
    const auto& notify = config->zones.front().transfer.notify;
    REQUIRE(notify.size() == 3);
    CHECK(notify[0].address.port == 5301);
    CHECK(notify[1].address.port == 53);
    CHECK(notify[2].address.family == meridian::geoip::Family::v6);
    CHECK(notify[2].address.port == 53);
}

TEST_CASE("tsig_tables_are_read_into_the_config_with_errors_at_their_lines") {
    TempFolder folder;
    Diagnostics diagnostics;
    const auto config = load_config_text(folder, R"([server]
listen = ["127.0.0.1:5300"]

[[tsig]]
name = "Transfer-Key"
algorithm = "HMAC-SHA256"
secret = "c2VjcmV0"

[[tsig]]
name = "notify-key."
algorithm = "hmac-sha512"
secret = "c2VjcmV0"
)",
                                         diagnostics, "good.toml");
    REQUIRE(config);
    REQUIRE(config->tsig_keys.size() == 2);
    const auto keyring = config->keyring();
    const tsig::Key* key = keyring.find("transfer-key");
    REQUIRE(key);
    CHECK(key->name == "transfer-key.");
    CHECK(key->algorithm == "hmac-sha256.");
    CHECK(key->secret == "c2VjcmV0");
    CHECK(keyring.find("NOTIFY-KEY.")->algorithm == "hmac-sha512.");

    const auto bad = folder.write("bad.toml", R"([server]
listen = ["127.0.0.1:5300"]

[[tsig]]
name = "k1"
algorithm = "hmac-sha3"
secret = "not base64!"
colour = "red"

[[tsig]]
name = "k2"

[[tsig]]
name = "k3"
algorithm = "hmac-sha1"
secret = "c2VjcmV0"

[[tsig]]
name = "K3"
algorithm = "hmac-sha1"
secret = "c2VjcmV0"
)");
    Diagnostics errors;
    CHECK(!load_config(bad, errors));
    check_errors_at(errors, {{6, "unknown TSIG algorithm 'hmac-sha3'"},
                             {7, "base64"},
                             {8, "colour"},
                             {10, "missing 'algorithm'"},
                             {10, "missing 'secret'"},
                             {18, "duplicate TSIG key 'k3.'"}});
}

TEST_CASE("zone_limits_are_read_with_errors_at_their_lines") {
    TempFolder folder;
    Diagnostics diagnostics;
    auto config = load_config(write_zone_config(folder,
                                                "max_zone_records = 1000\n"
                                                "max_transfer_bytes = 65536\n"),
                              diagnostics);
    REQUIRE(config);
    CHECK(config->zones.front().max_zone_records == 1000);
    CHECK(config->zones.front().max_transfer_bytes == 65536);
    CHECK(config->zones.front().max_zone_records_place.line == 6);

    // Left out: the defaults, bounded.
    config = load_config(write_zone_config(folder, ""), diagnostics);
    REQUIRE(config);
    CHECK(config->zones.front().max_zone_records == kDefaultMaxZoneRecords);
    CHECK(config->zones.front().max_transfer_bytes == kDefaultMaxTransferBytes);

    Diagnostics errors;
    CHECK(!load_config(write_zone_config(folder,
                                         "max_zone_records = 1\n"
                                         "max_transfer_bytes = \"1G\"\n"),
                       errors));
    check_errors_at(errors, {{6, "max_zone_records"}, {7, "max_transfer_bytes"}});
}

TEST_CASE("secondary_zone_without_a_file_keeps_its_copy_in_the_state_directory") {
    TempFolder folder;
    Diagnostics diagnostics;
    const std::string zones = R"(
[[zone]]
origin = "Example.NET."
primaries = ["192.0.2.1"]

[[zone]]
origin = "."
primaries = ["192.0.2.1"]

[[zone]]
origin = 'a/b\..example.'
primaries = ["192.0.2.1"]

[[zone]]
origin = "example.org."
primaries = ["192.0.2.1"]
file = "cache/example.org.zone"
)";
    // The default: the folder the systemd unit makes writable (StateDirectory=meridian).
    auto config = load_config_text(folder, std::string(kListenOnly) + zones, diagnostics);
    REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
    REQUIRE(config->zones.size() == 4);
    CHECK(config->server.state_directory == "/var/lib/meridian");
    CHECK(config->zones[0].file == "/var/lib/meridian/secondary/example.net.zone");
    CHECK(config->zones[1].file == "/var/lib/meridian/secondary/root.zone");
    // No zone name makes a path or a hidden file.
    CHECK(config->zones[2].file == "/var/lib/meridian/secondary/a%2fb%2e.example.zone");
    CHECK(config->zones[3].file == folder.path() / "cache/example.org.zone");

    // A relative state_directory is relative to the config file's folder.
    config = load_config_text(
        folder, std::string(kListenOnly) + "state_directory = \"state\"\n" + zones, diagnostics);
    REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
    CHECK(config->zones[0].file == folder.path() / "state/secondary/example.net.zone");

    // A zone of its own still needs its file.
    check_config_errors(folder,
                        std::string(kListenOnly) + "\n[[zone]]\norigin = \"example.com.\"\n",
                        {{4, "missing 'file' in [[zone]]"}});
}

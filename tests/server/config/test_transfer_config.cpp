// The config keys that set up transfers out and TSIG: [[tsig]] tables, allow_transfer, notify
// and ixfr_history, with errors at their lines. (Moved from tests/server/transfer/, whose
// binary links only the transfer library.)
#include <doctest/doctest.h>

#include <string>

#include "geoip/network.hpp"
#include "server/config/config.hpp"
#include "server/transfer/tsig.hpp"
#include "support/temp_folder.hpp"

using namespace meridian;
using namespace meridian::server;
using meridian::testing::TempFolder;

namespace {

std::string zone_text(int hosts) {
    std::string text =
        "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 hostmaster 7 7200 900 1209600 60\n"
        "@ NS ns1\nns1 A 192.0.2.1\n";
    for (int i = 0; i < hosts; ++i)
        text += "host" + std::to_string(i) + " TXT \"a record long enough to fill messages " +
                std::to_string(i) + "\"\n";
    return text;
}

}  // namespace

TEST_CASE("transfer_keys_of_a_zone_are_checked_with_errors_at_their_lines") {
    TempFolder folder;
    folder.write("example.com.zone", zone_text(1));
    const auto path = folder.write("meridian.toml", R"([server]
listen = ["127.0.0.1:5300"]

[[zone]]
file = "example.com.zone"
allow_transfer = [{ address = "10.1.0.0/8" }, { adress = "10.0.0.0/8" },
                  { address = "10.0.0.0/8", key = "missing-key" }]
notify = [{ address = "192.0.2.7:99999" }, { address = "192.0.2.8", colour = "red" }]
ixfr_history = -1
)");
    Diagnostics diagnostics;
    CHECK(!load_config(path, diagnostics));
    auto has = [&](int line, const std::string& text) {
        for (const auto& d : diagnostics)
            if (d.is_error && d.line == line && d.message.find(text) != std::string::npos)
                return true;
        return false;
    };
    CHECK(has(6, "10.1.0.0/8"));
    CHECK(has(6, "adress"));
    CHECK(has(7, "unknown TSIG key 'missing-key.'"));
    CHECK(has(8, "bad notify address '192.0.2.7:99999'"));
    CHECK(has(8, "colour"));
    CHECK(has(9, "ixfr_history"));
}

TEST_CASE("notify_entries_take_a_port_or_default_to_53") {
    TempFolder folder;
    folder.write("example.com.zone", zone_text(1));
    const auto path = folder.write("meridian.toml", R"([server]
listen = ["127.0.0.1:5300"]

[[zone]]
file = "example.com.zone"
notify = [{ address = "192.0.2.7:5301" }, { address = "192.0.2.8" }, { address = "2001:db8::9" }]
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
    const auto good = folder.write("good.toml", R"([server]
listen = ["127.0.0.1:5300"]

[[tsig]]
name = "Transfer-Key"
algorithm = "HMAC-SHA256"
secret = "c2VjcmV0"

[[tsig]]
name = "notify-key."
algorithm = "hmac-sha512"
secret = "c2VjcmV0"
)");
    Diagnostics diagnostics;
    const auto config = load_config(good, diagnostics);
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
    auto has = [&](int line, const std::string& text) {
        for (const auto& d : errors)
            if (d.is_error && d.line == line && d.message.find(text) != std::string::npos)
                return true;
        return false;
    };
    CHECK(has(6, "unknown TSIG algorithm 'hmac-sha3'"));
    CHECK(has(7, "base64"));
    CHECK(has(8, "colour"));
    CHECK(has(10, "missing 'algorithm'"));
    CHECK(has(10, "missing 'secret'"));
    CHECK(has(18, "duplicate TSIG key 'k3.'"));
}

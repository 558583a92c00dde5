// The compact zone storage: lookups by full name, empty non-terminals, RRsets kept in arena
// views, copies with added empty nodes that share the original's data, and its size.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "wire/name.hpp"
#include "zones/zone.hpp"

using namespace meridian;

namespace {

std::string name(const char* text) {
    return wire::wire_from_text(text);
}

std::string soa_rdata() {
    std::string rdata = name("ns.example.com.") + name("h.example.com.");
    rdata += std::string(
        "\x00\x00\x00\x05\x00\x00\x1c\x20\x00\x00\x03\x84\x00\x12\x75\x00"
        "\x00\x00\x00\x3c",
        20);
    return rdata;
}

std::shared_ptr<const zones::Zone> build(Diagnostics& diagnostics,
                                         void (*more)(zones::ZoneBuilder&) = nullptr) {
    zones::ZoneBuilder builder(name("example.com."), "z.zone");
    builder.add_record(name("Example.COM."), 6, 300, soa_rdata(), 1);
    builder.add_record(name("example.com."), 2, 300, name("ns.example.com."), 2);
    builder.add_record(name("ns.example.com."), 1, 300, std::string("\xc0\x00\x02\x01", 4), 3);
    builder.add_record(name("a.b.c.example.com."), 1, 60, std::string("\xc0\x00\x02\x02", 4), 4);
    if (more) more(builder);
    return builder.finish(diagnostics);
}

}  // namespace

TEST_CASE("nodes_are_found_by_full_lowercase_name_with_their_empty_non_terminals") {
    Diagnostics diagnostics;
    auto zone = build(diagnostics);
    REQUIRE(zone);
    CHECK(zone->serial() == 5);
    CHECK(zone->negative_ttl() == 60);
    CHECK(zone->find_node(name("example.com.")) == &zone->apex());
    const auto* leaf = zone->find_node(name("a.b.c.example.com."));
    REQUIRE(leaf);
    CHECK(leaf->name == name("a.b.c.example.com."));
    REQUIRE(leaf->find(1));
    CHECK(leaf->find(1)->ttl == 60);
    CHECK(leaf->find(1)->rdatas.front() == std::string("\xc0\x00\x02\x02", 4));
    for (const char* ent : {"b.c.example.com.", "c.example.com."}) {
        const auto* node = zone->find_node(name(ent));
        REQUIRE(node);
        CHECK(node->is_empty_non_terminal());
    }
    CHECK_FALSE(zone->find_node(name("x.example.com.")));
    CHECK_FALSE(zone->find_node(name("A.b.c.example.com.")));  // keys are lowercase
    CHECK(zone->node_count() == 5);
    std::set<std::string> seen;
    for (const auto& [key, node] : zone->nodes()) {
        CHECK(key == node.name);
        seen.insert(std::string(key));
    }
    CHECK(seen.size() == 5);
    CHECK(zone->record_count() == 4);
}

TEST_CASE("large_rrsets_drop_duplicates_and_keep_order") {
    Diagnostics diagnostics;
    auto zone = build(diagnostics, [](zones::ZoneBuilder& b) {
        for (int round = 0; round < 3; ++round)
            for (int i = 0; i < 200; ++i)
                b.add_record(name("many.example.com."), 16, 60,
                             std::string(1, '\x03') + std::to_string(100 + i), 10 + i);
    });
    REQUIRE(zone);
    const auto* rrset = zone->find_node(name("many.example.com."))->find(16);
    REQUIRE(rrset);
    CHECK(rrset->rdatas.size() == 200);
    int i = 0;
    for (std::string_view rdata : rrset->rdatas)
        CHECK(rdata == std::string(1, '\x03') + std::to_string(100 + i++));
    CHECK(rrset->rdatas[199] == std::string(1, '\x03') + "299");
}

TEST_CASE("with_empty_nodes_copies_the_index_and_shares_the_records") {
    Diagnostics diagnostics;
    auto zone = build(diagnostics);
    REQUIRE(zone);
    CHECK(zones::with_empty_nodes(zone, {name("ns.example.com.")}) == zone);
    auto copy = zones::with_empty_nodes(zone, {name("www.geo.example.com.")});
    REQUIRE(copy != zone);
    CHECK_FALSE(zone->find_node(name("www.geo.example.com.")));
    REQUIRE(copy->find_node(name("www.geo.example.com.")));
    CHECK(copy->find_node(name("www.geo.example.com."))->is_empty_non_terminal());
    CHECK(copy->find_node(name("geo.example.com.")));
    CHECK(copy->node_count() == zone->node_count() + 2);
    // The records are the original's, not copies.
    CHECK(copy->find_node(name("ns.example.com."))->find(1) ==
          zone->find_node(name("ns.example.com."))->find(1));
    CHECK(&copy->soa() == &zone->soa());
    CHECK(copy->apex().name == name("example.com."));
}

TEST_CASE("a_large_zone_takes_a_few_dozen_octets_a_record") {
    Diagnostics diagnostics;
    auto zone = build(diagnostics, [](zones::ZoneBuilder& b) {
        for (int i = 0; i < 50000; ++i) {
            const std::string owner = name(("host" + std::to_string(i) + ".example.com.").c_str());
            b.add_record(owner, 1, 300, std::string("\x0a\x00\x00\x01", 4), 10 + i);
            if (i % 2 == 0) b.add_record(owner, 28, 300, std::string(16, '\x20'), 10 + i);
        }
    });
    REQUIRE(zone);
    CHECK(zone->record_count() == 75004);
    const double per_record = double(zone->memory()) / double(zone->record_count());
    MESSAGE("octets per record: " << per_record);
    CHECK(per_record < 80);
}

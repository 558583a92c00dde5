// Where a name lands in one zone (zones/lookup.hpp): each outcome of the walk from the apex,
// and the rules that decide between them (RFC 1034 §4.3.2, RFC 4592, RFC 6672, RFC 4035).
#include <doctest/doctest.h>

#include <string>

#include "support/temp_folder.hpp"
#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/lookup.hpp"
#include "zones/zone_loader.hpp"

using namespace meridian;
using zones::LookupOutcome;

namespace {

constexpr const char* kZone = R"($ORIGIN example.com.
$TTL 300
@            SOA ns1 hostmaster 1 7200 3600 1209600 300
@            NS  ns1
ns1          A   192.0.2.1
www          A   192.0.2.10
alias        CNAME www
a.b.c        TXT "deep"
*.wild       TXT "any"
x.ent.wild   TXT "blocks the wildcard for names below ent.wild"
child        NS  ns.child
ns.child     A   192.0.2.53
child        DS  12345 15 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
old          DNAME new.example.net.
)";

class ZoneLookup {
  public:
    ZoneLookup() {
        auto result = zones::load_zone_file(folder_.write("example.com.zone", kZone), "");
        REQUIRE(result.zone);
        zone_ = result.zone;
    }

    // The outcome for `text` (any case) and the owner of the node it names.
    std::pair<LookupOutcome, std::string> find(const char* text,
                                               uint16_t qtype = wire::type::kA) const {
        std::string name = wire::wire_from_text(text);
        wire::to_lower(wire::bytes_of(name), reinterpret_cast<uint8_t*>(name.data()));
        const zones::Lookup found = zones::look_up(*zone_, wire::bytes_of(name), qtype);
        REQUIRE(found.node != nullptr);
        return {found.outcome, wire::to_text(wire::bytes_of(found.node->name))};
    }

  private:
    testing::TempFolder folder_;
    std::shared_ptr<const zones::Zone> zone_;
};

}  // namespace

TEST_CASE("a_name_with_data_is_an_exact_match") {
    ZoneLookup zone;
    CHECK(zone.find("www.example.com.") ==
          std::pair(LookupOutcome::exact, std::string("www.example.com.")));
    CHECK(zone.find("WWW.Example.COM.").first == LookupOutcome::exact);
    CHECK(zone.find("example.com.", wire::type::kNS).first == LookupOutcome::exact);
}

TEST_CASE("a_cname_owner_is_its_own_outcome") {
    ZoneLookup zone;
    CHECK(zone.find("alias.example.com.") ==
          std::pair(LookupOutcome::cname, std::string("alias.example.com.")));
}

TEST_CASE("an_ancestor_without_data_is_an_empty_non_terminal") {
    ZoneLookup zone;
    CHECK(zone.find("b.c.example.com.").first == LookupOutcome::empty_non_terminal);
    CHECK(zone.find("c.example.com.").first == LookupOutcome::empty_non_terminal);
}

TEST_CASE("a_missing_name_under_a_wildcard_parent_is_synthesized_from_it") {
    ZoneLookup zone;
    CHECK(zone.find("anything.wild.example.com.") ==
          std::pair(LookupOutcome::wildcard, std::string("*.wild.example.com.")));
}

TEST_CASE("an_empty_non_terminal_blocks_the_wildcard_above_it") {
    // RFC 4592 §3.3.1: the closest encloser of y.ent.wild is ent.wild, and there is no
    // *.ent.wild, so the name does not exist.
    ZoneLookup zone;
    CHECK(zone.find("y.ent.wild.example.com.") ==
          std::pair(LookupOutcome::nxdomain, std::string("ent.wild.example.com.")));
}

TEST_CASE("a_missing_name_is_nxdomain_at_its_closest_encloser") {
    ZoneLookup zone;
    CHECK(zone.find("nowhere.example.com.") ==
          std::pair(LookupOutcome::nxdomain, std::string("example.com.")));
    CHECK(zone.find("z.b.c.example.com.") ==
          std::pair(LookupOutcome::nxdomain, std::string("b.c.example.com.")));
}

TEST_CASE("names_at_and_below_a_zone_cut_are_delegated") {
    ZoneLookup zone;
    CHECK(zone.find("child.example.com.") ==
          std::pair(LookupOutcome::delegation, std::string("child.example.com.")));
    CHECK(zone.find("ns.child.example.com.") ==
          std::pair(LookupOutcome::delegation, std::string("child.example.com.")));
    CHECK(zone.find("deep.below.child.example.com.").first == LookupOutcome::delegation);
}

TEST_CASE("ds_at_a_zone_cut_is_answered_from_the_parent_side") {
    // RFC 4035 §3.1.4.1; only at the cut itself, not below it.
    ZoneLookup zone;
    CHECK(zone.find("child.example.com.", wire::type::kDS).first == LookupOutcome::exact);
    CHECK(zone.find("ns.child.example.com.", wire::type::kDS).first == LookupOutcome::delegation);
}

TEST_CASE("names_below_a_dname_are_redirected_but_its_owner_is_not") {
    // RFC 6672 §2.3: the DNAME owner itself keeps its own data.
    ZoneLookup zone;
    CHECK(zone.find("host.old.example.com.") ==
          std::pair(LookupOutcome::dname, std::string("old.example.com.")));
    CHECK(zone.find("old.example.com.", wire::type::kDNAME).first == LookupOutcome::exact);
}

TEST_CASE("the_apex_is_never_a_delegation") {
    // The apex holds NS records of its own; only a cut below it refers.
    ZoneLookup zone;
    CHECK(zone.find("example.com.", wire::type::kA).first == LookupOutcome::exact);
}

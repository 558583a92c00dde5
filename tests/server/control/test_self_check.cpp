// Self-queries on a real loop against a loopback UDP socket the test answers (or not): a round
// passes only when every listen address answered within the interval, from that address, with
// the query's id and (when asked for) NOERROR; a wildcard listen address is asked on loopback
// and an address this host does not have fails the round without a query.
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "geoip/network.hpp"
#include "server/control/self_check.hpp"
#include "support/loopback_socket.hpp"
#include "support/uv_test_loop.hpp"

using namespace meridian::server;
using meridian::testing::LoopbackSocket;
using meridian::testing::TestLoop;
using namespace std::chrono_literals;

namespace {

const std::string kExampleCom(
    "\x07"
    "example\x03"
    "com\x00",
    13);

ListenAddress listen_at(const std::string& text) {
    const auto address = meridian::geoip::parse_address_and_port(text);
    REQUIRE_MESSAGE(address, text);
    return {text, *address};
}

ListenAddress listen_at(const LoopbackSocket& socket) {
    return {meridian::geoip::to_string(socket.address()), socket.address()};
}

SelfCheckQuestion soa_of_example_com() {
    return {kExampleCom, 6, 1, true};
}

// How the fake server treats a query.
enum class Answer { noerror, servfail, refused, wrong_id, from_another_port, none };

// A UDP "server" on a loopback socket; answer() handles whatever queries arrived, without
// blocking, and keeps them.
class FakeServer {
  public:
    FakeServer(const char* address, Answer how, uint16_t port = 0)
        : socket_(SOCK_DGRAM, address, port), other_(SOCK_DGRAM, address), how_(how) {}

    const LoopbackSocket& socket() const { return socket_; }
    const std::vector<std::string>& queries() const { return queries_; }

    void answer() {
        char buffer[512];
        for (;;) {
            sockaddr_storage from{};
            socklen_t length = sizeof from;
            const ssize_t n = ::recvfrom(socket_.fd(), buffer, sizeof buffer, MSG_DONTWAIT,
                                         reinterpret_cast<sockaddr*>(&from), &length);
            if (n < 12) return;
            std::string reply(buffer, static_cast<size_t>(n));
            queries_.push_back(reply);
            if (how_ == Answer::none) continue;
            reply[2] = static_cast<char>(reply[2] | 0x80);  // QR
            if (how_ == Answer::servfail) reply[3] = 2;
            if (how_ == Answer::refused) reply[3] = 5;
            if (how_ == Answer::wrong_id) reply[1] = static_cast<char>(reply[1] ^ 1);
            const int fd = how_ == Answer::from_another_port ? other_.fd() : socket_.fd();
            ::sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), length);
        }
    }

  private:
    LoopbackSocket socket_;
    LoopbackSocket other_;
    Answer how_;
    std::vector<std::string> queries_;
};

// A self-check on a loop of its own, the rounds' results in order, closed at scope exit.
struct Rounds {
    TestLoop loop;
    std::vector<std::pair<bool, std::string>> results;
    std::unique_ptr<SelfCheck> check;
    TestLoop::Closer closer{loop, [this] {
                                if (check) check->close();
                            }};

    Rounds(const std::vector<ListenAddress>& listen, unsigned interval_ms,
           SelfCheckQuestion question = soa_of_example_com()) {
        check = std::make_unique<SelfCheck>(loop.get(), listen, interval_ms,
                                            [this](bool answered, const std::string& problem) {
                                                results.emplace_back(answered, problem);
                                            });
        std::string error;
        REQUIRE_MESSAGE(check->start(std::move(question), error), error);
    }

    // Runs rounds, letting `servers` answer, until `count` results are in.
    void run(size_t count, std::vector<FakeServer*> servers = {}) {
        const bool done = loop.run_until(
            [&] {
                for (auto* server : servers) server->answer();
                return results.size() >= count;
            },
            5s);
        REQUIRE_MESSAGE(done, "only ", results.size(), " of ", count, " rounds reported");
    }
};

using Result = std::pair<bool, std::string>;
const Result kPassed(true, "");

// The first round with one listen address, a fake server on loopback that answers as `how`
// says: the address as written, the round's result and how many queries the server saw.
struct FirstRound {
    std::string listen;
    Result result;
    size_t queries = 0;
};

FirstRound first_round(Answer how, unsigned interval_ms,
                       SelfCheckQuestion question = soa_of_example_com()) {
    FakeServer server("127.0.0.1", how);
    const ListenAddress listen = listen_at(server.socket());
    Rounds rounds({listen}, interval_ms, std::move(question));
    rounds.run(1, {&server});
    return {listen.text, rounds.results.front(), server.queries().size()};
}

}  // namespace

TEST_CASE("a_self_query_answered_by_the_listen_address_passes_the_round") {
    CHECK(first_round(Answer::noerror, 200).result == kPassed);
}

TEST_CASE("a_silent_listen_address_fails_the_round_with_no_answer_within_the_interval") {
    const FirstRound round = first_round(Answer::none, 100);
    CHECK(round.result == Result(false, round.listen + ": no answer within 100 ms"));
    CHECK(round.queries >= 1);  // it was asked
}

TEST_CASE("an_answer_with_another_id_is_ignored") {
    const FirstRound round = first_round(Answer::wrong_id, 100);
    CHECK(round.result == Result(false, round.listen + ": no answer within 100 ms"));
}

TEST_CASE("an_answer_from_another_port_than_the_listen_address_is_ignored") {
    const FirstRound round = first_round(Answer::from_another_port, 100);
    CHECK(round.result == Result(false, round.listen + ": no answer within 100 ms"));
}

TEST_CASE("an_error_rcode_fails_the_round_when_noerror_is_needed") {
    const FirstRound round = first_round(Answer::servfail, 200);
    CHECK(round.result ==
          Result(false, round.listen + ": answered with rcode 2 (the zone is not served?)"));
}

TEST_CASE("any_rcode_counts_as_an_answer_when_noerror_is_not_needed") {
    // Without zones the self-check asks CHAOS TXT id.server, where any answer will do.
    const std::string id_server(
        "\x02"
        "id\x06"
        "server\x00",
        11);
    CHECK(first_round(Answer::refused, 200, {id_server, 16, 3, false}).result == kPassed);
}

TEST_CASE("every_listen_address_must_answer_for_the_round_to_pass") {
    FakeServer answering("127.0.0.1", Answer::noerror);
    FakeServer silent("127.0.0.1", Answer::none);
    const ListenAddress quiet = listen_at(silent.socket());
    Rounds rounds({listen_at(answering.socket()), quiet}, 200);
    rounds.run(1, {&answering, &silent});
    CHECK(rounds.results.front() == Result(false, quiet.text + ": no answer within 200 ms"));
    CHECK_FALSE(answering.queries().empty());
}

TEST_CASE("a_wildcard_listen_address_is_asked_on_the_loopback_of_its_family") {
    const std::vector<std::pair<const char*, std::string>> cases = {{"127.0.0.1", "0.0.0.0:"},
                                                                    {"::1", "[::]:"}};
    for (const auto& [loopback, wildcard] : cases) {
        FakeServer server(loopback, Answer::noerror);
        Rounds rounds({listen_at(wildcard + std::to_string(server.socket().port()))}, 200);
        rounds.run(1, {&server});
        CHECK_MESSAGE(rounds.results.front() == kPassed, wildcard, " ",
                      rounds.results.front().second);
        CHECK_FALSE(server.queries().empty());
    }
}

TEST_CASE("an_address_not_on_this_host_fails_the_round_without_a_query") {
    // 192.0.2.0/24 is TEST-NET-1: never an address of the test host.
    Rounds rounds({listen_at("192.0.2.1:53")}, 100);
    rounds.run(1);
    CHECK(rounds.results.front() == Result(false, "192.0.2.1:53: not an address of this host"));
}

TEST_CASE("each_round_asks_the_question_without_recursion_and_a_new_question_from_the_next") {
    FakeServer server("127.0.0.1", Answer::noerror);
    Rounds rounds({listen_at(server.socket())}, 200);
    rounds.run(1, {&server});
    REQUIRE(server.queries().size() >= 1);
    const std::string& first = server.queries().front();
    // Flags 0 (a query, RD clear), one question, nothing else.
    CHECK(first.substr(2, 10) == std::string("\0\0\0\x01\0\0\0\0\0\0", 10));
    CHECK(first.substr(12) == kExampleCom + std::string("\0\x06\0\x01", 4));

    const std::string example_net(
        "\x07"
        "example\x03"
        "net\x00",
        13);
    rounds.check->set_question({example_net, 6, 1, true});
    // The round in flight still asks the old question; the one after asks the new.
    rounds.run(3, {&server});
    CHECK(server.queries().back().substr(12) == example_net + std::string("\0\x06\0\x01", 4));
    CHECK(rounds.results.back() == kPassed);
}

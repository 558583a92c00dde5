// NOTIFY out (RFC 1996) on a real loop: what the message says, that an answer with its id
// from its target stops the retries and anything else does not, and TSIG on both legs. Each
// fake secondary is a UDP socket on loopback; retries are awaited with a deadline, and a
// missing retry is judged against one that arrives in the same timer tick.
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "server/transfer/notify_out.hpp"
#include "server/transfer/tsig.hpp"
#include "support/loopback_socket.hpp"
#include "support/uv_test_loop.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "wire/query.hpp"

using namespace meridian;
using namespace meridian::server;
using meridian::testing::LoopbackSocket;
using meridian::testing::TestLoop;
using namespace std::chrono_literals;

namespace {

const tsig::Key kKey{"transfer-key.", "hmac-sha256.",
                     "c2VjcmV0LXNoYXJlZC1ieS1wcmltYXJ5LWFuZC1zZWNvbmRhcnk="};

// Long enough for the first retry (kFirstRetry, on a 100 ms tick) with room for a slow CI.
constexpr auto kRetryDeadline = Notifier::kFirstRetry + 2s;

uint16_t word_at(const std::vector<uint8_t>& message, size_t at) {
    return static_cast<uint16_t>(message[at] << 8 | message[at + 1]);
}

uint32_t long_at(const std::vector<uint8_t>& message, size_t at) {
    return static_cast<uint32_t>(word_at(message, at)) << 16 | word_at(message, at + 2);
}

// SOA rdata in wire form: ns1.example.com. hostmaster.example.com. `serial` and the timers.
std::string soa_rdata(uint32_t serial) {
    std::string rdata =
        wire::wire_from_text("ns1.example.com.") + wire::wire_from_text("hostmaster.example.com.");
    for (uint32_t value : {serial, 7200u, 900u, 1209600u, 60u})
        for (int shift = 24; shift >= 0; shift -= 8)
            rdata.push_back(static_cast<char>(value >> shift));
    return rdata;
}

zones::NotifyTarget target_at(const LoopbackSocket& secondary, std::string key = {}) {
    const geoip::Address address = secondary.address();
    return {address, geoip::to_string(address), std::move(key)};
}

ZoneChange example_change(uint32_t serial, std::vector<zones::NotifyTarget> targets) {
    return {wire::wire_from_text("example.com."),
            serial,
            3600,
            soa_rdata(serial),
            std::move(targets),
            {kKey}};
}

// One datagram a fake secondary received, and where from (the notifier's socket).
struct Datagram {
    std::vector<uint8_t> message;
    sockaddr_storage from{};
    socklen_t from_length = sizeof from;
};

std::optional<Datagram> take_datagram(const LoopbackSocket& secondary) {
    Datagram datagram;
    datagram.message.resize(wire::kMaxMessageSize);
    const ssize_t length =
        recvfrom(secondary.fd(), datagram.message.data(), datagram.message.size(), MSG_DONTWAIT,
                 reinterpret_cast<sockaddr*>(&datagram.from), &datagram.from_length);
    if (length <= 0) return std::nullopt;
    datagram.message.resize(static_cast<size_t>(length));
    return datagram;
}

std::optional<Datagram> wait_for_datagram(TestLoop& loop, const LoopbackSocket& secondary,
                                          std::chrono::milliseconds timeout) {
    std::optional<Datagram> datagram;
    loop.run_until([&] { return (datagram = take_datagram(secondary)).has_value(); }, timeout);
    return datagram;
}

// RFC 1996 §4.7: the secondary's answer, the header (QR set, counts but the question's
// cleared) and the question of `notify`, without TSIG.
std::vector<uint8_t> notify_answer(const std::vector<uint8_t>& notify) {
    size_t end = wire::kHeaderSize;
    REQUIRE(wire::skip_name(notify, end));
    end += 4;  // QTYPE, QCLASS
    REQUIRE(end <= notify.size());
    std::vector<uint8_t> answer(notify.begin(), notify.begin() + static_cast<ptrdiff_t>(end));
    answer[2] |= 0x80;
    for (size_t count = 6; count < wire::kHeaderSize; ++count) answer[count] = 0;
    return answer;
}

void send_answer(const LoopbackSocket& secondary, const Datagram& notify,
                 const std::vector<uint8_t>& answer) {
    REQUIRE(sendto(secondary.fd(), answer.data(), answer.size(), 0,
                   reinterpret_cast<const sockaddr*>(&notify.from),
                   notify.from_length) == static_cast<ssize_t>(answer.size()));
}

}  // namespace

TEST_CASE("notify_is_an_authoritative_soa_question_with_the_new_soa_as_hint_to_every_target") {
    TestLoop loop;
    Notifier notifier(loop.get());
    const TestLoop::Closer closer(loop, [&] { notifier.close(); });
    const LoopbackSocket v4(SOCK_DGRAM, "127.0.0.1");
    const LoopbackSocket v6(SOCK_DGRAM, "::1");
    notifier.notify(example_change(42, {target_at(v4), target_at(v6)}));

    for (const LoopbackSocket* secondary : {&v4, &v6}) {
        const auto datagram = wait_for_datagram(loop, *secondary, 2s);
        REQUIRE(datagram);
        const std::vector<uint8_t>& message = datagram->message;
        wire::Query query;
        REQUIRE(wire::parse_query(message, query) == wire::ParseStatus::ok);  // QR clear
        CHECK(query.opcode == wire::opcode::kNotify);
        CHECK((message[2] & 0x04) != 0);  // AA
        CHECK(query.qname.as_key() == wire::wire_from_text("example.com."));
        CHECK(query.qtype == wire::type::kSOA);
        CHECK(query.qclass == wire::klass::kIN);
        CHECK(query.ancount == 1);
        CHECK_FALSE(query.has_tsig);

        // The answer section's SOA: owner, type, class, TTL, then the rdata's serial.
        size_t at = wire::kHeaderSize;
        REQUIRE(wire::skip_name(message, at));
        at += 4;
        wire::Name owner, mname, rname;
        REQUIRE(wire::read_name(message, at, owner));
        CHECK(owner.as_key() == wire::wire_from_text("example.com."));
        REQUIRE(at + 10 <= message.size());
        CHECK(word_at(message, at) == wire::type::kSOA);
        CHECK(long_at(message, at + 4) == 3600);
        at += 10;
        REQUIRE(wire::read_name(message, at, mname));
        REQUIRE(wire::read_name(message, at, rname));
        CHECK(mname.as_key() == wire::wire_from_text("ns1.example.com."));
        REQUIRE(at + 4 <= message.size());
        CHECK(long_at(message, at) == 42);
    }
}

TEST_CASE("notify_is_retried_until_an_answer_with_its_id_arrives") {
    TestLoop loop;
    Notifier notifier(loop.get());
    const TestLoop::Closer closer(loop, [&] { notifier.close(); });
    const LoopbackSocket answering(SOCK_DGRAM, "127.0.0.1");
    const LoopbackSocket misanswering(SOCK_DGRAM, "127.0.0.1");
    notifier.notify(example_change(42, {target_at(answering), target_at(misanswering)}));
    const auto sent = std::chrono::steady_clock::now();

    const auto first = wait_for_datagram(loop, answering, 2s);
    const auto other = wait_for_datagram(loop, misanswering, 2s);
    REQUIRE((first && other));
    send_answer(answering, *first, notify_answer(first->message));
    std::vector<uint8_t> wrong_id = notify_answer(other->message);
    wrong_id[1] ^= 0x01;
    send_answer(misanswering, *other, wrong_id);

    const auto retry = wait_for_datagram(loop, misanswering, kRetryDeadline);
    REQUIRE_MESSAGE(retry, "no retry after an answer with another id");
    CHECK(std::chrono::steady_clock::now() - sent >= Notifier::kFirstRetry * 9 / 10);
    CHECK(retry->message == other->message);  // the same NOTIFY, the same id
    // Both were due in the same tick: a retry to the answered target would be queued already.
    CHECK_FALSE(take_datagram(answering));
}

TEST_CASE("a_new_notify_for_the_zone_replaces_the_unanswered_one") {
    TestLoop loop;
    Notifier notifier(loop.get());
    const TestLoop::Closer closer(loop, [&] { notifier.close(); });
    const LoopbackSocket secondary(SOCK_DGRAM, "127.0.0.1");
    const LoopbackSocket witness(SOCK_DGRAM, "127.0.0.1");  // never answers: marks the retry
    notifier.notify(example_change(42, {target_at(secondary)}));
    notifier.notify(example_change(43, {target_at(secondary), target_at(witness)}));

    const auto old_serial = wait_for_datagram(loop, secondary, 2s);
    const auto new_serial = wait_for_datagram(loop, secondary, 2s);
    REQUIRE((old_serial && new_serial));
    CHECK(old_serial->message != new_serial->message);
    send_answer(secondary, *new_serial, notify_answer(new_serial->message));

    REQUIRE(wait_for_datagram(loop, witness, 2s));
    REQUIRE(wait_for_datagram(loop, witness, kRetryDeadline));
    // The serial-42 NOTIFY was due before the witness's retry: had it been kept, it would
    // have been sent again by now.
    CHECK_FALSE(take_datagram(secondary));
}

TEST_CASE("signed_notify_verifies_with_the_targets_key_and_only_a_signed_answer_stops_it") {
    TestLoop loop;
    Notifier notifier(loop.get());
    const TestLoop::Closer closer(loop, [&] { notifier.close(); });
    const LoopbackSocket signing(SOCK_DGRAM, "127.0.0.1");
    const LoopbackSocket unsigned_answer(SOCK_DGRAM, "127.0.0.1");
    notifier.notify(
        example_change(42, {target_at(signing, kKey.name), target_at(unsigned_answer, kKey.name)}));

    const tsig::Keyring keyring({kKey});
    const auto first = wait_for_datagram(loop, signing, 2s);
    const auto other = wait_for_datagram(loop, unsigned_answer, 2s);
    REQUIRE((first && other));
    const auto check = tsig::verify_request(first->message, keyring, tsig::current_time());
    REQUIRE(check.verdict == tsig::Verdict::valid);
    CHECK(check.key_text() == "transfer-key.");
    CHECK(tsig::verify_request(other->message, keyring, tsig::current_time()).verdict ==
          tsig::Verdict::valid);

    const auto signed_answer = tsig::sign(notify_answer(first->message), kKey, check.mac);
    REQUIRE(signed_answer);
    send_answer(signing, *first, signed_answer->message);
    // RFC 8945 §5.3: an unsigned answer to a signed request may be forged.
    send_answer(unsigned_answer, *other, notify_answer(other->message));

    REQUIRE_MESSAGE(wait_for_datagram(loop, unsigned_answer, kRetryDeadline),
                    "an unsigned answer stopped a signed NOTIFY");
    CHECK_FALSE(take_datagram(signing));
}

TEST_CASE("notify_naming_an_unknown_key_is_not_sent_unsigned") {
    TestLoop loop;
    Notifier notifier(loop.get());
    const TestLoop::Closer closer(loop, [&] { notifier.close(); });
    const LoopbackSocket keyed(SOCK_DGRAM, "127.0.0.1");
    const LoopbackSocket plain(SOCK_DGRAM, "127.0.0.1");
    notifier.notify(example_change(42, {target_at(keyed, "other-key."), target_at(plain)}));

    // Both would go out in notify() itself, in order: the later one's arrival is the mark.
    REQUIRE(wait_for_datagram(loop, plain, 2s));
    CHECK_FALSE(take_datagram(keyed));
}

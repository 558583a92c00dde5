// DNS protocol numbers used across the code: header bits, rcodes, types, classes, EDNS options.
#pragma once

#include <cstddef>
#include <cstdint>

namespace meridian::wire {

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxMessageSize = 65535;
inline constexpr uint16_t kClassicUdpLimit = 512;  // RFC 1035 §4.2.1, without EDNS

namespace opcode {
inline constexpr uint8_t kQuery = 0;
inline constexpr uint8_t kNotify = 4;
inline constexpr uint8_t kUpdate = 5;
}  // namespace opcode

namespace rcode {
inline constexpr uint16_t kNoError = 0;
inline constexpr uint16_t kFormErr = 1;
inline constexpr uint16_t kServFail = 2;
inline constexpr uint16_t kNxDomain = 3;
inline constexpr uint16_t kNotImp = 4;
inline constexpr uint16_t kRefused = 5;
inline constexpr uint16_t kNotAuth = 9;
inline constexpr uint16_t kBadVers = 16;  // RFC 6891 §6.1.3, needs the OPT's extended bits
}  // namespace rcode

namespace type {
inline constexpr uint16_t kA = 1;
inline constexpr uint16_t kNS = 2;
inline constexpr uint16_t kCNAME = 5;
inline constexpr uint16_t kSOA = 6;
inline constexpr uint16_t kPTR = 12;
inline constexpr uint16_t kHINFO = 13;
inline constexpr uint16_t kMX = 15;
inline constexpr uint16_t kTXT = 16;
inline constexpr uint16_t kAAAA = 28;
inline constexpr uint16_t kSRV = 33;
inline constexpr uint16_t kNAPTR = 35;
inline constexpr uint16_t kDNAME = 39;
inline constexpr uint16_t kOPT = 41;
inline constexpr uint16_t kDS = 43;
inline constexpr uint16_t kRRSIG = 46;
inline constexpr uint16_t kNSEC = 47;
inline constexpr uint16_t kDNSKEY = 48;
inline constexpr uint16_t kNSEC3 = 50;
inline constexpr uint16_t kNSEC3PARAM = 51;
inline constexpr uint16_t kTSIG = 250;
inline constexpr uint16_t kIXFR = 251;
inline constexpr uint16_t kAXFR = 252;
inline constexpr uint16_t kMAILB = 253;
inline constexpr uint16_t kMAILA = 254;
inline constexpr uint16_t kANY = 255;
inline constexpr uint16_t kCAA = 257;
}  // namespace type

namespace klass {
inline constexpr uint16_t kIN = 1;
inline constexpr uint16_t kCH = 3;
inline constexpr uint16_t kNONE = 254;
inline constexpr uint16_t kANY = 255;
}  // namespace klass

namespace edns {
inline constexpr uint16_t kNsid = 3;          // RFC 5001
inline constexpr uint16_t kClientSubnet = 8;  // RFC 7871
inline constexpr uint16_t kCookie = 10;       // RFC 7873
}  // namespace edns

}  // namespace meridian::wire

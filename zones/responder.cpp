// Placeholder until the answer path lands.
#include "zones/responder.hpp"
namespace meridian::zones {
size_t respond(const Snapshot&, std::span<const uint8_t>, std::span<uint8_t>, const QueryOrigin&) { return 0; }
}

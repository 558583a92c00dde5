// Pool states on the main thread: see pool_health.hpp.
#include "server/control/pool_health.hpp"

namespace meridian::server {

namespace {

geoip::CheckedState checked_of(Hysteresis::State state) {
    switch (state) {
        case Hysteresis::State::up:
            return geoip::CheckedState::up;
        case Hysteresis::State::down:
            return geoip::CheckedState::down;
        case Hysteresis::State::unknown:
            break;
    }
    return geoip::CheckedState::unknown;
}

Hysteresis::State hysteresis_of(geoip::CheckedState state) {
    switch (state) {
        case geoip::CheckedState::up:
            return Hysteresis::State::up;
        case geoip::CheckedState::down:
            return Hysteresis::State::down;
        case geoip::CheckedState::unknown:
            break;
    }
    return Hysteresis::State::unknown;
}

bool same_target(const ServedPool& a, const ServedPool& b) {
    return a.addresses == b.addresses && a.check == b.check;
}

}  // namespace

std::string_view checked_state_name(geoip::CheckedState state) {
    switch (state) {
        case geoip::CheckedState::up:
            return "up";
        case geoip::CheckedState::down:
            return "down";
        case geoip::CheckedState::unknown:
            break;
    }
    return "unknown";
}

std::string_view forced_state_name(geoip::ForcedState state) {
    switch (state) {
        case geoip::ForcedState::up:
            return "up";
        case geoip::ForcedState::down:
            return "down";
        case geoip::ForcedState::none:
            break;
    }
    return "none";
}

std::string_view effective_state_name(const geoip::PoolState& state) {
    return state.is_usable() ? "up" : "down";
}

void PoolHealthTable::update(const std::vector<ServedPool>& pools,
                             const std::map<std::string, geoip::ForcedState>& forced) {
    std::vector<Pool> next;
    for (const ServedPool& served : pools) {
        Pool pool;
        pool.served = served;
        const Pool* before = find(served.name);
        if (before) {
            pool.rounds_passed = before->rounds_passed;
            pool.rounds_failed = before->rounds_failed;
            pool.transitions = before->transitions;
            pool.last_problem = before->last_problem;
        }
        if (served.check) {
            // A changed check (other port, other addresses) starts from what is known; it
            // still needs rise or fall rounds of its own to change it.
            if (before && before->hysteresis && same_target(before->served, served))
                pool.hysteresis = before->hysteresis;
            else
                pool.hysteresis.emplace(served.check->rise, served.check->fall,
                                        std::chrono::milliseconds(served.check->hold_down_ms),
                                        hysteresis_of(served.state->checked()));
        } else {
            served.state->set_checked(geoip::CheckedState::unknown);
            pool.last_problem.clear();
        }
        const auto wanted = forced.find(served.name);
        served.state->set_forced(wanted == forced.end() ? geoip::ForcedState::none
                                                        : wanted->second);
        next.push_back(std::move(pool));
    }
    pools_ = std::move(next);
}

std::optional<std::string> PoolHealthTable::record_round(const std::string& name, bool passed,
                                                         const std::string& problem,
                                                         Hysteresis::Clock::time_point now) {
    for (Pool& pool : pools_) {
        if (pool.served.name != name || !pool.hysteresis) continue;
        ++(passed ? pool.rounds_passed : pool.rounds_failed);
        pool.last_problem = passed ? std::string() : problem;
        if (!pool.hysteresis->record(passed, now)) return std::nullopt;
        ++pool.transitions;
        const auto state = checked_of(pool.hysteresis->state());
        pool.served.state->set_checked(state);
        std::string line = "pool " + name + ": " + std::string(checked_state_name(state)) +
                           " after " + std::to_string(pool.hysteresis->streak()) +
                           (passed ? " passed" : " failed") + " checks in a row";
        if (!passed) line += " (" + problem + ")";
        if (pool.served.state->forced() != geoip::ForcedState::none)
            line += "; forced " + std::string(forced_state_name(pool.served.state->forced())) +
                    " by the operator, which still decides";
        else
            line += state == geoip::CheckedState::down
                        ? "; its answers go to the next pool of each policy"
                        : "; answering with it again";
        return line;
    }
    return std::nullopt;
}

bool PoolHealthTable::force(const std::string& name, geoip::ForcedState forced) {
    for (Pool& pool : pools_) {
        if (pool.served.name != name) continue;
        pool.served.state->set_forced(forced);
        return true;
    }
    return false;
}

bool PoolHealthTable::are_known() const {
    for (const Pool& pool : pools_)
        if (pool.hysteresis && pool.served.state->checked() == geoip::CheckedState::unknown &&
            pool.served.state->forced() == geoip::ForcedState::none)
            return false;
    return true;
}

const PoolHealthTable::Pool* PoolHealthTable::find(const std::string& name) const {
    for (const Pool& pool : pools_)
        if (pool.served.name == name) return &pool;
    return nullptr;
}

std::string PoolHealthTable::describe() const {
    std::string text;
    for (const Pool& pool : pools_) {
        const geoip::PoolState& state = *pool.served.state;
        text += pool.served.name + " " + std::string(effective_state_name(state)) + " checked=" +
                std::string(pool.hysteresis ? checked_state_name(state.checked()) : "unchecked") +
                " forced=" + std::string(forced_state_name(state.forced())) +
                " transitions=" + std::to_string(pool.transitions);
        if (!pool.last_problem.empty()) text += " last-problem: " + pool.last_problem;
        text += "\n";
    }
    return text;
}

}  // namespace meridian::server

// One reload at a time on the thread pool: see reload_queue.hpp.
#include "server/reload/reload_queue.hpp"

namespace meridian::server {

ReloadQueue::ReloadQueue(uv_loop_t* loop, SnapshotLoader& loader, SnapshotSlot& slot,
                         const Config& running, Done on_each)
    : loop_(loop), loader_(loader), slot_(slot), running_(running), on_each_(std::move(on_each)) {
    work_.data = this;
}

void ReloadQueue::request(Done done) {
    if (done) waiting_next_.push_back(std::move(done));
    is_wanted_ = true;
    if (!is_running_) start();
}

void ReloadQueue::start() {
    is_wanted_ = false;
    is_running_ = true;
    waiting_current_ = std::move(waiting_next_);
    waiting_next_.clear();
    uv_queue_work(loop_, &work_, run, finished);
}

void ReloadQueue::run(uv_work_t* work) {
    auto* self = static_cast<ReloadQueue*>(work->data);
    // The zone cache and publish() are used by this thread alone while it runs.
    // An exception escaping a libuv work callback would end the process.
    try {
        self->outcome_ = reload(self->loader_, self->slot_, self->running_);
    } catch (...) {
        self->outcome_ = {};
        self->outcome_.summary = "reload failed: nothing changed";
    }
}

void ReloadQueue::finished(uv_work_t* work, int) {
    auto* self = static_cast<ReloadQueue*>(work->data);
    self->is_running_ = false;
    const ReloadOutcome outcome = std::move(self->outcome_);
    if (self->on_each_) self->on_each_(outcome);
    for (auto& done : std::vector<Done>(std::move(self->waiting_current_))) done(outcome);
    self->waiting_current_.clear();
    if (self->is_wanted_) self->start();
}

}  // namespace meridian::server

#include "data/loader.h"

#include <chrono>
#include <stdexcept>

namespace trainer::data {

BatchLoader::BatchLoader(const Dataset& data, std::vector<BatchRequest> requests, std::int64_t epoch,
                         std::int64_t workers, std::int64_t prefetch)
    : data_(data),
      requests_(std::move(requests)),
      epoch_(epoch),
      prefetch_(static_cast<std::size_t>(std::max<std::int64_t>(prefetch, workers))) {
  for (std::int64_t w = 0; w < workers; ++w) workers_.emplace_back([this] { work(); });
}

BatchLoader::~BatchLoader() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  taken_.notify_all();
  for (auto& worker : workers_) worker.join();
}

Batch BatchLoader::make(std::size_t request) const {
  const BatchRequest& r = requests_[request];
  return data_.batch(torch::IntArrayRef(r.indices, static_cast<std::size_t>(r.count)), epoch_);
}

void BatchLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    taken_.wait(lock, [&] {
      return stopping_ || next_to_make_ >= requests_.size() || next_to_make_ < next_to_take_ + prefetch_;
    });
    if (stopping_ || next_to_make_ >= requests_.size()) return;
    const std::size_t request = next_to_make_++;
    lock.unlock();
    Made made;
    try {
      made.batch = make(request);
    } catch (...) {
      made.error = std::current_exception();
    }
    lock.lock();
    ready_.emplace(request, std::move(made));
    made_.notify_all();
  }
}

Batch BatchLoader::next() {
  const auto start = std::chrono::steady_clock::now();
  auto waited = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  if (next_to_take_ >= requests_.size()) throw std::logic_error("BatchLoader::next: no batch left in the epoch");
  if (workers_.empty()) {
    Batch batch = make(next_to_take_++);
    wait_seconds_ += waited();
    return batch;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  made_.wait(lock, [&] { return ready_.count(next_to_take_) > 0; });
  Made made = std::move(ready_.at(next_to_take_));
  ready_.erase(next_to_take_++);
  lock.unlock();
  taken_.notify_all();
  wait_seconds_ += waited();
  if (made.error) std::rethrow_exception(made.error);
  return std::move(made.batch);
}

}  // namespace trainer::data

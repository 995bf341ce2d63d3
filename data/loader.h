#pragma once
// The batches of an epoch, prepared ahead of the training step. With `workers` = 0 a batch is made
// when the step asks for it, in the step's thread (DataLoader's num_workers=0); with K > 0, K
// threads make whole batches, in order of need, at most `prefetch` batches ahead of the step, so
// memory stays bounded whatever the data set's size. A batch is a pure function of its indices and
// the epoch (Dataset::batch), so the batches are bit-identical whatever K is; an error while
// making one is thrown by next() when the step reaches that batch, as without workers.

#include "data/dataset.h"

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace trainer::data {

struct BatchRequest {
  const std::int64_t* indices;  // into memory that outlives the loader
  std::int64_t count;
};

class BatchLoader {
 public:
  BatchLoader(const Dataset& data, std::vector<BatchRequest> requests, std::int64_t epoch, std::int64_t workers,
              std::int64_t prefetch);
  ~BatchLoader();  // stops the workers after the batches they are making
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch in request order; blocks until it is ready.
  Batch next();
  // Seconds next() spent waiting for batches (without workers: making them).
  double wait_seconds() const { return wait_seconds_; }

 private:
  struct Made {
    Batch batch;
    std::exception_ptr error;
  };
  Batch make(std::size_t request) const;
  void work();

  const Dataset& data_;
  const std::vector<BatchRequest> requests_;
  const std::int64_t epoch_;
  const std::size_t prefetch_;
  std::mutex mutex_;
  std::condition_variable made_, taken_;
  std::map<std::size_t, Made> ready_;  // made, not yet taken
  std::size_t next_to_make_ = 0, next_to_take_ = 0;
  bool stopping_ = false;
  double wait_seconds_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace trainer::data

// The stream discipline of side-stream work (NCCL's overlapped allreduce, GPU snapshots), driven
// through a fake that records what a CUDA implementation would be asked to do.

#include "streams/device_streams.h"
#include "streams/host_streams.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace {

using trainer::streams::DeviceStreams;
using trainer::streams::SideStreamJob;
using trainer::streams::Stream;
using trainer::streams::StreamEvent;

const char* name(Stream s) { return s == Stream::kSide ? "side" : "compute"; }

class RecordingStreams : public DeviceStreams {
 public:
  class Event : public StreamEvent {
   public:
    Event(std::string label, std::vector<std::string>& log) : label_(std::move(label)), log_(log) {}
    bool completed() const override { return done; }
    void synchronize() const override { log_.push_back("host waits for " + label_); }
    const std::string& label() const { return label_; }
    bool done = false;

   private:
    std::string label_;
    std::vector<std::string>& log_;
  };

  std::shared_ptr<StreamEvent> record(Stream s) override {
    auto event = std::make_shared<Event>(std::string(name(s)) + " event " + std::to_string(events.size()), log);
    log.push_back("record " + event->label());
    events.push_back(event);
    return event;
  }
  void wait(Stream waiter, const StreamEvent& event) override {
    log.push_back(std::string(name(waiter)) + " waits for " + static_cast<const Event&>(event).label());
  }
  void used_on_side(const torch::Tensor& tensor) override {
    log.push_back("in use on side: " + std::to_string(tensor.numel()) + " elements");
  }
  void on_side(const std::function<void()>& enqueue) override {
    log.push_back("side current");
    enqueue();
    log.push_back("compute current");
  }

  std::vector<std::string> log;
  std::vector<std::shared_ptr<Event>> events;
};

TEST(SideStreamJob, RunsAfterTheComputeStreamAndNeverMakesTheHostWait) {
  RecordingStreams streams;
  SideStreamJob job(streams, {torch::zeros({6}), torch::zeros({2})}, [&] { streams.log.push_back("allreduce"); });
  const std::vector<std::string> launched{"record compute event 0",
                                          "side waits for compute event 0",
                                          "in use on side: 6 elements",
                                          "in use on side: 2 elements",
                                          "side current",
                                          "allreduce",
                                          "compute current",
                                          "record side event 1"};
  EXPECT_EQ(streams.log, launched);
  EXPECT_FALSE(job.completed());
  streams.events[1]->done = true;
  EXPECT_TRUE(job.completed());

  job.make_compute_wait();
  job.make_compute_wait();  // once is enough
  std::vector<std::string> waited = launched;
  waited.push_back("compute waits for side event 1");
  EXPECT_EQ(streams.log, waited);  // no "host waits": the host went on

  job.synchronize();
  EXPECT_EQ(streams.log.back(), "host waits for side event 1");
}

TEST(SideStreamJob, OnTheHostEverythingHasHappenedInOrder) {
  trainer::streams::HostStreams streams;
  torch::Tensor source = torch::arange(4, torch::kFloat32), copy = torch::zeros({4});
  SideStreamJob job(streams, {source}, [&] { copy.copy_(source, /*non_blocking=*/true); });
  EXPECT_TRUE(job.completed());
  EXPECT_TRUE(torch::equal(copy, source));
  auto on_cpu = trainer::streams::make_device_streams(torch::kCPU);
  EXPECT_TRUE(on_cpu->record(Stream::kSide)->completed());
}

}  // namespace

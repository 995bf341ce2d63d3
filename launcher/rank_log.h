#pragma once
// The log stream of one rank: rank 0 writes to standard output as it is; other ranks write nothing,
// or with --verbose every line prefixed with "[rank R] ".

#include <ostream>
#include <streambuf>
#include <string>

namespace trainer::launcher {

class RankLog {
 public:
  RankLog(std::ostream& out, int rank, bool verbose);
  std::ostream& stream() { return stream_; }

 private:
  class PrefixBuffer : public std::streambuf {
   public:
    PrefixBuffer(std::streambuf* target, std::string prefix, bool enabled)
        : target_(target), prefix_(std::move(prefix)), enabled_(enabled) {}

   protected:
    int overflow(int c) override;
    int sync() override { return enabled_ ? target_->pubsync() : 0; }

   private:
    std::streambuf* target_;
    std::string prefix_;
    bool enabled_;
    bool at_line_start_ = true;
  };

  PrefixBuffer buffer_;
  std::ostream stream_;
};

}  // namespace trainer::launcher

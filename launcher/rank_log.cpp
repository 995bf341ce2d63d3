#include "launcher/rank_log.h"

namespace trainer::launcher {

RankLog::RankLog(std::ostream& out, int rank, bool verbose)
    : buffer_(out.rdbuf(), rank == 0 ? "" : "[rank " + std::to_string(rank) + "] ", rank == 0 || verbose),
      stream_(&buffer_) {}

int RankLog::PrefixBuffer::overflow(int c) {
  if (!enabled_ || c == traits_type::eof()) return traits_type::not_eof(c);
  if (at_line_start_ && !prefix_.empty())
    target_->sputn(prefix_.data(), static_cast<std::streamsize>(prefix_.size()));
  at_line_start_ = c == '\n';
  return target_->sputc(static_cast<char>(c));
}

}  // namespace trainer::launcher

#pragma once
// `trainer info`: what a user (or a bug report) needs to know about this build and this machine.

#include <ostream>

namespace trainer::launcher {

void print_info(std::ostream& out);

}  // namespace trainer::launcher

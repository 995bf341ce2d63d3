// trainer's entry point: the only place that turns exceptions into messages and exit statuses.
//   0  success
//   1  internal failure (a bug, a library error, a failed collective)
//   2  bad input: option, value, data file, checkpoint; one line on stderr names it

#include "common/error.h"
#include "launcher/cli.h"
#include "trainer/train.h"

#include <c10/util/Exception.h>

#include <iostream>
#include <string>
#include <vector>

namespace {

constexpr int kExitInternal = 1;
constexpr int kExitBadInput = 2;

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

int run(const std::vector<std::string>& args) {
  using trainer::launcher::Action;
  const trainer::launcher::Command command = trainer::launcher::parse_command_line(args);
  switch (command.action) {
    case Action::kVersion:
      std::cout << trainer::launcher::version_text() << std::endl;
      return 0;
    case Action::kHelp:
      std::cout << command.help_text;
      return 0;
    case Action::kTrain:
      trainer::run_training(command.train, std::cout);
      return 0;
  }
  return kExitInternal;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  try {
    return run(args);
  } catch (const trainer::InputError& e) {
    std::cerr << "trainer: error: " << e.what() << std::endl;
    return kExitBadInput;
  } catch (const trainer::Error& e) {
    std::cerr << "trainer: error: " << e.what() << std::endl;
    return kExitInternal;
  } catch (const c10::Error& e) {
    std::cerr << "trainer: error: " << first_line(e.what_without_backtrace()) << std::endl;
    return kExitInternal;
  } catch (const std::exception& e) {
    std::cerr << "trainer: error: " << e.what() << std::endl;
    return kExitInternal;
  }
}

#pragma once
// A value as a person writes it, for --help, --print-config and messages: a double as the
// shortest text that reads back as the same number (0.9, not 0.90000000000000002; 600, not 6e+02),
// a list comma-separated, anything else as a stream prints it. Header-only and torch-free.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace trainer {

inline std::string as_written(double value) {
  char text[32];
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
    return text;
  }
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

template <typename T>
std::string as_written(const T& value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

template <typename T>
std::string as_written(const std::vector<T>& values) {
  std::string text;
  for (const auto& value : values) text += (text.empty() ? "" : ",") + as_written(value);
  return text;
}

}  // namespace trainer

// Helpers shared by the tessctl integration tests.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#ifndef TESSCTL_BIN
#error "TESSCTL_BIN must be defined by the build"
#endif

namespace tessera::testing {

inline std::string firstLine(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

/// Each line without its last whitespace-separated column (and trailing spaces).
inline std::string withoutLastColumn(const std::string& s) {
  std::istringstream in(s);
  std::string line, out;
  while (std::getline(in, line)) {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    auto sp = line.find_last_of(' ');
    line = sp == std::string::npos ? std::string() : line.substr(0, sp);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

/// Runs of spaces as one.
inline std::string collapseSpaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  return out;
}

/// The first column of each line.
inline std::vector<std::string> names(const std::string& s) {
  std::istringstream in(s);
  std::string line;
  std::vector<std::string> out;
  while (std::getline(in, line)) out.push_back(line.substr(0, line.find(' ')));
  return out;
}

}  // namespace tessera::testing

#include "traffic/metrics/prometheus_text.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace tessera::traffic {
namespace {

bool nameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool nameChar(char c) {
  return nameStart(c) || (c >= '0' && c <= '9');
}

void skipBlanks(std::string_view line, std::size_t& i) {
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
}

bool parseValue(std::string_view token, double& out) {
  if (token == "NaN") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (token == "+Inf" || token == "Inf") {
    out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (token == "-Inf") {
    out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (token.empty()) return false;
  std::string s(token);
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && errno != ERANGE;
}

// Parses one sample line; false when malformed.
bool parseLine(std::string_view line, Sample& out) {
  std::size_t i = 0;
  skipBlanks(line, i);
  if (i >= line.size() || !nameStart(line[i])) return false;
  std::size_t start = i;
  while (i < line.size() && nameChar(line[i])) ++i;
  out.name = std::string(line.substr(start, i - start));
  out.labels.clear();
  skipBlanks(line, i);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      skipBlanks(line, i);
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      if (i >= line.size() || !nameStart(line[i])) return false;
      std::size_t ls = i;
      while (i < line.size() && nameChar(line[i])) ++i;
      std::string label(line.substr(ls, i - ls));
      skipBlanks(line, i);
      if (i >= line.size() || line[i] != '=') return false;
      ++i;
      skipBlanks(line, i);
      if (i >= line.size() || line[i] != '"') return false;
      ++i;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i >= line.size()) return false;
          char e = line[i++];
          if (e == 'n')
            value += '\n';
          else if (e == '\\' || e == '"')
            value += e;
          else
            return false;
        } else {
          value += c;
        }
      }
      if (!closed) return false;
      out.labels[std::move(label)] = std::move(value);
      skipBlanks(line, i);
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      return false;
    }
  }
  skipBlanks(line, i);
  std::size_t vs = i;
  while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
  if (!parseValue(line.substr(vs, i - vs), out.value)) return false;
  skipBlanks(line, i);
  if (i < line.size()) {  // an optional timestamp (milliseconds), ignored
    std::size_t ts = i;
    if (line[i] == '-') ++i;
    if (i >= line.size()) return false;
    while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i;
    if (i == ts) return false;
    skipBlanks(line, i);
    if (i < line.size()) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<Sample>> parsePrometheusText(std::string_view text) {
  std::vector<Sample> out;
  std::size_t pos = 0;
  std::size_t lineNo = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t i = 0;
    skipBlanks(line, i);
    if (i == line.size() || line[i] == '#') continue;
    Sample s;
    if (!parseLine(line, s)) {
      return invalidArgument("malformed Prometheus text at line " + std::to_string(lineNo));
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tessera::traffic

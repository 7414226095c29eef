#include "common/quantity.h"

#include <cctype>
#include <cmath>
#include <string>
#include <utility>

namespace tessera {
namespace {

// Value as a long double, or nullopt when malformed or negative.
std::optional<long double> value(std::string_view q) {
  if (q.empty() || q.size() > 64) return std::nullopt;
  std::size_t i = 0;
  while (i < q.size() && (std::isdigit(static_cast<unsigned char>(q[i])) || q[i] == '.')) ++i;
  std::string_view number = q.substr(0, i);
  std::string_view suffix = q.substr(i);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.')) return std::nullopt;
  long double v = std::stold(std::string(number));
  long double mult = 1;
  if (suffix.empty())
    mult = 1;
  else if (suffix == "n")
    mult = 1e-9L;
  else if (suffix == "u")
    mult = 1e-6L;
  else if (suffix == "m")
    mult = 1e-3L;
  else if (suffix == "k")
    mult = 1e3L;
  else if (suffix == "M")
    mult = 1e6L;
  else if (suffix == "G")
    mult = 1e9L;
  else if (suffix == "T")
    mult = 1e12L;
  else if (suffix == "P")
    mult = 1e15L;
  else if (suffix == "E")
    mult = 1e18L;
  else if (suffix == "Ki")
    mult = 1024.0L;
  else if (suffix == "Mi")
    mult = 1024.0L * 1024;
  else if (suffix == "Gi")
    mult = 1024.0L * 1024 * 1024;
  else if (suffix == "Ti")
    mult = 1024.0L * 1024 * 1024 * 1024;
  else if (suffix == "Pi")
    mult = 1024.0L * 1024 * 1024 * 1024 * 1024;
  else if (suffix == "Ei")
    mult = 1024.0L * 1024 * 1024 * 1024 * 1024 * 1024;
  else if ((suffix[0] == 'e' || suffix[0] == 'E') && suffix.size() > 1) {
    std::string_view exp = suffix.substr(1);
    std::size_t start = (exp[0] == '+' || exp[0] == '-') ? 1 : 0;
    if (start >= exp.size() || exp.size() > 4) return std::nullopt;
    for (std::size_t k = start; k < exp.size(); ++k) {
      if (!std::isdigit(static_cast<unsigned char>(exp[k]))) return std::nullopt;
    }
    mult = std::pow(10.0L, std::stoi(std::string(exp)));
  } else {
    return std::nullopt;
  }
  return v * mult;
}

std::optional<std::int64_t> toInt(long double v) {
  v = std::ceil(v - 1e-9L);
  if (v < 0 || v > 9.2e18L) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

}  // namespace

std::optional<std::int64_t> parseQuantityMilli(std::string_view q) {
  auto v = value(q);
  if (!v) return std::nullopt;
  return toInt(*v * 1000);
}

std::optional<std::int64_t> parseQuantity(std::string_view q) {
  auto v = value(q);
  if (!v) return std::nullopt;
  return toInt(*v);
}

std::string formatMilli(std::int64_t millis) {
  if (millis % 1000 == 0) return std::to_string(millis / 1000);
  return std::to_string(millis) + "m";
}

std::string formatBytes(std::int64_t bytes) {
  static constexpr std::pair<const char*, std::int64_t> kUnits[] = {
      {"Ti", std::int64_t{1} << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}};
  if (bytes != 0) {
    for (const auto& [suffix, size] : kUnits) {
      if (bytes % size == 0) return std::to_string(bytes / size) + suffix;
    }
  }
  return std::to_string(bytes);
}

}  // namespace tessera

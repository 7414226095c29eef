#include "common/buckets.h"

#include <algorithm>
#include <charconv>

namespace tessera {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool parseInt(std::string_view s, int& out) {
  s = trim(s);
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

Result<std::vector<int>> parseBuckets(std::string_view text, int count) {
  std::vector<int> out;
  if (trim(text).empty()) return out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view part = trim(text.substr(start, comma - start));
    const std::string quoted = "\"" + std::string(part) + "\"";
    int lo = 0;
    int hi = 0;
    const std::size_t dash = part.find('-');
    if (dash == std::string_view::npos) {
      if (!parseInt(part, lo)) return invalidArgument(quoted + ": not a bucket number or range");
      hi = lo;
    } else if (!parseInt(part.substr(0, dash), lo) || !parseInt(part.substr(dash + 1), hi)) {
      return invalidArgument(quoted + ": a range is FIRST-LAST");
    } else if (hi < lo) {
      return invalidArgument(quoted + ": a range must go upwards");
    }
    if (lo < 0 || hi >= count) {
      return invalidArgument(quoted + ": buckets are 0 to " + std::to_string(count - 1));
    }
    for (int b = lo; b <= hi; ++b) out.push_back(b);
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string formatBuckets(std::vector<int> buckets) {
  std::sort(buckets.begin(), buckets.end());
  buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
  std::string out;
  for (std::size_t i = 0; i < buckets.size();) {
    std::size_t j = i;
    while (j + 1 < buckets.size() && buckets[j + 1] == buckets[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(buckets[i]);
    if (j > i) out += "-" + std::to_string(buckets[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace tessera

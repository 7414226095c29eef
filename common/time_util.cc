#include "common/time_util.h"

#include <cstdio>
#include <ctime>
#include <limits>

namespace tessera {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

int daysInMonth(int year, int mon) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return mon == 2 && leap ? 29 : kDays[mon - 1];
}

std::string format(SystemTime t, bool micro) {
  using namespace std::chrono;
  auto secs = time_point_cast<seconds>(t);
  if (secs > t) secs -= seconds(1);  // floor for times before the epoch
  std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  if (micro) {
    auto us = duration_cast<microseconds>(t - secs).count();
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(us));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return buf;
}

}  // namespace

std::string formatRfc3339(SystemTime t) {
  return format(t, false);
}
std::string formatRfc3339Micro(SystemTime t) {
  return format(t, true);
}

std::optional<SystemTime> parseRfc3339(std::string_view s) {
  int year, mon, day, hour, min, sec;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mon) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, min) || s[16] != ':' ||
      !digits(s, 17, 2, sec)) {
    return std::nullopt;
  }
  // system_clock counts nanoseconds in 64 bits: it cannot represent years outside about
  // 1678-2262, and we would rather refuse such times than wrap them around.
  if (year < 1678 || year > 2261) return std::nullopt;
  if (mon < 1 || mon > 12 || day < 1 || day > daysInMonth(year, mon) || hour > 23 || min > 59 ||
      sec > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::chrono::microseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    long long v = 0;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) {
        v = v * 10 + (s[pos] - '0');
        ++n;
      }
      ++pos;
    }
    if (n == 0) return std::nullopt;
    while (n++ < 6) v *= 10;
    frac = std::chrono::microseconds(v);
  }
  if (pos >= s.size()) return std::nullopt;
  long offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (oh * 3600L + om * 60L) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  std::time_t tt = timegm(&tm);
  return std::chrono::system_clock::from_time_t(tt - offset) + frac;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  long long n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (n > 1'000'000'000'000LL) return std::nullopt;
    n = n * 10 + (s[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = s.substr(i);
  long long msPerUnit;
  if (unit.empty() || unit == "s")
    msPerUnit = 1000;
  else if (unit == "ms")
    msPerUnit = 1;
  else if (unit == "m")
    msPerUnit = 60 * 1000;
  else if (unit == "h")
    msPerUnit = 3600 * 1000;
  else if (unit == "d")
    msPerUnit = 24 * 3600 * 1000;
  else
    return std::nullopt;
  if (n > std::numeric_limits<long long>::max() / msPerUnit) return std::nullopt;
  return std::chrono::milliseconds(n * msPerUnit);
}

std::string humanAge(std::chrono::seconds age) {
  long long s = age.count();
  if (s < 0) s = 0;
  char buf[32];
  if (s < 120)
    std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600 * 2)
    std::snprintf(buf, sizeof buf, "%lldm", s / 60);
  else if (s < 86400 * 2)
    std::snprintf(buf, sizeof buf, "%lldh", s / 3600);
  else if (s < 86400 * 365 * 2)
    std::snprintf(buf, sizeof buf, "%lldd", s / 86400);
  else
    std::snprintf(buf, sizeof buf, "%lldy", s / (86400 * 365));
  return buf;
}

}  // namespace tessera

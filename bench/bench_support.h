// What the load generators in bench/ share (library tessera_bench_support): latency summaries,
// the report's number formatting, and what /proc says about the processes under test. Plain
// C++ and POSIX: the HTTP client they share is bench/http_connection.h.
//
// Thread safety: every function here is a free function without shared state; any thread may
// call it.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tessera::bench {

using Clock = std::chrono::steady_clock;

/// Milliseconds from `a` to `b` (negative when `b` comes first).
double msBetween(Clock::time_point a, Clock::time_point b);

// ---- statistics ----

/// A sample's nearest-rank percentiles, maximum and mean (all 0 when it is empty). Each bench
/// prints the figures it needs.
struct Summary {
  std::size_t count = 0;
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;
};

Summary summarize(std::vector<double> v);

// ---- report formatting ----

/// `v` with `decimals` digits after the point (printf "%.*f").
std::string fixed(double v, int decimals);

/// `s` padded with spaces to `width` characters: right-aligned when `right`, else left-aligned.
/// A longer `s` is returned whole.
std::string pad(const std::string& s, std::size_t width, bool right);

// ---- what /proc says (Linux) ----

/// utime + stime of a process, in seconds (nullopt when it is gone).
std::optional<double> processCpuSeconds(int pid);

/// CPU seconds of a process and of its children (PostgreSQL: the postmaster and its backends),
/// per pid; empty when `root` <= 0. A window's figure is treeCpuBetween() of two of these.
std::map<int, double> processTreeCpu(int root);

/// The CPU seconds used between two processTreeCpu() samples: the sum of the differences per
/// pid (a process that started in between counts in full).
double treeCpuBetween(const std::map<int, double>& before, const std::map<int, double>& after);

/// User + system CPU time of this process, in seconds.
double selfCpuSeconds();

/// Raises this process's soft limit on open files to the hard limit (every simulated agent or
/// proxy holds a socket). Returns the soft limit then in force; 0 when it cannot be read.
rlim_t raiseOpenFileLimit();

}  // namespace tessera::bench

// A parser for the Prometheus text exposition format (version 0.0.4), as tessera-proxy's admin
// /stats serves it. Pure: no I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera::traffic {

/// One sample line: `name{label="value",...} value [timestamp]`.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// Every sample of `text`, in order. Comments (`# HELP`, `# TYPE`, others) and blank lines are
/// skipped; label values are unescaped (\\, \", \n); values may be NaN, +Inf, -Inf; a timestamp
/// after the value is ignored. kInvalidArgument naming the line number on a malformed line.
Result<std::vector<Sample>> parsePrometheusText(std::string_view text);

}  // namespace tessera::traffic

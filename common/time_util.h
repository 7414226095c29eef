// Time formatting as the Kubernetes API uses it (RFC 3339, UTC).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

using SystemTime = std::chrono::system_clock::time_point;

/// "2026-11-27T07:34:35Z" (Kubernetes Time: whole seconds).
std::string formatRfc3339(SystemTime t);
/// "2026-11-27T07:34:35.123456Z" (Kubernetes MicroTime).
std::string formatRfc3339Micro(SystemTime t);
/// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)". nullopt when malformed.
std::optional<SystemTime> parseRfc3339(std::string_view s);

/// Parses a duration: "90s", "5m", "1h", "2d", "250ms", or a plain number of seconds.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view s);

/// Short human age as kubectl prints it: "45s", "12m", "5h", "3d", "2y".
std::string humanAge(std::chrono::seconds age);

}  // namespace tessera

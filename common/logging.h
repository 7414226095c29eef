// Logging: one named spdlog logger per component, all sharing one sink (stderr).
//
// Messages are written as logfmt-style "key=value" pairs after a short event name, e.g.
//   log->info("watch started resource={} rv={}", plural, rv);
// Secrets (tokens, passwords, connection strings with passwords) are never passed to a logger.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

namespace tessera {

/// Configures the shared sink and the level ("trace".."critical", "off"). Call once from main
/// before any logger is used; safe to call again (tests).
void initLogging(std::string_view level);

/// The logger for a component ("http", "storage", "watch", ...), created on first use.
/// Thread-safe.
std::shared_ptr<spdlog::logger> getLogger(const std::string& component);

/// Removes the password from a libpq connection string or URI, for log lines.
std::string redactConnectionString(std::string_view conninfo);

}  // namespace tessera

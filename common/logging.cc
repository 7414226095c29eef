#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <regex>

namespace tessera {
namespace {

std::mutex g_mu;
spdlog::sink_ptr g_sink;  // guarded by g_mu
spdlog::level::level_enum g_level = spdlog::level::info;

spdlog::sink_ptr sinkLocked() {
  if (!g_sink) {
    g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    g_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v", spdlog::pattern_time_type::utc));
  }
  return g_sink;
}

}  // namespace

void initLogging(std::string_view level) {
  std::lock_guard lock(g_mu);
  g_level = spdlog::level::from_str(std::string(level));
  sinkLocked();
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(g_level); });
}

std::shared_ptr<spdlog::logger> getLogger(const std::string& component) {
  std::lock_guard lock(g_mu);
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = std::make_shared<spdlog::logger>(component, sinkLocked());
  logger->set_level(g_level);
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

std::string redactConnectionString(std::string_view conninfo) {
  std::string s(conninfo);
  // key=value form: password=secret
  static const std::regex kv(R"((password\s*=\s*)('[^']*'|\S+))", std::regex::icase);
  s = std::regex_replace(s, kv, "$1***");
  // URI form: postgresql://user:secret@host/db
  static const std::regex uri(R"(^(postgres(?:ql)?://[^:/@]+:)[^@]*@)", std::regex::icase);
  s = std::regex_replace(s, uri, "$1***@");
  return s;
}

}  // namespace tessera

// The tessctl commands. Each takes the Session and its options, prints its result to
// session.out() and problems to session.err(), and returns the exit code (exit_code.h).
// main.cc declares the command line (CLI11) and calls these.
#pragma once

#include <string>
#include <vector>

#include "cli/exit_code.h"

namespace tessera::cli {

class Session;

struct GetOptions {
  std::string kinds;  // "cells" or "cells,shardmaps"
  std::vector<std::string> names;
  bool allNamespaces = false;
  std::string selector;          // -l
  std::string fieldSelector;     // --field-selector
  std::string output = "table";  // table | wide | json | yaml | name
  bool watch = false;
  std::string watchTimeout;  // --watch-timeout: end the watch after this long (exit 0)
  bool noHeaders = false;
};
ExitCode runGet(Session& s, const GetOptions& o);

struct DescribeOptions {
  std::string kind, name;
};
ExitCode runDescribe(Session& s, const DescribeOptions& o);

struct ApplyOptions {
  std::vector<std::string> files;  // "-" is stdin
  bool dryRun = false;
};
ExitCode runApply(Session& s, const ApplyOptions& o);

struct DeleteOptions {
  std::string kind;
  std::vector<std::string> names;
  bool ignoreNotFound = false;
};
ExitCode runDelete(Session& s, const DeleteOptions& o);

struct LogsOptions {
  std::string replica;
  int tail = 100;
};
ExitCode runLogs(Session& s, const LogsOptions& o);

struct ShardMapShowOptions {
  std::string name = "default";
  std::string output = "table";  // table | json | yaml
};
ExitCode runShardMapShow(Session& s, const ShardMapShowOptions& o);

struct ShardMapMoveOptions {
  std::string buckets;  // "40-49,55"
  std::string to;
  std::string name = "default";
  std::string reason;
  bool dryRun = false;
  bool wait = false;
  std::string timeout = "60s";
};
ExitCode runShardMapMove(Session& s, const ShardMapMoveOptions& o);

struct ProxiesStatusOptions {
  std::string output = "table";  // table | json | yaml
};
ExitCode runProxiesStatus(Session& s, const ProxiesStatusOptions& o);

/// The completion script for `shell` ("bash" or "zsh"); "" for another shell.
std::string completionScript(const std::string& shell);

}  // namespace tessera::cli

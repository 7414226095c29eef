// Linux process plumbing for the process runtime: starting a replica process, telling a live
// process from a reused pid, pidfds, reaping, log files and free ports.
//
// Internal to federation/runtime. Every function here is thread-safe and none blocks for long.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tessera::runtime {

struct SpawnRequest {
  std::vector<std::string> argv;  // argv[0] is looked up in the PATH of `env` when it has no '/'
  std::vector<std::pair<std::string, std::string>> env;  // the whole environment
  std::string workDir;                                   // must exist
  std::string logPath;  // stdout and stderr, opened O_APPEND by the child; stdin is /dev/null
};

/// Starts `request` as a new process group (pgid = pid) with default signal dispositions and
/// an empty signal mask. The error message is what a human needs, e.g.
/// "exec \"app\": No such file or directory".
Result<pid_t> spawnProcess(const SpawnRequest& request);

/// The start time of a live process, in clock ticks since boot (/proc/<pid>/stat field 22);
/// nullopt when there is no such process or it is a zombie.
std::optional<std::uint64_t> processStartTicks(pid_t pid);

/// This boot's id (/proc/sys/kernel/random/boot_id), or "" if unreadable.
std::string bootId();

/// pidfd_open(2): a descriptor (O_CLOEXEC) that becomes readable when the process exits, or -1.
int openPidfd(pid_t pid);

/// How a process ended.
struct ExitInfo {
  std::optional<int> code;  // exit code, or 128+signal; nullopt when unknown
  std::string description;  // "exited with code 3", "killed by signal 9 (Killed)"
};

/// Reaps the exited process behind `pidfd` if it is a child of this process and says how it
/// ended; a process that is not our child (started by a previous agent) cannot be waited for:
/// its exit code is unknown.
ExitInfo reapExited(int pidfd);

/// The last `n` lines of the log at `path`, reading `path`.1 (its previous part) when `path`
/// has fewer. A last line without a newline counts. Lines longer than 64 KiB are cut.
std::vector<std::string> tailLog(const std::string& path, int n);

/// When the file at `path` is larger than `maxBytes`: copies it to `path`.1 and truncates it
/// (the writer, appending, carries on at the start). Returns whether it rotated.
bool rotateLogIfLarger(const std::string& path, std::uint64_t maxBytes);

/// Whether a TCP listener could bind `host`:`port` now (no SO_REUSEADDR: a port still in
/// TIME_WAIT counts as busy).
bool tcpPortFree(const std::string& host, std::uint16_t port);

/// Online CPUs and MemTotal of this host.
int onlineCpus();
std::int64_t totalMemoryBytes();

}  // namespace tessera::runtime

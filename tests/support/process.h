// Child processes for tests: real binaries (tessera-server, PostgreSQL tools, kubectl).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tessera::testing {

struct CommandResult {
  int exitCode = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

/// Runs `argv` to completion (at most `timeout`; killed after). `env` entries "K=V" are added.
CommandResult runCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {},
                         std::chrono::seconds timeout = std::chrono::seconds(120),
                         const std::string& stdinData = "");

/// A process running in the background, its output appended to `logFile`.
class Process {
 public:
  static std::unique_ptr<Process> spawn(const std::vector<std::string>& argv,
                                        const std::string& logFile,
                                        const std::vector<std::string>& env = {});
  ~Process();  // SIGKILL if still running

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  /// Exit code (128+signal if killed by one), or nullopt if still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::optional<int> status_;
};

/// A fresh directory under /tmp, removed (recursively) by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "tessera-test");
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& content);

/// The process id a pid file (or a PostgreSQL postmaster.pid) starts with; 0 if none.
pid_t readPidFile(const std::string& path);

/// Whether process `pid` has not exited, whoever its parent is (a zombie has exited).
bool processRuns(pid_t pid);
/// The last `lines` lines of a file (for failure messages).
std::string tailFile(const std::string& path, int lines = 40);

}  // namespace tessera::testing

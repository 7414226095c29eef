#include "federation/runtime/host_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tessera::runtime {
namespace {

constexpr std::size_t kMaxLineBytes = 64 * 1024;
constexpr int kMaxTailLines = 100000;

std::string envValue(const std::vector<std::pair<std::string, std::string>>& env,
                     const std::string& name) {
  std::string value;
  for (const auto& [k, v] : env) {
    if (k == name) value = v;  // the last one wins, as in the environment block
  }
  return value;
}

bool isExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// execvp's search, but in the PATH the child will have rather than ours. Returns the path to
// execute, or the errno execvp would have reported.
std::pair<std::string, int> resolveExecutable(const SpawnRequest& r) {
  const std::string& name = r.argv[0];
  if (name.find('/') != std::string::npos) return {name, 0};
  std::string path = envValue(r.env, "PATH");
  if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
  int error = ENOENT;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    std::string checked = candidate.front() == '/' ? candidate : r.workDir + "/" + candidate;
    if (isExecutableFile(checked)) return {checked, 0};
    if (::access(checked.c_str(), F_OK) == 0) error = EACCES;
    start = end + 1;
  }
  return {"", error};
}

std::string execError(const std::string& command, int error) {
  return "exec \"" + command + "\": " + std::strerror(error);
}

// Reads up to `n` lines from the end of `path`, without reading more of it than n long lines.
std::vector<std::string> tailFile(const std::string& path, int n) {
  std::vector<std::string> lines;
  if (n <= 0) return lines;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lines;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return lines;
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  // Reads backwards until n+1 newlines (n lines, and the end of the line before them) are in,
  // or the start of the file, or enough bytes for n lines of the maximum length.
  const std::uint64_t budget = static_cast<std::uint64_t>(n + 1) * kMaxLineBytes;
  std::string data;
  std::uint64_t pos = size;
  std::size_t newlines = 0;
  constexpr std::size_t kChunk = 64 * 1024;
  while (pos > 0 && size - pos < budget) {
    std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, pos));
    pos -= len;
    std::string chunk(len, '\0');
    ssize_t got = ::pread(fd, chunk.data(), len, static_cast<off_t>(pos));
    if (got <= 0) break;
    chunk.resize(static_cast<std::size_t>(got));
    newlines += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
    data.insert(0, chunk);
    if (newlines > static_cast<std::size_t>(n)) break;
  }
  ::close(fd);
  const bool fromStart = pos == 0;
  std::vector<std::string> all;
  std::size_t start = 0;
  while (start < data.size()) {
    std::size_t nl = data.find('\n', start);
    if (nl == std::string::npos) nl = data.size();
    all.push_back(data.substr(start, std::min(nl - start, kMaxLineBytes)));
    start = nl + 1;
  }
  // Without the start of the file, the first piece may be the tail of a longer line.
  if (!fromStart && !all.empty()) all.erase(all.begin());
  const std::size_t keep = std::min<std::size_t>(all.size(), static_cast<std::size_t>(n));
  lines.assign(std::make_move_iterator(all.end() - static_cast<std::ptrdiff_t>(keep)),
               std::make_move_iterator(all.end()));
  return lines;
}

}  // namespace

Result<pid_t> spawnProcess(const SpawnRequest& r) {
  if (r.argv.empty() || r.argv[0].empty()) return invalidArgument("no command to run");
  auto [exe, error] = resolveExecutable(r);
  if (error != 0) return Status(StatusCode::kFailedPrecondition, execError(r.argv[0], error));

  std::vector<char*> argv;
  for (const auto& a : r.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> envStrings;
  envStrings.reserve(r.env.size());
  for (const auto& [k, v] : r.env) envStrings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : envStrings) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, r.logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawn_file_actions_addchdir_np(&actions, r.workDir.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);  // a new group, led by the child
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);  // e.g. our SIGPIPE SIG_IGN must not leak

  pid_t pid = 0;
  int rc = posix_spawn(&pid, exe.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status(StatusCode::kFailedPrecondition, execError(r.argv[0], rc));
  return pid;
}

std::optional<std::uint64_t> processStartTicks(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields restart after
  // the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return std::nullopt;
    if (i == 3 && (field == "Z" || field == "X" || field == "x")) return std::nullopt;
  }
  try {
    return std::stoull(field);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string bootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

int openPidfd(pid_t pid) {
  // Not the glibc 2.36 wrapper: its <sys/pidfd.h> lacks extern "C".
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

ExitInfo reapExited(int pidfd) {
  ExitInfo out;
  siginfo_t info{};
  int rc = ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
  if (rc == 0 && info.si_pid == 0) {
    // Readable but not yet waitable cannot last: wait for it.
    rc = ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED);
  }
  if (rc != 0) {
    out.description = "exited (exit code unknown: started by a previous agent)";
    return out;
  }
  if (info.si_code == CLD_EXITED) {
    out.code = info.si_status;
    out.description = "exited with code " + std::to_string(info.si_status);
  } else {
    out.code = 128 + info.si_status;
    out.description = "killed by signal " + std::to_string(info.si_status) + " (" +
                      ::strsignal(info.si_status) + ")";
  }
  return out;
}

std::vector<std::string> tailLog(const std::string& path, int n) {
  n = std::min(n, kMaxTailLines);
  std::vector<std::string> lines = tailFile(path, n);
  if (static_cast<int>(lines.size()) < n) {
    std::vector<std::string> older = tailFile(path + ".1", n - static_cast<int>(lines.size()));
    lines.insert(lines.begin(), std::make_move_iterator(older.begin()),
                 std::make_move_iterator(older.end()));
  }
  return lines;
}

bool rotateLogIfLarger(const std::string& path, std::uint64_t maxBytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) <= maxBytes) {
    return false;
  }
  std::error_code ec;
  std::filesystem::copy_file(path, path + ".1", std::filesystem::copy_options::overwrite_existing,
                             ec);
  // Even when the copy failed (disk full?), the bound on the log matters more than its content.
  return ::truncate(path.c_str(), 0) == 0;
}

bool tcpPortFree(const std::string& host, std::uint16_t port) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  } else {
    // A host name: the port must be free on every address.
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  ::close(fd);
  return ok;
}

int onlineCpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

std::int64_t totalMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  std::int64_t value = 0;
  while (in >> key >> value) {
    std::getline(in, unit);
    if (key == "MemTotal:") return value * 1024;  // "MemTotal:  24570084 kB"
  }
  return 0;
}

}  // namespace tessera::runtime

#include "mesh/proxy/hot_restart.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "common/logging.h"

namespace tessera::mesh::proxy {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

constexpr int kProtocolVersion = 1;
constexpr std::size_t kMaxMessage = 4096;
constexpr std::size_t kMaxSockets = 4096;  // per handover; far above any real config

using Clock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> logger() {
  static auto log = getLogger("hot_restart");
  return log;
}

std::string errnoText(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

std::vector<std::string_view> splitTabs(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    auto pos = s.find('\t');
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

template <typename T>
std::optional<T> parseNumber(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool validField(std::string_view s) {
  return s.size() < 1024 && s.find('\t') == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

sockaddr_un unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

/// Waits until `fd` (or `wake`, if >= 0) is readable, or the deadline. Returns 1 if `fd` is
/// readable (or hung up), 0 on timeout, -1 if woken (stop requested) or poll failed.
int waitReadable(int fd, int wake, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return 0;
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake, POLLIN, 0}};
    int n = ::poll(fds, wake >= 0 ? 2 : 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (wake >= 0 && fds[1].revents != 0) return -1;
    if (fds[0].revents != 0) return 1;
  }
}

Status sendMessage(int fd, std::string_view text, int passFd = -1) {
  if (text.size() > kMaxMessage) return internalError("hot restart message too long");
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (passFd >= 0) {
    std::memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &passFd, sizeof(int));
  }
  while (true) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n >= 0) return Status::ok();
    if (errno == EINTR) continue;
    return unavailable(errnoText("hot restart sendmsg", errno));
  }
}

struct Message {
  std::string text;
  UniqueFd fd;  // attached fd, if any
  bool eof = false;
};

/// Receives one message, waiting at most until `deadline` (or until `wake` fires).
Result<Message> receiveMessage(int fd, int wake, Clock::time_point deadline) {
  int ready = waitReadable(fd, wake, deadline);
  if (ready == 0) return Status(StatusCode::kDeadlineExceeded, "hot restart peer did not answer");
  if (ready < 0) return Status(StatusCode::kUnavailable, "hot restart stopped");
  char buf[kMaxMessage + 1];
  iovec iov{buf, sizeof(buf)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return unavailable(errnoText("hot restart recvmsg", errno));
  Message out;
  // Every fd that arrived is owned here first, so that nothing leaks on a protocol error.
  std::vector<UniqueFd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int f;
        std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds.emplace_back(f);
      }
    }
  }
  if (n == 0 && fds.empty()) {
    out.eof = true;
    return out;
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    return internalError("hot restart message truncated");
  }
  if (fds.size() > 1) return internalError("hot restart message carries more than one fd");
  if (!fds.empty()) out.fd = std::move(fds.front());
  out.text.assign(buf, static_cast<std::size_t>(n));
  return out;
}

bool isListeningSocket(int fd) {
  int accepting = 0;
  socklen_t len = sizeof(accepting);
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0) return false;
  return accepting != 0;
}

}  // namespace

struct HotRestart::Impl {
  Options options;

  // Child side.
  bool takeOverCalled = false;
  UniqueFd parentConn;  // the connection to the parent, kept until destruction

  // Parent side.
  UniqueFd listenFd;
  UniqueFd wake;  // eventfd: stop() wakes the thread
  dev_t pathDev = 0;
  ino_t pathIno = 0;
  std::atomic<bool> drained{false};
  std::atomic<bool> stopping{false};
  std::thread thread;
  bool serving = false;
  bool stopped = false;
  ListenerFdProvider provider;
  std::function<void()> onDrain;
  UniqueFd childConn;  // the child that sent DRAIN: closed when this process exits

  Clock::time_point deadline() const { return Clock::now() + options.timeout; }

  /// Binds PATH atomically: a temporary name, then rename() over PATH. Records the inode so that
  /// stop() removes only our own socket file.
  Status bindPath() {
    struct stat st {};
    if (::lstat(options.path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
      return Status(StatusCode::kFailedPrecondition,
                    "hot restart path exists and is not a socket: " + options.path);
    }
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return internalError(errnoText("hot restart socket", errno));
    std::string tmp = options.path + "." + std::to_string(::getpid()) + ".tmp";
    bool direct = tmp.size() >= sizeof(sockaddr_un::sun_path);
    const std::string& bindPathName = direct ? options.path : tmp;
    ::unlink(bindPathName.c_str());
    sockaddr_un addr = unixAddress(bindPathName);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return unavailable(errnoText(("hot restart bind " + bindPathName).c_str(), errno));
    }
    ::chmod(bindPathName.c_str(), 0600);  // only this user may take our sockets
    if (::listen(fd.get(), 8) != 0) {
      int err = errno;
      ::unlink(bindPathName.c_str());
      return unavailable(errnoText("hot restart listen", err));
    }
    if (!direct && ::rename(tmp.c_str(), options.path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return unavailable(errnoText(("hot restart rename to " + options.path).c_str(), err));
    }
    if (::stat(options.path.c_str(), &st) != 0) {
      return unavailable(errnoText("hot restart stat", errno));
    }
    pathDev = st.st_dev;
    pathIno = st.st_ino;
    listenFd = std::move(fd);
    return Status::ok();
  }

  bool pathIsOurs() const {
    struct stat st {};
    return ::stat(options.path.c_str(), &st) == 0 && st.st_dev == pathDev && st.st_ino == pathIno;
  }

  void run() {
    while (!drained.load()) {
      int ready = waitReadable(listenFd.get(), wake.get(), Clock::now() + std::chrono::hours(1));
      if (ready < 0) return;
      if (ready == 0) continue;
      UniqueFd conn(::accept4(listenFd.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn.valid()) {
        if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
        logger()->error("hot restart accept failed error=\"{}\"", std::strerror(errno));
        return;
      }
      if (serveChild(conn) && drained.load()) {
        childConn = std::move(conn);
        // The child owns PATH now: nobody should reach this socket any more.
        listenFd.reset();
        return;
      }
      if (stopping.load()) return;
      if (!pathIsOurs() && !drained.load()) {
        // A child replaced PATH and then went away without DRAIN: take PATH back.
        Status s = bindPath();
        if (!s.isOk()) {
          logger()->error("hot restart rebind failed error=\"{}\"", s.message());
        } else {
          logger()->warn("hot restart child left without draining us; path taken back path={}",
                         options.path);
        }
      }
    }
  }

  /// One child session. Returns true if the child asked us to drain.
  bool serveChild(const UniqueFd& conn) {
    auto hello = receiveMessage(conn.get(), wake.get(), deadline());
    if (!hello.isOk() || hello->eof) return false;
    auto f = splitTabs(hello->text);
    if (f.size() != 3 || f[0] != "HELLO") {
      (void)sendMessage(conn.get(), "ERROR\tbad hello");
      return false;
    }
    if (f[1] != std::to_string(kProtocolVersion)) {
      (void)sendMessage(conn.get(), "ERROR\tprotocol version " + std::string(f[1]) +
                                        " not supported (this process speaks " +
                                        std::to_string(kProtocolVersion) + ")");
      return false;
    }
    std::string childPid(f[2]);
    std::vector<ListenerSocket> sockets = provider ? provider() : std::vector<ListenerSocket>{};
    std::size_t sent = 0;
    for (const ListenerSocket& s : sockets) {
      if (!s.fd.valid() || !validField(s.listener) || !validField(s.address)) {
        logger()->error("hot restart provider gave a bad socket listener={}", s.listener);
        continue;
      }
      std::string text = "SOCKET\t" + s.listener + "\t" + s.address + "\t" +
                         std::to_string(s.port) + "\t" + std::to_string(s.worker);
      if (!sendMessage(conn.get(), text, s.fd.get()).isOk()) return false;
      ++sent;
    }
    sockets.clear();  // closes our duplicates
    if (!sendMessage(conn.get(), "END\t" + std::to_string(sent)).isOk()) return false;
    logger()->info("hot restart sockets passed child_pid={} sockets={}", childPid, sent);

    // Wait for DRAIN for as long as the child lives: it may take a while to start its workers.
    while (true) {
      auto msg = receiveMessage(conn.get(), wake.get(), Clock::now() + std::chrono::hours(1));
      if (!msg.isOk()) {
        if (msg.status().code() == StatusCode::kDeadlineExceeded) continue;
        return false;
      }
      if (msg->eof) {
        logger()->warn("hot restart child went away before asking us to drain child_pid={}",
                       childPid);
        return false;
      }
      if (msg->text != "DRAIN") {
        (void)sendMessage(conn.get(), "ERROR\texpected DRAIN");
        return false;
      }
      drained.store(true);
      logger()->info("hot restart drain requested child_pid={}", childPid);
      if (onDrain) onDrain();
      (void)sendMessage(conn.get(), "DRAINING");
      return true;
    }
  }
};

HotRestart::HotRestart(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HotRestart::~HotRestart() {
  stop();
}

Result<std::unique_ptr<HotRestart>> HotRestart::create(Options options) {
  if (options.path.empty()) return invalidArgument("hot restart socket path is empty");
  if (options.path.size() >= sizeof(sockaddr_un::sun_path)) {
    return invalidArgument("hot restart socket path longer than " +
                           std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                           " bytes: " + options.path);
  }
  if (options.path.find('\0') != std::string::npos) {
    return invalidArgument("hot restart socket path contains NUL");
  }
  if (options.timeout.count() <= 0) return invalidArgument("hot restart timeout must be > 0");
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  return std::unique_ptr<HotRestart>(new HotRestart(std::move(impl)));
}

const std::string& HotRestart::path() const {
  return impl_->options.path;
}

bool HotRestart::hasParent() const {
  return impl_->parentConn.valid();
}

Result<std::vector<ListenerSocket>> HotRestart::takeOverFromParent() {
  Impl& d = *impl_;
  if (d.takeOverCalled) {
    return Status(StatusCode::kFailedPrecondition, "takeOverFromParent called twice");
  }
  d.takeOverCalled = true;
  std::vector<ListenerSocket> sockets;

  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return internalError(errnoText("hot restart socket", errno));
  // A blocking connect on AF_UNIX honours SO_SNDTIMEO when the parent's backlog is full.
  timeval tv{};
  tv.tv_sec = d.options.timeout.count() / 1000;
  tv.tv_usec = static_cast<suseconds_t>((d.options.timeout.count() % 1000) * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_un addr = unixAddress(d.options.path);
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) {
      logger()->info("hot restart no parent; starting fresh path={}", d.options.path);
      return sockets;
    }
    return unavailable(errnoText(("hot restart connect " + d.options.path).c_str(), errno));
  }
  Status s = sendMessage(
      fd.get(), "HELLO\t" + std::to_string(kProtocolVersion) + "\t" + std::to_string(::getpid()));
  if (!s.isOk()) return s;

  auto deadline = d.deadline();
  while (true) {
    auto msg = receiveMessage(fd.get(), -1, deadline);
    if (!msg.isOk()) return msg.status();
    if (msg->eof) return unavailable("hot restart parent closed the connection during handover");
    auto f = splitTabs(msg->text);
    if (f[0] == "ERROR") {
      return Status(StatusCode::kFailedPrecondition,
                    "hot restart parent refused: " + std::string(f.size() > 1 ? f[1] : ""));
    }
    if (f[0] == "SOCKET") {
      if (f.size() != 5) return internalError("hot restart: malformed SOCKET message");
      auto port = parseNumber<uint16_t>(f[3]);
      auto worker = parseNumber<uint32_t>(f[4]);
      if (!port || !worker || !msg->fd.valid()) {
        return internalError("hot restart: malformed SOCKET message: " + msg->text);
      }
      if (!isListeningSocket(msg->fd.get())) {
        return internalError("hot restart: parent passed a socket that is not listening: " +
                             msg->text);
      }
      if (sockets.size() >= kMaxSockets) return internalError("hot restart: too many sockets");
      ListenerSocket ls;
      ls.listener = std::string(f[1]);
      ls.address = std::string(f[2]);
      ls.port = *port;
      ls.worker = *worker;
      ls.fd = std::move(msg->fd);
      sockets.push_back(std::move(ls));
      continue;
    }
    if (f[0] == "END" && f.size() == 2) {
      auto count = parseNumber<std::size_t>(f[1]);
      if (!count || *count != sockets.size()) {
        return internalError("hot restart: parent announced " + std::string(f[1]) +
                             " sockets, received " + std::to_string(sockets.size()));
      }
      break;
    }
    return internalError("hot restart: unexpected message: " + msg->text);
  }
  d.parentConn = std::move(fd);
  logger()->info("hot restart sockets inherited path={} sockets={}", d.options.path,
                 sockets.size());
  return sockets;
}

Status HotRestart::serve(ListenerFdProvider provider, std::function<void()> onDrainRequested) {
  Impl& d = *impl_;
  if (d.serving) return Status(StatusCode::kFailedPrecondition, "serve called twice");
  d.wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!d.wake.valid()) return internalError(errnoText("hot restart eventfd", errno));
  Status s = d.bindPath();
  if (!s.isOk()) return s;
  d.provider = std::move(provider);
  d.onDrain = std::move(onDrainRequested);
  d.serving = true;
  d.thread = std::thread([&d] { d.run(); });
  logger()->info("hot restart serving path={}", d.options.path);
  return Status::ok();
}

Status HotRestart::drainParent() {
  Impl& d = *impl_;
  if (!d.parentConn.valid()) return Status::ok();
  Status s = sendMessage(d.parentConn.get(), "DRAIN");
  if (!s.isOk()) return s;
  auto msg = receiveMessage(d.parentConn.get(), -1, d.deadline());
  if (!msg.isOk()) return msg.status();
  if (msg->eof) return unavailable("hot restart parent closed the connection before DRAINING");
  if (msg->text != "DRAINING") {
    return internalError("hot restart: parent answered " + msg->text + " to DRAIN");
  }
  logger()->info("hot restart parent draining");
  return Status::ok();
}

bool HotRestart::waitForParentExit(std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  if (!d.parentConn.valid()) return true;
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto msg = receiveMessage(d.parentConn.get(), -1, deadline);
    if (!msg.isOk()) {
      if (msg.status().code() == StatusCode::kDeadlineExceeded) return false;
      // A reset also means the parent is gone.
      d.parentConn.reset();
      return true;
    }
    if (msg->eof) {
      d.parentConn.reset();
      return true;
    }
    // Anything else from a draining parent is ignored.
  }
}

void HotRestart::stop() {
  Impl& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  if (d.thread.joinable()) {
    d.stopping.store(true);
    uint64_t one = 1;
    ssize_t n = ::write(d.wake.get(), &one, sizeof(one));
    (void)n;
    d.thread.join();
  }
  if (d.serving && !d.drained.load() && d.listenFd.valid() && d.pathIsOurs()) {
    ::unlink(d.options.path.c_str());
  }
  d.listenFd.reset();
  d.childConn.reset();
  d.parentConn.reset();
}

}  // namespace tessera::mesh::proxy

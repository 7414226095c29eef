// Hot restart: a new tessera-proxy process takes the listening sockets of the running one over a
// Unix domain socket (`--hot-restart-socket PATH`), then tells it to drain. No connection is
// refused during the swap: the listening sockets are never closed, only passed on (SCM_RIGHTS
// duplicates refer to the same kernel socket and accept queue).
//
// Protocol (docs/proxy-hot-restart.md). PATH is an AF_UNIX SOCK_SEQPACKET socket: one message is
// one datagram of at most 4 KiB of UTF-8 text, fields separated by '\t', on a connection that
// keeps message boundaries and order.
//
//   new (child)                                   running (parent, serving PATH)
//   connect(PATH)  ── ENOENT/ECONNREFUSED ──► no parent: start normally
//   "HELLO\t1\t<pid>"                        ──►
//                                            ◄──  "SOCKET\t<listener>\t<address>\t<port>\t<worker>"
//                                                 (one per listening socket, its fd attached
//                                                 with SCM_RIGHTS; address as in the config)
//                                            ◄──  "END\t<count>"
//   ... the child starts its workers and accepts on the inherited sockets ...
//   serve(): binds PATH.<pid>.tmp and rename()s it over PATH (atomic: a third process always
//   finds a listener at PATH; the parent's socket file is simply replaced)
//   "DRAIN"                                  ──►  parent: onDrainRequested() — stop accepting,
//                                            ◄──  "DRAINING"  finish in-flight requests, exit
//   the connection stays open; the parent's exit closes it (waitForParentExit()).
//
//   Errors: the parent answers "ERROR\t<reason>" (protocol version mismatch, malformed
//   message) and closes that connection. A child that dies before DRAIN changes nothing: the parent keeps serving
//   (and, if the child had already replaced PATH, binds PATH again).
//   The parent serves one child at a time and only until a DRAIN: then it closes its listening
//   Unix socket (the child has replaced PATH by then if it called serve() first).
//   A parent never unlinks PATH once it has been asked to drain, and on a normal exit only if
//   PATH is still its own socket file (same inode).
//
// The child must accept on EVERY inherited socket until it exits: a SO_REUSEPORT group hashes
// new connections over all its sockets, so a socket nobody accepts on (or that the last holder
// closes) loses the connections queued on it. If the child has fewer workers than the parent
// had, give some workers more than one acceptor; if more, open new SO_REUSEPORT sockets for
// the extra workers. Close only inherited sockets of listeners the new config no longer has.
//
// No Asio here: plain fds. Errors are Status values; nothing throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace tessera::mesh::proxy {

/// A file descriptor owned by this object (closed on destruction). Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  /// Gives up ownership: the caller closes the returned fd.
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

/// One listening socket, as passed between processes: the listener it belongs to (name,
/// address and port as written in the config) and the worker that accepted on it.
struct ListenerSocket {
  std::string listener;  // the config's listener name (informational; match on address:port)
  std::string address;   // the config's address literal, e.g. "0.0.0.0", "127.0.0.1", "::"
  uint16_t port = 0;     // the bound port (never 0: the actual port when the config said 0)
  uint32_t worker = 0;   // index of the worker that accepted on it in the sending process
  UniqueFd fd;           // a listening TCP socket (SO_REUSEPORT set, O_NONBLOCK state as sent)
};

/// Called on the HotRestart thread when a child asks for the sockets. Returns every listening
/// socket of the process, each fd a dup() the HotRestart owns and closes after sending (so a
/// listener closed concurrently by a config change can never make us send a stale fd number).
/// Must be thread-safe with respect to the workers (typically: a mutex-guarded registry that
/// workers fill when they open an acceptor).
using ListenerFdProvider = std::function<std::vector<ListenerSocket>()>;

/// One endpoint of the hot restart protocol, parent side and child side in one object: every
/// process is first a possible child (takeOverFromParent) and then the parent of the next one
/// (serve).
///
/// Threads: create/takeOverFromParent/serve/drainParent/waitForParentExit/stop are called from
/// one thread (main). serve() starts one background thread that runs the parent side; the
/// provider and onDrainRequested run on it. Destruction stops that thread (joins).
class HotRestart {
 public:
  struct Options {
    std::string path;                          // the Unix socket path (at most 107 bytes)
    std::chrono::milliseconds timeout{10000};  // each protocol step (connect, reply, ack)
  };

  /// Validates the options (path length). Does no I/O.
  static Result<std::unique_ptr<HotRestart>> create(Options options);
  ~HotRestart();

  HotRestart(const HotRestart&) = delete;
  HotRestart& operator=(const HotRestart&) = delete;

  /// Child side, blocking (bounded by Options::timeout per step). Connects to PATH:
  ///  - nobody serves PATH (no file, or a stale socket file): returns an empty vector and
  ///    hasParent() stays false: start normally;
  ///  - a parent answers: returns its listening sockets (ownership passes to the caller) and
  ///    keeps the connection for drainParent(); hasParent() is true.
  /// Errors: a parent that answers ERROR, breaks the protocol or times out. The caller should
  /// then exit rather than start next to a parent that keeps accepting.
  /// REQUIRES: called at most once, before serve().
  Result<std::vector<ListenerSocket>> takeOverFromParent();
  bool hasParent() const;

  /// Parent side: binds PATH (atomically replacing an existing socket file: bind to a temporary
  /// name, then rename) and starts the thread that answers children. `provider` lists the
  /// sockets to pass; `onDrainRequested` is called once, when a child sends DRAIN (after the
  /// child has its sockets): stop accepting, finish in-flight work, exit. It runs on the
  /// HotRestart thread: post to your own loop and return quickly.
  /// REQUIRES: called at most once.
  Status serve(ListenerFdProvider provider, std::function<void()> onDrainRequested);

  /// Child side, after the new process accepts on the inherited sockets (and, preferably,
  /// after serve()): sends DRAIN and waits for DRAINING. No-op (ok) without a parent.
  Status drainParent();

  /// Child side, after drainParent(): waits until the parent process has exited (its end of
  /// the connection closes). Returns true if it did within `timeout`. No parent → true.
  bool waitForParentExit(std::chrono::milliseconds timeout);

  /// Stops serving (joins the thread) and removes PATH if it is still this process's socket.
  /// Idempotent; the destructor calls it. After a DRAIN, PATH is never removed (the child owns
  /// it).
  void stop();

  const std::string& path() const;

 private:
  struct Impl;
  explicit HotRestart(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::mesh::proxy

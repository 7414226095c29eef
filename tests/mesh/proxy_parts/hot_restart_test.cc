// Hot restart with real Unix and TCP sockets: two (and three) HotRestart endpoints in one test
// process stand for the old and the new proxy. A client keeps connecting during the handover
// and every connection must be answered — by the old owner before the drain, by the new one
// after it, none refused.
#include "mesh/proxy/hot_restart.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "tests/support/wait.h"

namespace tessera::mesh::proxy {
namespace {

using namespace std::chrono_literals;
using tessera::testing::waitFor;

std::string tempDir() {
  return "/tmp/tessera-hr-" + std::to_string(::getpid());
}

std::string tempSocketPath(const std::string& name) {
  // Short: sun_path is 108 bytes.
  std::filesystem::create_directories(tempDir());
  return tempDir() + "/" + name + ".sock";
}

class HotRestartTest : public ::testing::Test {
 protected:
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(tempDir(), ignored);
  }
};

/// A listening TCP socket on 127.0.0.1 with SO_REUSEPORT; port 0 picks one.
UniqueFd listenTcp(uint16_t port) {
  // Non-blocking: two processes race for each connection on the shared accept queue.
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::listen(fd.get(), SOMAXCONN), 0);
  return fd;
}

uint16_t portOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

std::pair<dev_t, ino_t> identity(int fd) {
  struct stat st {};
  ::fstat(fd, &st);
  return {st.st_dev, st.st_ino};
}

/// Accepts on some listening fds (not owned) and answers each connection's first byte with
/// `tag`, until stop(). After stop() returns it never calls accept again.
class TagServer {
 public:
  TagServer(std::vector<int> fds, char tag) : fds_(std::move(fds)), tag_(tag) {
    thread_ = std::thread([this] { run(); });
  }
  ~TagServer() { stop(); }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t accepted() const { return accepted_; }

 private:
  void run() {
    while (running_) {
      std::vector<pollfd> pfds;
      for (int fd : fds_) pfds.push_back({fd, POLLIN, 0});
      if (::poll(pfds.data(), pfds.size(), 10) <= 0) continue;
      for (const pollfd& p : pfds) {
        if ((p.revents & POLLIN) == 0 || !running_) continue;
        int conn = ::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (conn < 0) continue;  // another acceptor took it (shared queue)
        ++accepted_;
        pollfd c{conn, POLLIN, 0};
        char byte;
        if (::poll(&c, 1, 5000) == 1 && ::read(conn, &byte, 1) == 1) {
          ssize_t n = ::write(conn, &tag_, 1);
          (void)n;
        }
        ::close(conn);
      }
    }
  }

  std::vector<int> fds_;
  char tag_;
  std::atomic<bool> running_{true};
  std::atomic<uint64_t> accepted_{0};
  std::thread thread_;
};

/// Connects again and again (bounded in count and time), sends one byte and records who answered.
class Client {
 public:
  explicit Client(uint16_t port) : port_(port) {
    thread_ = std::thread([this] { run(); });
  }
  ~Client() { stop(); }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t answeredBy(char tag) const { return tag == 'P' ? parent_ : child_; }
  uint64_t failures() const { return failures_; }
  std::string lastError() {
    std::lock_guard<std::mutex> lock(mu_);
    return lastError_;
  }

 private:
  void run() {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    for (int i = 0; i < 200000 && running_ && std::chrono::steady_clock::now() < deadline; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(port_);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      char reply = 0;
      std::string error;
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        error = std::string("connect: ") + std::strerror(errno);
      } else if (::write(fd, "x", 1) != 1) {
        error = std::string("write: ") + std::strerror(errno);
      } else if (::read(fd, &reply, 1) != 1) {
        error = std::string("read: ") + std::strerror(errno);
      }
      ::close(fd);
      if (reply == 'P') {
        ++parent_;
      } else if (reply == 'C') {
        ++child_;
      } else {
        ++failures_;
        std::lock_guard<std::mutex> lock(mu_);
        lastError_ = error.empty() ? "unexpected reply" : error;
      }
    }
  }

  uint16_t port_;
  std::atomic<bool> running_{true};
  std::atomic<uint64_t> parent_{0}, child_{0}, failures_{0};
  std::mutex mu_;
  std::string lastError_;
  std::thread thread_;
};

/// The old proxy: two worker sockets on one port, a server answering 'P', a HotRestart serving.
struct OldProcess {
  std::vector<UniqueFd> sockets;
  std::unique_ptr<TagServer> server;
  std::unique_ptr<HotRestart> restart;
  std::atomic<int> drainRequests{0};
  std::atomic<int> providerCalls{0};

  explicit OldProcess(const std::string& path) {
    sockets.push_back(listenTcp(0));
    sockets.push_back(listenTcp(portOf(sockets[0].get())));
    server = std::make_unique<TagServer>(std::vector<int>{sockets[0].get(), sockets[1].get()}, 'P');
    auto created = HotRestart::create({path, 5000ms});
    EXPECT_TRUE(created.isOk()) << created.status().toString();
    restart = std::move(created).value();
    auto inherited = restart->takeOverFromParent();
    EXPECT_TRUE(inherited.isOk());
    EXPECT_TRUE(inherited->empty());
    EXPECT_FALSE(restart->hasParent());
    Status s = restart->serve(
        [this] {
          ++providerCalls;
          std::vector<ListenerSocket> out;
          for (std::size_t i = 0; i < sockets.size(); ++i) {
            ListenerSocket ls;
            ls.listener = "public";
            ls.address = "127.0.0.1";
            ls.port = port();
            ls.worker = static_cast<uint32_t>(i);
            ls.fd = UniqueFd(::dup(sockets[i].get()));
            out.push_back(std::move(ls));
          }
          return out;
        },
        [this] {
          // What the proxy does: stop accepting (the sockets stay valid for the child), let
          // in-flight work finish, then close its copies.
          server->stop();
          sockets.clear();
          ++drainRequests;
        });
    EXPECT_TRUE(s.isOk()) << s.toString();
  }
  uint16_t port() const { return portOf(sockets.empty() ? -1 : sockets[0].get()); }
};

TEST_F(HotRestartTest, CreateRejectsBadPaths) {
  EXPECT_FALSE(HotRestart::create({"", 1000ms}).isOk());
  EXPECT_FALSE(HotRestart::create({std::string(200, 'a'), 1000ms}).isOk());
}

TEST_F(HotRestartTest, NoParentStartsFreshAndOwnsThePath) {
  std::string path = tempSocketPath("fresh");
  ::unlink(path.c_str());
  auto restart = HotRestart::create({path, 2000ms});
  ASSERT_TRUE(restart.isOk());
  auto inherited = (*restart)->takeOverFromParent();
  ASSERT_TRUE(inherited.isOk()) << inherited.status().toString();
  EXPECT_TRUE(inherited->empty());
  EXPECT_FALSE((*restart)->hasParent());
  EXPECT_TRUE((*restart)->drainParent().isOk());  // no parent: no-op
  ASSERT_TRUE((*restart)->serve([] { return std::vector<ListenerSocket>{}; }, [] {}).isOk());
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  (*restart)->stop();
  EXPECT_NE(::lstat(path.c_str(), &st), 0) << "stop() removes its own socket file";
}

TEST_F(HotRestartTest, StaleSocketFileMeansNoParent) {
  std::string path = tempSocketPath("stale");
  ::unlink(path.c_str());
  {
    // A socket file nobody listens on any more (a crashed proxy).
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  auto restart = HotRestart::create({path, 2000ms});
  ASSERT_TRUE(restart.isOk());
  auto inherited = (*restart)->takeOverFromParent();
  ASSERT_TRUE(inherited.isOk()) << inherited.status().toString();
  EXPECT_TRUE(inherited->empty());
  ASSERT_TRUE((*restart)->serve([] { return std::vector<ListenerSocket>{}; }, [] {}).isOk());
  auto child = HotRestart::create({path, 2000ms});
  auto again = (*child)->takeOverFromParent();
  ASSERT_TRUE(again.isOk()) << again.status().toString();
  EXPECT_TRUE((*child)->hasParent()) << "the stale file was replaced by a live socket";
}

TEST_F(HotRestartTest, RefusesToReplaceANonSocketFile) {
  std::string path = tempSocketPath("regular");
  ::unlink(path.c_str());
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  auto restart = HotRestart::create({path, 2000ms});
  ASSERT_TRUE(restart.isOk());
  Status s = (*restart)->serve([] { return std::vector<ListenerSocket>{}; }, [] {});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.toString();
  ::unlink(path.c_str());
}

TEST_F(HotRestartTest, SocketsPassWithoutRefusingAConnectionAndTheParentDrains) {
  std::string path = tempSocketPath("handover");
  ::unlink(path.c_str());
  OldProcess old(path);
  uint16_t port = old.port();
  auto oldIdentity = identity(old.sockets[0].get());

  Client client(port);
  ASSERT_TRUE(waitFor([&] { return client.answeredBy('P') >= 50; })) << client.lastError();

  // The new process: takes the sockets over while the client keeps connecting.
  auto created = HotRestart::create({path, 5000ms});
  ASSERT_TRUE(created.isOk());
  std::unique_ptr<HotRestart> fresh = std::move(created).value();
  auto inherited = fresh->takeOverFromParent();
  ASSERT_TRUE(inherited.isOk()) << inherited.status().toString();
  ASSERT_TRUE(fresh->hasParent());
  ASSERT_EQ(inherited->size(), 2u);
  std::vector<ListenerSocket> sockets = std::move(inherited).value();
  for (std::size_t i = 0; i < sockets.size(); ++i) {
    EXPECT_EQ(sockets[i].listener, "public");
    EXPECT_EQ(sockets[i].address, "127.0.0.1");
    EXPECT_EQ(sockets[i].port, port);
    EXPECT_EQ(sockets[i].worker, i);
    EXPECT_EQ(portOf(sockets[i].fd.get()), port);
  }
  // The very same kernel socket, not a new one bound to the same port.
  EXPECT_EQ(identity(sockets[0].fd.get()), oldIdentity);
  EXPECT_EQ(old.drainRequests.load(), 0) << "no drain before the child asks";

  TagServer newServer({sockets[0].fd.get(), sockets[1].fd.get()}, 'C');
  // Both accept for a while: the client sees answers from both.
  ASSERT_TRUE(waitFor([&] { return client.answeredBy('C') >= 20; })) << client.lastError();
  uint64_t parentBefore = client.answeredBy('P');

  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  ASSERT_TRUE(fresh->serve([] { return std::vector<ListenerSocket>{}; }, [] {}).isOk());
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino) << "the new process replaced the socket file";

  Status drained = fresh->drainParent();
  ASSERT_TRUE(drained.isOk()) << drained.toString();
  EXPECT_EQ(old.drainRequests.load(), 1);
  EXPECT_TRUE(old.sockets.empty()) << "the old process closed its copies";

  // After the drain only the new process answers, and still nothing is refused. The old
  // process finished its connection in flight before closing its copies, but the client may
  // not have counted that answer yet: it counts it before its next connection (one at a time),
  // so once the new process has answered again every answer of the old one is counted.
  uint64_t childAtDrain = client.answeredBy('C');
  uint64_t parentAtDrain = client.answeredBy('P');
  ASSERT_TRUE(waitFor([&] { return client.answeredBy('C') > childAtDrain; })) << client.lastError();
  const uint64_t parentSettled = client.answeredBy('P');
  EXPECT_LE(parentSettled, parentAtDrain + 1) << "only the connection in flight at the drain";
  ASSERT_TRUE(waitFor([&] { return client.answeredBy('C') >= childAtDrain + 200; }))
      << client.lastError();
  EXPECT_EQ(client.answeredBy('P'), parentSettled);
  EXPECT_GE(parentAtDrain, parentBefore);

  // The old process exits: the new one sees it, and the path stays the new one's.
  EXPECT_FALSE(fresh->waitForParentExit(1ms));
  old.restart.reset();
  EXPECT_TRUE(fresh->waitForParentExit(5000ms));
  struct stat still {};
  ASSERT_EQ(::stat(path.c_str(), &still), 0)
      << "the old process must not remove the new one's path";
  EXPECT_EQ(still.st_ino, after.st_ino);

  client.stop();
  EXPECT_EQ(client.failures(), 0u) << client.lastError();
  newServer.stop();
}

TEST_F(HotRestartTest, ThreeGenerationsKeepTheSameSocket) {
  std::string path = tempSocketPath("generations");
  ::unlink(path.c_str());
  OldProcess first(path);
  uint16_t port = first.port();
  auto original = identity(first.sockets[0].get());
  Client client(port);
  ASSERT_TRUE(waitFor([&] { return client.answeredBy('P') >= 20; })) << client.lastError();

  std::vector<ListenerSocket> held;  // the second generation's sockets
  std::unique_ptr<TagServer> secondServer;
  auto second = HotRestart::create({path, 5000ms}).value();
  {
    auto inherited = second->takeOverFromParent();
    ASSERT_TRUE(inherited.isOk()) << inherited.status().toString();
    held = std::move(inherited).value();
    ASSERT_EQ(held.size(), 2u);
    secondServer =
        std::make_unique<TagServer>(std::vector<int>{held[0].fd.get(), held[1].fd.get()}, 'C');
  }
  std::atomic<int> secondDrained{0};
  ASSERT_TRUE(second
                  ->serve(
                      [&] {
                        std::vector<ListenerSocket> out;
                        for (const ListenerSocket& s : held) {
                          ListenerSocket copy;
                          copy.listener = s.listener;
                          copy.address = s.address;
                          copy.port = s.port;
                          copy.worker = s.worker;
                          copy.fd = UniqueFd(::dup(s.fd.get()));
                          out.push_back(std::move(copy));
                        }
                        return out;
                      },
                      [&] {
                        secondServer->stop();
                        ++secondDrained;
                      })
                  .isOk());
  ASSERT_TRUE(second->drainParent().isOk());
  first.restart.reset();

  // Third generation takes over from the second.
  auto third = HotRestart::create({path, 5000ms}).value();
  auto inherited = third->takeOverFromParent();
  ASSERT_TRUE(inherited.isOk()) << inherited.status().toString();
  ASSERT_EQ(inherited->size(), 2u);
  EXPECT_EQ(identity((*inherited)[0].fd.get()), original);
  TagServer thirdServer({(*inherited)[0].fd.get(), (*inherited)[1].fd.get()}, 'C');
  ASSERT_TRUE(third->serve([] { return std::vector<ListenerSocket>{}; }, [] {}).isOk());
  ASSERT_TRUE(third->drainParent().isOk());
  EXPECT_EQ(secondDrained.load(), 1);
  held.clear();
  second.reset();
  EXPECT_TRUE(third->waitForParentExit(5000ms));

  uint64_t served = client.answeredBy('C');
  ASSERT_TRUE(waitFor([&] { return client.answeredBy('C') >= served + 100; }))
      << client.lastError();
  client.stop();
  EXPECT_EQ(client.failures(), 0u) << client.lastError();
}

TEST_F(HotRestartTest, ChildThatDiesBeforeDrainLeavesTheParentServing) {
  std::string path = tempSocketPath("dies");
  ::unlink(path.c_str());
  OldProcess old(path);
  {
    auto child = HotRestart::create({path, 5000ms}).value();
    auto inherited = child->takeOverFromParent();
    ASSERT_TRUE(inherited.isOk());
    ASSERT_EQ(inherited->size(), 2u);
    // It even took the path over, then crashed before DRAIN.
    ASSERT_TRUE(child->serve([] { return std::vector<ListenerSocket>{}; }, [] {}).isOk());
  }
  EXPECT_EQ(old.drainRequests.load(), 0);
  // The old process takes its path back and serves the next child.
  ASSERT_TRUE(waitFor([&] {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }));
  auto next = HotRestart::create({path, 5000ms}).value();
  auto inherited = next->takeOverFromParent();
  ASSERT_TRUE(inherited.isOk()) << inherited.status().toString();
  EXPECT_TRUE(next->hasParent());
  EXPECT_EQ(inherited->size(), 2u);
  EXPECT_EQ(old.providerCalls.load(), 2);
}

TEST_F(HotRestartTest, ProtocolVersionMismatchIsRefusedWithAReason) {
  std::string path = tempSocketPath("version");
  ::unlink(path.c_str());
  OldProcess old(path);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string hello = "HELLO\t99\t1";
  ASSERT_EQ(::send(fd.get(), hello.data(), hello.size(), 0), static_cast<ssize_t>(hello.size()));
  char buf[512];
  pollfd p{fd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
  ASSERT_GT(n, 0);
  std::string reply(buf, static_cast<std::size_t>(n));
  EXPECT_EQ(reply.rfind("ERROR\t", 0), 0u) << reply;
  EXPECT_NE(reply.find("protocol version 99"), std::string::npos) << reply;
  EXPECT_EQ(old.providerCalls.load(), 0) << "no socket passed to an incompatible peer";
  EXPECT_EQ(old.drainRequests.load(), 0);
}

}  // namespace
}  // namespace tessera::mesh::proxy

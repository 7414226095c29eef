// Failure behaviour of a real server: PostgreSQL stopped and restarted under load, graceful
// shutdown with open watches, TLS, slow clients, and refusals at start-up.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/apiserver/api_test_util.h"
#include "tests/support/server_instance.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string clusters() {
  return std::string(kApi) + "/clusters";
}

// PostgreSQL stops under write load: requests get 503 with a reason, /readyz fails, nothing
// hangs; when it is back, writes succeed again and every acknowledged write is there.
TEST(ApiResilienceTest, PostgresRestartUnderLoadLosesNoAcknowledgedWrite) {
  auto pg = PostgresInstance::start();
  auto server = ServerInstance::start(*pg);
  std::atomic<bool> stop{false};
  std::atomic<int> unavailable{0}, other{0}, acksAfterRestart{0};
  std::atomic<bool> restarted{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::vector<std::string> unexpected;
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      auto c = server->client();
      for (int i = 0; !stop; ++i) {
        std::string name = "load-" + std::to_string(w) + "-" + std::to_string(i);
        auto r = c.post(clusters(), clusterJson(name));
        std::lock_guard lock(mu);
        if (r.status == 201) {
          acked.push_back(name);
          if (restarted) ++acksAfterRestart;
        } else if (r.status == 503) {
          ++unavailable;
          if (r.body.find("\"reason\":\"ServiceUnavailable\"") == std::string::npos) {
            unexpected.push_back("503 without reason: " + r.body);
          }
          if (r.header("retry-after").empty()) unexpected.push_back("503 without Retry-After");
        } else {
          ++other;
          unexpected.push_back(std::to_string(r.status) + " " + r.error + " " + r.body);
        }
      }
    });
  }
  HttpClient probe(server->endpoint());
  ASSERT_TRUE(waitFor([&] {
    std::lock_guard lock(mu);
    return acked.size() >= 30;
  }));
  pg->stop();
  EXPECT_TRUE(waitFor([&] { return unavailable.load() >= 5; }, seconds(20)));
  EXPECT_TRUE(waitFor([&] { return probe.get("/readyz").status == 503; }, seconds(10)));
  pg->startAgain();
  restarted = true;
  EXPECT_TRUE(waitFor([&] { return probe.get("/readyz").status == 200; }, seconds(30)));
  EXPECT_TRUE(waitFor([&] { return acksAfterRestart.load() >= 30; }, seconds(30)));
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_EQ(other.load(), 0);
  for (const auto& u : unexpected) ADD_FAILURE() << u;

  auto c = server->client();
  std::set<std::string> stored;
  auto list = c.get(clusters()).json();
  for (const auto& it : list.at("items").as_array()) stored.insert(str(it, {"metadata", "name"}));
  for (const auto& name : acked)
    EXPECT_TRUE(stored.count(name)) << "acknowledged but lost: " << name;
  EXPECT_GE(stored.size(), acked.size());
}

// SIGTERM: watches end with a proper last chunk, requests in flight get whole answers, and
// the process exits 0 well within the grace period.
TEST(ApiResilienceTest, GracefulShutdownEndsWatchesCleanly) {
  auto server = ServerInstance::start(sharedPostgres());
  std::vector<std::unique_ptr<StreamReader>> watches;
  for (int i = 0; i < 3; ++i) {
    watches.push_back(std::make_unique<StreamReader>(server->endpoint(), clusters() + "?watch=true",
                                                     server->adminToken()));
    ASSERT_EQ(watches.back()->status(), 200);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::string> broken;
  std::mutex mu;
  std::thread load([&] {
    HttpClient c = server->client();
    while (!stop) {
      auto r = c.get(clusters());
      if (r.status == 200) {
        ++ok;
      } else if (r.status == 0 && r.error.rfind("connect", 0) == 0) {
        ++refused;  // the listener is closed: expected once shutdown begins
      } else {
        std::lock_guard lock(mu);
        broken.push_back(std::to_string(r.status) + " " + r.error);
      }
    }
  });
  ASSERT_TRUE(waitFor([&] { return ok.load() > 20; }));
  const auto t0 = std::chrono::steady_clock::now();
  server->process().signal(SIGTERM);
  for (auto& w : watches) {
    while (w->nextLine(seconds(10))) {
    }
    EXPECT_TRUE(w->ended());
    EXPECT_TRUE(w->endedCleanly()) << "watch was cut instead of ended";
  }
  auto code = server->process().wait(seconds(20));
  stop = true;
  load.join();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(10));
  for (const auto& b : broken) ADD_FAILURE() << "broken response during shutdown: " << b;
  EXPECT_NE(readFile(server->logPath()).find("stopped"), std::string::npos);
}

TEST(ApiResilienceTest, HttpsWithTheServersCa) {
  auto server = ServerInstance::start(sharedPostgres(), [] {
    ServerOptions o;
    o.tls = true;
    return o;
  }());
  auto c = server->client();
  auto r = c.get(clusters());
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(c.post(clusters(), clusterJson("tls-1")).status, 201);
  // Plain HTTP to the TLS port gets nowhere.
  HttpClient plain(Endpoint{"127.0.0.1", server->port(), ""}, server->adminToken());
  EXPECT_NE(plain.get(clusters()).status, 200);
  // A client that does not trust the server's CA fails the handshake.
  TempDir other;
  makeTestCertificates(other.path());
  HttpClient wrongCa(Endpoint{"127.0.0.1", server->port(), other.path() + "/ca.crt"},
                     server->adminToken());
  auto bad = wrongCa.get(clusters());
  EXPECT_EQ(bad.status, 0);
  EXPECT_FALSE(bad.error.empty());
  // The kubeconfig carries the CA.
  EXPECT_NE(readFile(server->kubeconfigPath()).find("certificate-authority-data:"),
            std::string::npos);
  EXPECT_NE(readFile(server->kubeconfigPath()).find("server: https://127.0.0.1:"),
            std::string::npos);
}

TEST(ApiResilienceTest, SlowClientsAreCutOffAtTheHeaderTimeout) {
  auto server =
      ServerInstance::start(sharedPostgres(), ServerOptions::withArgs({"--header-timeout", "1s"}));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string partial = "GET /healthz HTTP/1.1\r\nHost: x\r\n";  // never finished
  ASSERT_EQ(::write(fd, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto t0 = std::chrono::steady_clock::now();
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);  // EOF when the server gives up on us
  const auto waited = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  EXPECT_EQ(n, 0);
  EXPECT_LT(waited, seconds(5));
  EXPECT_EQ(server->client().get("/healthz").status, 200);
}

TEST(ApiResilienceTest, RefusesUnsafeOrImpossibleStarts) {
  TempDir dir;
  auto insecure = runCommand(
      {serverBinary(), "--listen", "0.0.0.0:0", "--db", sharedPostgres().conninfo("postgres")}, {},
      seconds(30));
  EXPECT_EQ(insecure.exitCode, 2);
  EXPECT_NE(insecure.err.find("refusing plain HTTP"), std::string::npos) << insecure.err;

  auto noDb =
      runCommand({serverBinary(), "--listen", "127.0.0.1:0", "--db",
                  "host=" + dir.path() + " port=5432 user=postgres dbname=x connect_timeout=1",
                  "--db-connect-timeout", "2s"},
                 {}, seconds(60));
  EXPECT_EQ(noDb.exitCode, 1);
  EXPECT_NE(noDb.err.find("cannot reach PostgreSQL"), std::string::npos) << noDb.err;

  auto badFlag =
      runCommand({serverBinary(), "--history-retention", "forever", "--db", "x"}, {}, seconds(30));
  EXPECT_EQ(badFlag.exitCode, 2);
  EXPECT_NE(badFlag.err.find("invalid duration"), std::string::npos) << badFlag.err;

  // The connection string's password never reaches the log.
  auto withPassword =
      runCommand({serverBinary(), "--listen", "127.0.0.1:0", "--db",
                  "host=" + dir.path() +
                      " port=5432 user=postgres password=hunter2 dbname=x connect_timeout=1",
                  "--db-connect-timeout", "1s"},
                 {}, seconds(60));
  EXPECT_EQ(withPassword.err.find("hunter2"), std::string::npos) << withPassword.err;
}

}  // namespace
}  // namespace tessera::testing

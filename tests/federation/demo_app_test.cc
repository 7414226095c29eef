// tessera-demo-app as a real process: its identity answer, health, injected failures and
// latency, limits, and a graceful exit on SIGTERM.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/wait.h"

#ifndef TESSERA_DEMO_APP_BIN
#error "TESSERA_DEMO_APP_BIN must be defined by the build"
#endif

namespace tessera::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// One tessera-demo-app process on a free port.
class DemoApp {
 public:
  static std::unique_ptr<DemoApp> start(const std::vector<std::string>& env,
                                        const std::vector<std::string>& args = {}) {
    std::unique_ptr<DemoApp> app(new DemoApp());
    app->dir_ = std::make_unique<TempDir>("tessera-demo");
    const std::string portFile = app->dir_->path() + "/port";
    app->log_ = app->dir_->path() + "/demo.log";
    std::vector<std::string> argv = {TESSERA_DEMO_APP_BIN, "--port", "0", "--port-file", portFile};
    argv.insert(argv.end(), args.begin(), args.end());
    app->process_ = Process::spawn(argv, app->log_, env);
    const bool up = waitFor(
        [&] { return !readFile(portFile).empty() || !app->process_->running(); }, seconds(30));
    if (!up || !app->process_->running()) {
      ADD_FAILURE() << "tessera-demo-app did not start:\n" << tailFile(app->log_);
      return nullptr;
    }
    app->port_ = static_cast<std::uint16_t>(std::stoi(readFile(portFile)));
    return app;
  }

  ~DemoApp() {
    if (::testing::Test::HasFailure()) {
      std::cerr << "--- tessera-demo-app log ---\n" << tailFile(log_) << "\n";
    }
  }

  Endpoint endpoint() const {
    Endpoint ep;
    ep.port = port_;
    return ep;
  }
  HttpClient client() const { return HttpClient(endpoint()); }
  std::uint16_t port() const { return port_; }
  Process& process() { return *process_; }
  std::string log() const { return readFile(log_); }

 private:
  DemoApp() = default;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Process> process_;  // declared after dir_: killed before the dir goes
  std::string log_;
  std::uint16_t port_ = 0;
};

const std::vector<std::string> kIdentityEnv = {
    "TESSERA_APPLICATION=shop",      "TESSERA_NAMESPACE=retail",
    "TESSERA_REVISION=r7",           "TESSERA_CELL=rz01",
    "TESSERA_DATACENTER=dc-east-1",  "TESSERA_CLUSTER=east-1a",
    "TESSERA_REPLICA=shop-r7-rz01-0"};

std::string field(const HttpResult& r, const char* name) {
  return std::string(r.json().as_object().at(name).as_string());
}

TEST(DemoAppTest, AnswersWithItsIdentity) {
  auto app = DemoApp::start(kIdentityEnv);
  ASSERT_TRUE(app);
  auto c = app->client();
  auto r = c.get("/orders/42?verbose=1");
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(field(r, "application"), "shop");
  EXPECT_EQ(field(r, "namespace"), "retail");
  EXPECT_EQ(field(r, "revision"), "r7");
  EXPECT_EQ(field(r, "cell"), "rz01");
  EXPECT_EQ(field(r, "datacenter"), "dc-east-1");
  EXPECT_EQ(field(r, "cluster"), "east-1a");
  EXPECT_EQ(field(r, "replica"), "shop-r7-rz01-0");
  EXPECT_EQ(field(r, "method"), "GET");
  EXPECT_EQ(field(r, "path"), "/orders/42");

  auto p = c.post("/payments", R"({"amount":10})");
  ASSERT_EQ(p.status, 200);
  EXPECT_EQ(field(p, "method"), "POST");
  EXPECT_EQ(field(p, "path"), "/payments");
  // Any other method on the admin path is an ordinary request too.
  auto d = c.del("/admin/faults");
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(field(d, "method"), "DELETE");

  // One line per request on stdout, flushed as it happens.
  EXPECT_TRUE(waitFor([&] {
    std::string log = app->log();
    return log.find("method=GET path=/orders/42?verbose=1 code=200") != std::string::npos &&
           log.find("method=POST path=/payments code=200") != std::string::npos;
  })) << app->log();
  EXPECT_NE(app->log().find("listening address=127.0.0.1 port=" + std::to_string(app->port())),
            std::string::npos);
}

TEST(DemoAppTest, FlagsOverrideTheEnvironment) {
  auto app = DemoApp::start(kIdentityEnv, {"--application", "other", "--latency-ms", "0"});
  ASSERT_TRUE(app);
  auto r = app->client().get("/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(field(r, "application"), "other");
  EXPECT_EQ(field(r, "cell"), "rz01");
}

TEST(DemoAppTest, RefusesInvalidConfiguration) {
  auto r =
      runCommand({TESSERA_DEMO_APP_BIN, "--port", "0"}, {"DEMO_FAIL_PERCENT=101"}, seconds(30));
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("not in range"), std::string::npos) << r.err;
  r = runCommand({TESSERA_DEMO_APP_BIN, "--port", "0", "--latency-ms", "60001"}, {}, seconds(30));
  EXPECT_EQ(r.exitCode, 2);
}

TEST(DemoAppTest, HealthFollowsTheAdminEndpoint) {
  auto app = DemoApp::start(kIdentityEnv);
  ASSERT_TRUE(app);
  auto c = app->client();
  auto h = c.get("/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok");

  auto set = c.post("/admin/faults", R"({"healthy":false})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_FALSE(set.json().as_object().at("healthy").as_bool());
  EXPECT_EQ(c.get("/healthz").status, 503);
  // Unhealthy is only what /healthz says: requests are still served.
  EXPECT_EQ(c.get("/anything").status, 200);

  ASSERT_EQ(c.put("/admin/faults", R"({"healthy":true})").status, 200);
  EXPECT_EQ(c.get("/healthz").status, 200);
}

TEST(DemoAppTest, InjectsFailures) {
  auto app = DemoApp::start(kIdentityEnv, {});
  ASSERT_TRUE(app);
  auto c = app->client();
  ASSERT_EQ(c.post("/admin/faults", R"({"failPercent":100})").status, 200);
  for (int i = 0; i < 20; ++i) {
    auto r = c.get("/checkout");
    ASSERT_EQ(r.status, 500) << r.body;
    EXPECT_EQ(field(r, "error"), "injected failure");
    EXPECT_EQ(field(r, "replica"), "shop-r7-rz01-0");
    EXPECT_EQ(field(r, "path"), "/checkout");
  }
  // Health and the admin endpoint are not subject to faults.
  EXPECT_EQ(c.get("/healthz").status, 200);
  auto f = c.get("/admin/faults");
  ASSERT_EQ(f.status, 200);
  EXPECT_EQ(f.json().as_object().at("failPercent").as_int64(), 100);

  ASSERT_EQ(c.post("/admin/faults", R"({"failPercent":0})").status, 200);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c.get("/checkout").status, 200);

  // A share in between: both answers show up (the chance of not seeing one in 200 is 2^-199).
  ASSERT_EQ(c.post("/admin/faults", R"({"failPercent":50})").status, 200);
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) seen.insert(c.get("/checkout").status);
  EXPECT_EQ(seen, (std::set<int>{200, 500}));
}

TEST(DemoAppTest, FailPercentFromTheEnvironment) {
  auto env = kIdentityEnv;
  env.push_back("DEMO_FAIL_PERCENT=100");
  auto app = DemoApp::start(env);
  ASSERT_TRUE(app);
  auto c = app->client();
  EXPECT_EQ(c.get("/").status, 500);
  auto f = c.get("/admin/faults").json().as_object();
  EXPECT_EQ(f.at("failPercent").as_int64(), 100);
  EXPECT_EQ(f.at("latencyMs").as_int64(), 0);
  EXPECT_TRUE(f.at("healthy").as_bool());
}

TEST(DemoAppTest, RejectsInvalidFaults) {
  auto app = DemoApp::start(kIdentityEnv);
  ASSERT_TRUE(app);
  auto c = app->client();
  for (const char* body :
       {R"({"failPercent":101})", R"({"failPercent":-1})", R"({"failPercent":"10"})",
        R"({"latencyMs":60001})", R"({"latencyMs":1.5})", R"({"healthy":"yes"})",
        R"({"failpercent":1})", R"([1,2])", "not json", ""}) {
    auto r = c.post("/admin/faults", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_FALSE(field(r, "error").empty()) << body;
  }
  // A partly valid update is not applied either.
  EXPECT_EQ(c.post("/admin/faults", R"({"latencyMs":5,"failPercent":1000})").status, 400);
  auto f = c.get("/admin/faults").json().as_object();
  EXPECT_EQ(f.at("failPercent").as_int64(), 0);
  EXPECT_EQ(f.at("latencyMs").as_int64(), 0);
}

TEST(DemoAppTest, AddsLatency) {
  auto env = kIdentityEnv;
  env.push_back("DEMO_LATENCY_MS=300");
  auto app = DemoApp::start(env);
  ASSERT_TRUE(app);
  auto c = app->client();
  EXPECT_EQ(c.get("/admin/faults").json().as_object().at("latencyMs").as_int64(), 300);
  // Only lower bounds: a loaded machine makes everything slower, never faster.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.get("/slow").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(300));

  ASSERT_EQ(c.post("/admin/faults", R"({"latencyMs":600})").status, 200);
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.get("/slower").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(600));
  // Health and the admin endpoint are not delayed (the request log records the time spent).
  EXPECT_EQ(c.get("/healthz").status, 200);
  EXPECT_TRUE(
      waitFor([&] { return app->log().find("path=/healthz code=200 ms=") != std::string::npos; }));
}

TEST(DemoAppTest, RefusesLargeBodies) {
  auto app = DemoApp::start(kIdentityEnv);
  ASSERT_TRUE(app);
  auto c = app->client();
  EXPECT_EQ(c.post("/upload", std::string(60 * 1024, 'x')).status, 200);
  auto r = c.post("/upload", std::string(100 * 1024, 'x'));
  EXPECT_EQ(r.status, 413) << r.error;
  // The server is still fine.
  EXPECT_EQ(app->client().get("/").status, 200);
}

TEST(DemoAppTest, ExitsCleanlyOnSigterm) {
  auto app = DemoApp::start(kIdentityEnv);
  ASSERT_TRUE(app);
  auto c = app->client();
  ASSERT_EQ(c.get("/").status, 200);  // leaves an idle kept-alive connection open
  app->process().signal(SIGTERM);
  EXPECT_EQ(app->process().wait(seconds(30)), 0);
  EXPECT_NE(app->log().find("stopping signal=SIGTERM"), std::string::npos) << app->log();
  EXPECT_NE(app->log().find("stopped"), std::string::npos);
}

TEST(DemoAppTest, ExitsCleanlyOnSigint) {
  auto app = DemoApp::start(kIdentityEnv);
  ASSERT_TRUE(app);
  app->process().signal(SIGINT);
  EXPECT_EQ(app->process().wait(seconds(30)), 0);
}

// Whether the server side of the connection between `serverPort` and `clientPort` has read
// everything the client sent (its receive queue in /proc/net/tcp is empty).
bool serverHasRead(std::uint16_t serverPort, std::uint16_t clientPort) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  char local[64], remote[64];
  while (std::getline(in, line)) {
    unsigned slot = 0, state = 0, txq = 0, rxq = 0;
    if (std::sscanf(line.c_str(), " %u: %63s %63s %x %x:%x", &slot, local, remote, &state, &txq,
                    &rxq) != 6) {
      continue;
    }
    std::string l(local), r(remote);
    auto portOf = [](const std::string& s) {
      return static_cast<std::uint16_t>(std::stoul(s.substr(s.find(':') + 1), nullptr, 16));
    };
    if (portOf(l) == serverPort && portOf(r) == clientPort) return rxq == 0;
  }
  return false;
}

TEST(DemoAppTest, FinishesRequestsInFlightOnSigterm) {
  auto env = kIdentityEnv;
  env.push_back("DEMO_LATENCY_MS=1500");
  auto app = DemoApp::start(env);
  ASSERT_TRUE(app);

  // A raw connection, so that we know when the server has taken the request in.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(app->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = "GET /in-flight HTTP/1.1\r\nHost: test\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  sockaddr_in local{};
  socklen_t len = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  ASSERT_TRUE(waitFor([&] { return serverHasRead(app->port(), ntohs(local.sin_port)); }));

  app->process().signal(SIGTERM);
  std::string response;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK", 0), 0u) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
  EXPECT_NE(response.find("\"path\":\"/in-flight\""), std::string::npos) << response;
  EXPECT_EQ(app->process().wait(seconds(30)), 0);
}

}  // namespace
}  // namespace tessera::testing

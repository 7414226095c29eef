// tessera-proxy as a real process in front of real in-test backends: forwarding, local
// answers, weighted and sticky splits, keep-alive and connection reuse, body framing.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <set>
#include <thread>

#include "tests/mesh/proxy/proxy_test_util.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

std::string endpointYaml(const TestBackend& b, const std::string& revision = "") {
  std::string s = "{address: 127.0.0.1, port: " + std::to_string(b.port());
  if (!revision.empty()) s += ", revision: " + revision;
  return s + "}";
}

class ProxyHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_unique<TestBackend>("a");
    b_ = std::make_unique<TestBackend>("b");
    port_ = freePort();
  }

  std::string config(const std::string& extraRoutes = "") {
    return R"(version: "1"
listeners:
- {name: main, address: 127.0.0.1, port: )" +
           std::to_string(port_) + R"(, routeTable: main}
routeTables:
- name: main
  routes:
)" + extraRoutes +
           R"(
  - name: direct
    match: {path: /direct}
    directResponse: {status: 200, body: "hello from the proxy\n"}
  - name: redirect
    match: {path: /old}
    redirect: {location: "http://example.com/new", status: 301}
  - name: split
    match: {prefix: /split}
    forward:
      targets:
      - {cluster: web, revision: v1, weight: 90}
      - {cluster: web, revision: v2, weight: 10}
  - name: sticky
    match: {prefix: /sticky}
    forward:
      targets:
      - {cluster: web, revision: v1, weight: 50}
      - {cluster: web, revision: v2, weight: 50}
      stickyByUserId: true
  - name: only-a
    match: {prefix: /a}
    forward: {cluster: only-a}
  - name: api
    match: {prefix: /v1/api, methods: [GET, POST, PUT, HEAD]}
    forward: {cluster: only-a}
clusters:
- name: web
  endpoints: [)" +
           endpointYaml(*a_, "v1") + ", " + endpointYaml(*b_, "v2") + R"(]
- name: only-a
  endpoints: [)" +
           endpointYaml(*a_) + R"(]
)";
  }

  std::unique_ptr<TestBackend> a_, b_;
  uint16_t port_ = 0;
};

TEST_F(ProxyHttpTest, ForwardsWithProxyHeadersAndPreservesHost) {
  auto proxy = ProxyProcess::start(config());
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  auto r = c.get("/a/thing?x=1", {{"Connection", "keep-alive, x-secret"},
                                  {"X-Secret", "hop"},
                                  {"Keep-Alive", "timeout=5"},
                                  {"X-Forwarded-For", "10.0.0.1"}});
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "a");
  auto req = a_->lastRequest();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->target, "/a/thing?x=1");
  EXPECT_EQ(req->headers["host"], "127.0.0.1:" + std::to_string(port_));
  EXPECT_EQ(req->headers["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
  EXPECT_EQ(req->headers["x-request-id"].size(), 32u);
  EXPECT_EQ(req->headers.count("x-secret"), 0u) << "listed in Connection: hop-by-hop";
  EXPECT_EQ(req->headers.count("keep-alive"), 0u);

  // A request id from the client is kept.
  r = c.get("/a", {{"X-Request-Id", "abc-123"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(a_->lastRequest()->headers["x-request-id"], "abc-123");
}

TEST_F(ProxyHttpTest, LocalAnswersNoRouteDirectRedirect) {
  auto proxy = ProxyProcess::start(config());
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  auto r = c.get("/nothing-here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("x-tessera-reason"), "no route");
  r = c.get("/direct");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello from the proxy\n");
  r = c.get("/old");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "http://example.com/new");
  // Method matching: DELETE is not among /api's methods.
  r = c.request("DELETE", "/v1/api/x");
  EXPECT_EQ(r.status, 404);
  // All of it on one connection.
  EXPECT_EQ(c.connects(), 1);
  EXPECT_EQ(a_->requests(), 0u);
  EXPECT_EQ(proxy->stat("tessera_proxy_requests_total",
                        {{"route_table", "main"}, {"route", ""}, {"code_class", "4xx"}}),
            2.0);
}

TEST_F(ProxyHttpTest, KeepAliveReusesUpstreamConnections) {
  auto proxy = ProxyProcess::start(config(), {}, 1);
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  for (int i = 0; i < 200; ++i) {
    auto r = c.get("/a/" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.error;
  }
  EXPECT_EQ(c.connects(), 1);
  EXPECT_EQ(a_->requests(), 200u);
  EXPECT_EQ(a_->connectionsAccepted(), 1u) << "one pooled upstream connection, reused";

  // Connection: close is honoured downstream and does not close the upstream connection.
  StrictClient c2("127.0.0.1", port_);
  auto r = c2.get("/a", {{"Connection", "close"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("connection"), "close");
  r = c2.get("/a");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(c2.connects(), 2);
  EXPECT_EQ(a_->connectionsAccepted(), 1u);
}

TEST_F(ProxyHttpTest, WeightedSplitWithinTolerance) {
  auto proxy = ProxyProcess::start(config());
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  const int n = 10000;
  int toA = 0;
  for (int i = 0; i < n; ++i) {
    auto r = c.get("/split");
    ASSERT_EQ(r.status, 200) << r.error;
    if (r.body == "a") ++toA;
  }
  const double share = 100.0 * toA / n;
  EXPECT_NEAR(share, 90.0, 3.0) << "v1 (weight 90) got " << share << "%";
  EXPECT_EQ(proxy->stat("tessera_proxy_upstream_requests_total",
                        {{"cluster", "web"}, {"revision", "v1"}, {"code_class", "2xx"}}),
            static_cast<double>(toA));
}

TEST_F(ProxyHttpTest, StickyByUserIdAndRevisionHeader) {
  auto proxy = ProxyProcess::start(config());
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  std::set<std::string> seen;
  for (int user = 0; user < 40; ++user) {
    const std::string id = "user-" + std::to_string(user);
    auto first = c.get("/sticky", {{"x-user-id", id}});
    ASSERT_EQ(first.status, 200);
    seen.insert(first.body);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(c.get("/sticky", {{"x-user-id", id}}).body, first.body) << id;
    }
  }
  EXPECT_EQ(seen.size(), 2u) << "40 users spread over both revisions";
  // The revision header forces a revision (preview), whatever the weights.
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(c.get("/split", {{"x-tessera-revision", "v2"}}).body, "b");
  }
}

TEST_F(ProxyHttpTest, BodiesStreamBothWays) {
  a_->setHandler([](const BackendRequest& r) {
    BackendReply reply;
    reply.body = "echo:" + std::to_string(r.body.size()) + ":" +
                 (r.body.size() > 16 ? r.body.substr(r.body.size() - 16) : r.body);
    if (r.target == "/v1/api/big") reply.body = std::string(3 * 1024 * 1024 + 7, 'z');
    if (r.target == "/v1/api/chunked") {
      reply.chunked = true;
      reply.body = std::string(200000, 'c');
    }
    return reply;
  });
  auto proxy = ProxyProcess::start(config());
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  std::string big(5 * 1024 * 1024 + 3, 'x');
  big.replace(big.size() - 4, 4, "tail");
  auto r = c.request("POST", "/v1/api/upload", big, {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "echo:" + std::to_string(big.size()) + ":" + big.substr(big.size() - 16));
  r = c.get("/v1/api/big");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 3u * 1024 * 1024 + 7);
  r = c.get("/v1/api/chunked");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::string(200000, 'c'));
  r = c.request("HEAD", "/v1/api/big");
  EXPECT_EQ(r.status, 200);
  r = c.get("/a");
  EXPECT_EQ(r.status, 200) << "the connection survives a HEAD";
  EXPECT_EQ(c.connects(), 1);
}

TEST_F(ProxyHttpTest, UpstreamClosingIdleConnectionsFailsNothing) {
  // The backend closes every connection right after answering (as if its idle timeout were
  // tiny): a pooled connection is dead when the proxy next wants it.
  a_->setHandler([](const BackendRequest&) {
    BackendReply reply;
    reply.body = "a";
    reply.closeAfterResponse = true;
    return reply;
  });
  auto proxy = ProxyProcess::start(config(), {}, 1);
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  // Back to back: a GET on a dead pooled connection is retried once on a new one.
  for (int i = 0; i < 20; ++i) {
    auto r = c.get("/a");
    EXPECT_EQ(r.status, 200) << r.body;
  }
  // A pooled connection idle for a while is probed before use, so even a POST (which is never
  // retried once sent) goes through. (Back to back, the upstream's FIN may still be in
  // flight: only the pause makes this deterministic.)
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // past the probe threshold
  auto r = c.request("POST", "/v1/api/x", "two");
  EXPECT_EQ(r.status, 200) << r.body;
}

// Raw socket helpers for what Beast's client would not send.
std::string rawExchange(uint16_t port, const std::string& send, size_t expectResponses,
                        int delayMsBetween = 0, const std::string& second = "") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  timeval tv{10, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  boost::asio::write(s, boost::asio::buffer(send));
  std::string got;
  auto countResponses = [&] {
    size_t n = 0;
    for (size_t pos = 0; (pos = got.find("HTTP/1.1 ", pos)) != std::string::npos; ++pos) ++n;
    return n;
  };
  bool sentSecond = second.empty();
  char buf[65536];
  while (countResponses() < expectResponses || !sentSecond) {
    if (!sentSecond && countResponses() >= 1) {
      if (delayMsBetween > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(delayMsBetween));
      boost::asio::write(s, boost::asio::buffer(second));
      sentSecond = true;
    }
    boost::system::error_code ec;
    size_t n = s.read_some(boost::asio::buffer(buf), ec);
    if (ec) break;
    got.append(buf, n);
  }
  // Give the last body a moment to arrive completely (bounded by the read timeout).
  return got;
}

TEST_F(ProxyHttpTest, PipelinedRequestsAnsweredInOrder) {
  auto proxy = ProxyProcess::start(config());
  ASSERT_TRUE(proxy);
  const std::string host = "Host: x\r\n";
  std::string pipelined = "GET /a/1 HTTP/1.1\r\n" + host + "\r\n" + "GET /direct HTTP/1.1\r\n" +
                          host + "\r\n" + "GET /a/3 HTTP/1.1\r\n" + host + "\r\n";
  std::string got = rawExchange(port_, pipelined, 3);
  size_t p1 = got.find("\r\n\r\na");
  size_t p2 = got.find("hello from the proxy");
  ASSERT_NE(p1, std::string::npos) << got;
  ASSERT_NE(p2, std::string::npos) << got;
  EXPECT_LT(p1, p2);
  EXPECT_EQ(a_->requests(), 2u);
}

// The proxy writes a response at once when the socket takes it (nearly always) and finishes it
// asynchronously when it does not. Here the client sends 600 pipelined requests and reads only
// afterwards, through a small receive buffer: 7 MB of responses exceed the proxy's largest send
// buffer (tcp_wmem: 4 MiB) and the client's, so writes must stop fitting part way. Every
// response still arrives whole and in order.
TEST_F(ProxyHttpTest, ResponsesTheClientDoesNotReadYetArriveWholeAndInOrder) {
  constexpr int kRequests = 600;
  constexpr size_t kBody = 12000;  // one upstream read each: the proxy's one-write path
  auto bodyFor = [](int n) {
    std::string b(kBody, 'a');
    for (size_t i = 0; i < kBody; ++i) b[i] = static_cast<char>('a' + (i * 7 + n) % 26);
    return b;
  };
  a_->setHandler([&](const BackendRequest& r) {
    BackendReply reply;
    reply.body = bodyFor(std::stoi(r.target.substr(std::string("/v1/api/blob/").size())));
    return reply;
  });
  auto proxy = ProxyProcess::start(config());
  ASSERT_TRUE(proxy);

  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.open(boost::asio::ip::tcp::v4());
  int rcvbuf = 8192;
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  timeval tv{10, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
  std::string requests;
  for (int n = 0; n < kRequests; ++n) {
    requests += "GET /v1/api/blob/" + std::to_string(n) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  boost::asio::write(s, boost::asio::buffer(requests));
  // Read nothing until the proxy has stopped asking the backend for more: it waits for the
  // client to make room.
  uint64_t served = 0;
  int unchanged = 0;
  ASSERT_TRUE(waitFor(
      [&] {
        const uint64_t now = a_->requests();
        unchanged = now == served ? unchanged + 1 : 0;
        served = now;
        return unchanged >= 2;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200)));
  EXPECT_LT(served, static_cast<uint64_t>(kRequests)) << "the responses fit the socket buffers";

  std::string got;
  size_t pos = 0;
  char buf[65536];
  for (int n = 0; n < kRequests; ++n) {
    // One response: head, then Content-Length bytes of body.
    size_t headEnd;
    while ((headEnd = got.find("\r\n\r\n", pos)) == std::string::npos) {
      boost::system::error_code ec;
      size_t k = s.read_some(boost::asio::buffer(buf), ec);
      ASSERT_FALSE(ec) << "response " << n << ": " << ec.message();
      got.append(buf, k);
    }
    std::string head = got.substr(pos, headEnd - pos);
    ASSERT_EQ(head.rfind("HTTP/1.1 200 ", 0), 0u) << "response " << n << ": " << head;
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t cl = head.find("content-length: ");
    ASSERT_NE(cl, std::string::npos) << head;
    const size_t length = std::stoul(head.substr(cl + 16));
    ASSERT_EQ(length, kBody) << head;
    while (got.size() < headEnd + 4 + length) {
      boost::system::error_code ec;
      size_t k = s.read_some(boost::asio::buffer(buf), ec);
      ASSERT_FALSE(ec) << "response " << n << " body: " << ec.message();
      got.append(buf, k);
    }
    ASSERT_TRUE(got.compare(headEnd + 4, length, bodyFor(n)) == 0) << "response " << n;
    pos = headEnd + 4 + length;
    if (pos > (1u << 20)) {  // keep the buffer small
      got.erase(0, pos);
      pos = 0;
    }
  }
  EXPECT_EQ(got.size(), pos) << "nothing after the last response";
  EXPECT_EQ(a_->requests(), static_cast<uint64_t>(kRequests));
}

TEST_F(ProxyHttpTest, ExpectContinueIsAnswered) {
  auto proxy = ProxyProcess::start(config());
  ASSERT_TRUE(proxy);
  std::string head =
      "POST /v1/api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  std::string got = rawExchange(port_, head, 2, 0, "hello");
  EXPECT_EQ(got.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("HTTP/1.1 200 OK"), std::string::npos) << got;
  auto req = a_->lastRequest();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->body, "hello");
  EXPECT_EQ(req->headers.count("expect"), 0u);
}

// Reads from `s` until the peer closes or 10 s pass; `closed` tells which.
std::string readUntilClose(boost::asio::ip::tcp::socket& s, bool& closed) {
  timeval tv{10, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[65536];
  closed = false;
  while (true) {
    boost::system::error_code ec;
    size_t n = s.read_some(boost::asio::buffer(buf), ec);
    got.append(buf, n);
    if (ec == boost::asio::error::eof) closed = true;
    if (ec) return got;
  }
}

// Sends `request` on a new connection to 127.0.0.1:`port`, then reads as readUntilClose().
std::string sendAndReadUntilClose(uint16_t port, const std::string& request, bool& closed) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(s, boost::asio::buffer(request));
  return readUntilClose(s, closed);
}

// A client that sends its last request and its FIN in one go (`printf ... | nc -N`) gets the
// answer and then the proxy's close at once, not after the idle timeout (60 s): the FIN came
// with the request, so no later event announces it. The second request on a kept-alive
// connection is the case where the proxy is already waiting when both arrive.
TEST_F(ProxyHttpTest, AClientThatHalfClosesAfterItsRequestIsAnsweredAndClosedAtOnce) {
  auto proxy = ProxyProcess::start(config());
  ASSERT_TRUE(proxy);
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
  const std::string request = "GET /a/1 HTTP/1.1\r\nHost: x\r\n\r\n";
  boost::asio::write(s, boost::asio::buffer(request));
  // The first answer, whole: nothing of it is left for the read after the FIN.
  boost::beast::flat_buffer buffer;
  boost::beast::http::response<boost::beast::http::string_body> first;
  boost::beast::http::read(s, buffer, first);
  ASSERT_EQ(first.result_int(), 200);
  ASSERT_EQ(buffer.size(), 0u);
  // Corked, the request and the FIN leave as one segment: they always arrive together.
  int one = 1;
  ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_CORK, &one, sizeof one);
  boost::asio::write(s, boost::asio::buffer(request));
  s.shutdown(boost::asio::ip::tcp::socket::shutdown_send);
  bool closed = false;
  const auto start = std::chrono::steady_clock::now();
  std::string got = readUntilClose(s, closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  EXPECT_TRUE(closed) << "the proxy kept the half-closed connection open";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// An upstream that frames its body by closing the connection (no Content-Length, no chunked),
// sending head, body and FIN in one go: the proxy relays the whole body and ends the client's
// response by closing. The FIN comes with the last bytes, so no later event announces it.
TEST_F(ProxyHttpTest, ABodyThatEndsWithTheUpstreamsCloseIsRelayedWhole) {
  boost::asio::io_context backendIo;
  boost::asio::ip::tcp::acceptor acceptor(backendIo,
                                          {boost::asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t backendPort = acceptor.local_endpoint().port();
  const std::string body(3000, 'z');
  std::thread backend([&] {
    for (int i = 0; i < 3; ++i) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket c(backendIo);
      acceptor.accept(c, ec);
      if (ec) return;
      boost::asio::streambuf head;
      boost::asio::read_until(c, head, "\r\n\r\n", ec);
      std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body;
      int one = 1;  // corked: head, body and FIN leave as one segment
      ::setsockopt(c.native_handle(), IPPROTO_TCP, TCP_CORK, &one, sizeof one);
      boost::asio::write(c, boost::asio::buffer(reply), ec);
      c.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
      c.close(ec);
    }
  });
  struct StopBackend {
    boost::asio::ip::tcp::acceptor& acceptor;
    std::thread& thread;
    ~StopBackend() {
      ::shutdown(acceptor.native_handle(), SHUT_RDWR);  // wakes a blocked accept()
      thread.join();
    }
  } stopBackend{acceptor, backend};
  auto proxy = ProxyProcess::start(forwardAllConfig(port_, "closer", {backendPort}));
  ASSERT_TRUE(proxy);
  for (int i = 0; i < 3; ++i) {
    bool closed = false;
    const auto start = std::chrono::steady_clock::now();
    std::string got = sendAndReadUntilClose(port_, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
    EXPECT_GE(got.size(), body.size()) << got;
    if (got.size() >= body.size()) {
      EXPECT_EQ(got.substr(got.size() - body.size()), body) << "round " << i;
    }
    EXPECT_TRUE(closed) << "round " << i;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << "round " << i;
  }
}

// An HTTP/1.0 client cannot read chunked coding: a chunked response reaches it as plain data,
// ended by the proxy's close. The upstream connection stays in the pool, its body read to the
// end, and a keep-alive HTTP/1.1 client still gets chunked coding.
TEST_F(ProxyHttpTest, AChunkedResponseReachesAnHttp10ClientAsPlainData) {
  std::string body(200000, 'c');
  body.replace(body.size() - 4, 4, "tail");
  a_->setHandler([&](const BackendRequest&) {
    BackendReply reply;
    reply.chunked = true;
    reply.body = body;
    return reply;
  });
  auto proxy = ProxyProcess::start(config(), {}, 1);  // one worker: one upstream pool
  ASSERT_TRUE(proxy);
  for (int i = 0; i < 2; ++i) {
    bool closed = false;
    std::string got = sendAndReadUntilClose(port_, "GET /v1/api/chunked HTTP/1.0\r\n\r\n", closed);
    const size_t headEnd = got.find("\r\n\r\n");
    ASSERT_NE(headEnd, std::string::npos) << got.substr(0, 200);
    std::string head = got.substr(0, headEnd);
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    EXPECT_EQ(head.rfind("http/1.1 200", 0), 0u) << head;
    EXPECT_EQ(head.find("transfer-encoding"), std::string::npos) << head;
    EXPECT_NE(head.find("connection: close"), std::string::npos) << head;
    const std::string received = got.substr(headEnd + 4);
    EXPECT_EQ(received.size(), body.size()) << "round " << i;
    EXPECT_TRUE(received == body) << "round " << i << ", the body ends with \""
                                  << received.substr(received.size() > 20 ? received.size() - 20
                                                                          : 0)
                                  << "\"";
    EXPECT_TRUE(closed) << "round " << i;
  }
  StrictClient c("127.0.0.1", port_);
  auto r = c.get("/v1/api/chunked");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  EXPECT_TRUE(r.body == body) << r.body.size() << " bytes";
  EXPECT_EQ(a_->requests(), 3u);
  EXPECT_EQ(a_->connectionsAccepted(), 1u) << "the upstream connection was reused";
}

TEST_F(ProxyHttpTest, MalformedRequestGets400) {
  auto proxy = ProxyProcess::start(config());
  ASSERT_TRUE(proxy);
  std::string got = rawExchange(port_, "GET /a HTTP/1.1\r\nBad Header\r\n\r\n", 1);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
}

TEST(ProxyTimeouts, SlowRequestHeadsGet408AndIdleConnectionsClose) {
  TestBackend a("a");
  const uint16_t port = freePort();
  auto proxy =
      ProxyProcess::start(R"(version: "1"
listeners:
- {name: main, address: 127.0.0.1, port: )" +
                          std::to_string(port) +
                          R"(, routeTable: main, requestHeadersTimeout: 300ms, idleTimeout: 500ms}
routeTables:
- name: main
  routes:
  - {name: all, match: {prefix: /}, forward: {cluster: a}}
clusters:
- name: a
  endpoints: [{address: 127.0.0.1, port: )" +
                          std::to_string(a.port()) + "}]\n");
  ASSERT_TRUE(proxy);
  // Half a request head, then nothing: 408 after the headers timeout.
  auto start = std::chrono::steady_clock::now();
  std::string got = rawExchange(port, "GET / HTTP/1.1\r\nHost: x\r\n", 1);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  // A kept-alive connection idle past idleTimeout is closed by the proxy.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  timeval tv{10, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  boost::asio::write(s, boost::asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  char buf[4096];
  boost::system::error_code ec;
  size_t n = s.read_some(boost::asio::buffer(buf), ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(std::string(buf, n).rfind("HTTP/1.1 200", 0), 0u);
  start = std::chrono::steady_clock::now();
  s.read_some(boost::asio::buffer(buf), ec);
  EXPECT_EQ(ec, boost::asio::error::eof);
  took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(400));
  EXPECT_LT(took, std::chrono::milliseconds(3000));
}

}  // namespace
}  // namespace tessera::testing

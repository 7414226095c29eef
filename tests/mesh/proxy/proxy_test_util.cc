#include "tests/mesh/proxy/proxy_test_util.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <sstream>
#include <thread>

#include "tests/support/wait.h"

#ifndef TESSERA_PROXY_BIN
#error "TESSERA_PROXY_BIN must be defined by the build"
#endif

namespace tessera::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const char* proxyBinary() {
  return TESSERA_PROXY_BIN;
}

uint16_t freePort() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

std::string endpointList(const std::vector<uint16_t>& ports) {
  std::string out = "[";
  for (std::size_t i = 0; i < ports.size(); ++i) {
    if (i > 0) out += ", ";
    out += "{address: 127.0.0.1, port: " + std::to_string(ports[i]) + "}";
  }
  return out + "]";
}

std::string forwardAllConfig(uint16_t port, const std::string& cluster,
                             const std::vector<uint16_t>& endpointPorts,
                             const std::string& routeExtra, const std::string& clusterExtra) {
  return "version: \"1\"\n"
         "listeners:\n"
         "- {name: main, address: 127.0.0.1, port: " +
         std::to_string(port) +
         ", routeTable: main}\n"
         "routeTables:\n"
         "- name: main\n"
         "  routes:\n"
         "  - {name: all, match: {prefix: /}, forward: {cluster: " +
         cluster + "}" + routeExtra +
         "}\n"
         "clusters:\n"
         "- name: " +
         cluster + "\n" + clusterExtra + "  endpoints: " + endpointList(endpointPorts) + "\n";
}

// ---- TestBackend ----

struct TestBackend::Impl {
  explicit Impl(TestBackend& o) : owner(o), acceptor(io) {}
  TestBackend& owner;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::thread thread;

  asio::awaitable<void> session(tcp::socket socket) {
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024 * 1024);
      auto [rec, n] =
          co_await http::async_read(socket, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (rec) break;
      auto& req = parser.get();
      BackendRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& f : req)
        r.headers[lower(std::string(f.name_string()))] = std::string(f.value());
      r.body = req.body();
      Handler h;
      {
        std::lock_guard lock(owner.mu_);
        owner.byMethod_[r.method]++;
        owner.last_ = r;
        h = owner.handler_;
      }
      owner.requests_.fetch_add(1);
      BackendReply reply;
      if (h) {
        reply = h(r);
      } else {
        reply.body = owner.name_;
      }
      if (reply.delay.count() > 0) {
        asio::steady_timer t(io, reply.delay);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (reply.action == BackendReply::Action::kClose) break;
      if (reply.action == BackendReply::Action::kHang) {
        asio::steady_timer t(io, std::chrono::seconds(60));
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        break;
      }
      http::response<http::string_body> res;
      res.version(11);
      res.result(static_cast<unsigned>(reply.status));
      res.set("x-backend", owner.name_);
      for (const auto& [k, v] : reply.headers) res.set(k, v);
      res.body() = reply.body;
      res.keep_alive(req.keep_alive());
      if (reply.chunked) {
        res.chunked(true);
      } else {
        res.prepare_payload();
      }
      auto [wec, wn] = co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
      if (wec || !req.keep_alive() || reply.closeAfterResponse) break;
    }
    socket.shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> acceptLoop() {
    while (true) {
      auto [ec, s] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      owner.accepted_.fetch_add(1);
      asio::co_spawn(io, session(std::move(s)), asio::detached);
    }
  }
};

TestBackend::TestBackend(std::string name) : name_(std::move(name)), impl_(new Impl(*this)) {
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, impl_->acceptLoop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

TestBackend::~TestBackend() {
  impl_->io.stop();
  impl_->thread.join();
}

void TestBackend::setHandler(Handler h) {
  std::lock_guard lock(mu_);
  handler_ = std::move(h);
}

uint64_t TestBackend::requests(const std::string& method) const {
  std::lock_guard lock(mu_);
  auto it = byMethod_.find(method);
  return it == byMethod_.end() ? 0 : it->second;
}

std::optional<BackendRequest> TestBackend::lastRequest() const {
  std::lock_guard lock(mu_);
  return last_;
}

void TestBackend::resetCounters() {
  std::lock_guard lock(mu_);
  byMethod_.clear();
  requests_ = 0;
  accepted_ = 0;
}

// ---- StrictClient ----

struct StrictClient::Impl {
  asio::io_context io;
  std::optional<tcp::socket> socket;
  beast::flat_buffer buffer;
  std::string host;
  uint16_t port;
};

StrictClient::StrictClient(std::string host, uint16_t port) : impl_(new Impl()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

StrictClient::~StrictClient() = default;

HttpResult StrictClient::request(const std::string& method, const std::string& target,
                                 const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
  HttpResult result;
  boost::system::error_code ec;
  if (!impl_->socket) {
    impl_->socket.emplace(impl_->io);
    impl_->socket->connect(tcp::endpoint(asio::ip::make_address(impl_->host), impl_->port), ec);
    if (ec) {
      impl_->socket.reset();
      result.error = "connect: " + ec.message();
      return result;
    }
    ++connects_;
    timeval tv{30, 0};
    ::setsockopt(impl_->socket->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    impl_->socket->set_option(tcp::no_delay(true));
    impl_->buffer.clear();
  }
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, impl_->host + ":" + std::to_string(impl_->port));
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
  http::write(*impl_->socket, req, ec);
  if (ec) {
    impl_->socket.reset();
    result.error = "write: " + ec.message();
    return result;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  if (method == "HEAD") parser.skip(true);
  http::read(*impl_->socket, impl_->buffer, parser, ec);
  if (ec) {
    impl_->socket.reset();
    result.error = "read: " + ec.message();
    return result;
  }
  auto res = parser.release();
  result.status = static_cast<int>(res.result_int());
  for (const auto& f : res)
    result.headers[lower(std::string(f.name_string()))] = std::string(f.value());
  result.body = std::move(res.body());
  if (!res.keep_alive()) impl_->socket.reset();
  return result;
}

// ---- ProxyProcess ----

std::unique_ptr<ProxyProcess> ProxyProcess::start(const std::string& configYaml,
                                                  std::vector<std::string> extraArgs, int workers) {
  std::unique_ptr<ProxyProcess> p(new ProxyProcess());
  p->dir_ = std::make_unique<TempDir>("tessera-proxy");
  p->log_ = p->dir_->path() + "/proxy.log";
  p->configPath_ = p->dir_->path() + "/config.yaml";
  writeFile(p->configPath_, configYaml);
  const std::string portFile = p->dir_->path() + "/admin.port";
  std::vector<std::string> argv = {
      TESSERA_PROXY_BIN, "--config",    p->configPath_,      "--workers", std::to_string(workers),
      "--admin",         "127.0.0.1:0", "--admin-port-file", portFile};
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
  p->process_ = Process::spawn(argv, p->log_);
  bool up = waitFor([&] { return !readFile(portFile).empty() || !p->process_->running(); },
                    std::chrono::seconds(30));
  if (!up || !p->process_->running()) {
    ADD_FAILURE() << "tessera-proxy did not start:\n" << tailFile(p->log_);
    return nullptr;
  }
  p->adminPort_ = static_cast<uint16_t>(std::stoi(readFile(portFile)));
  bool ready =
      waitFor([&] { return p->admin("GET", "/ready").status == 200; }, std::chrono::seconds(30));
  if (!ready) {
    ADD_FAILURE() << "tessera-proxy not ready:\n" << tailFile(p->log_);
    return nullptr;
  }
  return p;
}

ProxyProcess::~ProxyProcess() {
  if (::testing::Test::HasFailure()) {
    std::cerr << "--- tessera-proxy log ---\n" << tailFile(log_, 80) << "\n";
  }
  if (process_ && process_->running()) {
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(10));
  }
}

void ProxyProcess::writeConfig(const std::string& configYaml) {
  const std::string tmp = configPath_ + ".tmp";
  writeFile(tmp, configYaml);
  std::rename(tmp.c_str(), configPath_.c_str());
}

void ProxyProcess::reload(const std::string& configYaml) {
  writeConfig(configYaml);
  process_->signal(SIGHUP);
}

HttpResult ProxyProcess::admin(const std::string& method, const std::string& target) {
  HttpClient c(Endpoint{"127.0.0.1", adminPort_, ""});
  return c.request(method, target);
}

std::optional<double> ProxyProcess::stat(const std::string& name,
                                         const std::map<std::string, std::string>& labels) {
  HttpResult r = admin("GET", "/stats");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t nameEnd = line.find_first_of("{ ");
    if (line.substr(0, nameEnd) != name) continue;
    std::map<std::string, std::string> got;
    size_t valuePos = nameEnd;
    if (line[nameEnd] == '{') {
      size_t close = line.find('}', nameEnd);
      std::string ls = line.substr(nameEnd + 1, close - nameEnd - 1);
      size_t pos = 0;
      while (pos < ls.size()) {
        size_t eq = ls.find('=', pos);
        size_t q1 = ls.find('"', eq);
        size_t q2 = ls.find('"', q1 + 1);
        got[ls.substr(pos, eq - pos)] = ls.substr(q1 + 1, q2 - q1 - 1);
        pos = q2 + 2;
      }
      valuePos = close + 1;
    }
    if (got != labels) continue;
    return std::stod(line.substr(valuePos + 1));
  }
  return std::nullopt;
}

std::string ProxyProcess::configDump() {
  return admin("GET", "/config_dump").body;
}

}  // namespace tessera::testing

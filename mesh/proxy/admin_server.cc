#include "mesh/proxy/admin_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "common/logging.h"
#include "mesh/proxy/proxy_server.h"

namespace tessera::mesh::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

struct AdminServer::Impl {
  Impl(ProxyServer& p, std::function<void()> d) : proxy(p), onDrain(std::move(d)), acceptor(io) {}
  ProxyServer& proxy;
  std::function<void()> onDrain;
  asio::io_context io{1};
  tcp::acceptor acceptor;
  std::thread thread;

  http::response<http::string_body> answer(const http::request<http::string_body>& req,
                                           bool& drain) {
    http::response<http::string_body> res;
    res.version(11);
    res.keep_alive(req.keep_alive());
    std::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    res.set(http::field::content_type, "text/plain");
    if (target == "/stats" || target == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = proxy.renderStats();
    } else if (target == "/config_dump") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "application/json");
      res.body() = proxy.configDump();
    } else if (target == "/ready") {
      const bool ready = proxy.ready();
      res.result(ready ? http::status::ok : http::status::service_unavailable);
      res.body() = ready ? "ready\n" : (proxy.draining() ? "draining\n" : "no config\n");
    } else if (target == "/drain") {
      if (req.method() != http::verb::post) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "POST");
        res.body() = "POST /drain\n";
      } else {
        res.result(http::status::ok);
        res.body() = "draining\n";
        drain = true;
      }
    } else {
      res.result(http::status::not_found);
      res.body() = "admin endpoints: /stats /config_dump /ready POST /drain\n";
    }
    res.prepare_payload();
    return res;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024);
      stream.expires_after(std::chrono::seconds(30));
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec) break;
      bool drain = false;
      auto res = answer(parser.get(), drain);
      stream.expires_after(std::chrono::seconds(30));
      auto [wec, wn] = co_await http::async_write(stream, res, kTuple);
      if (drain && onDrain) onDrain();
      if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<void> acceptLoop() {
    while (true) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec) {
        if (!acceptor.is_open()) co_return;
        continue;
      }
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }
};

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() {
  stop();
}

Result<std::unique_ptr<AdminServer>> AdminServer::create(ProxyServer& proxy,
                                                         const std::string& address, uint16_t port,
                                                         std::function<void()> onDrain) {
  auto impl = std::make_unique<Impl>(proxy, std::move(onDrain));
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(address == "localhost" ? "127.0.0.1" : address, ec);
  if (ec) return invalidArgument("admin address \"" + address + "\" is not an IP address");
  tcp::endpoint ep(addr, port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  // A hot-restarting successor binds the same admin port while this process still runs.
  using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  if (!ec) impl->acceptor.set_option(ReusePort(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return unavailable("cannot listen on admin address " + address + ":" + std::to_string(port) +
                       ": " + ec.message());
  }
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

uint16_t AdminServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void AdminServer::start() {
  asio::co_spawn(impl_->io, impl_->acceptLoop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

void AdminServer::stop() {
  if (!impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace tessera::mesh::proxy

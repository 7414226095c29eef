#include "apiserver/http_server.h"

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

#include "common/logging.h"
#include "common/metrics.h"

namespace tessera::apiserver {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// One connection's shared state, reachable from the server for shutdown.
struct Conn {
  std::mutex mu;
  bool idle = true;        // waiting for the next request
  bool streaming = false;  // inside a streamed response
  bool interrupted = false;
  std::vector<std::function<void()>> wakers;
  std::function<void()> close;  // posts a close of the socket to the connection's strand
  bool socketGone = false;      // confined to the connection's strand
  // A streamed response reads in the background to notice the client leaving; the stream must
  // outlive that read. Both confined to the connection's strand.
  bool readerActive = false;
  std::unique_ptr<net::steady_timer> readerDone;  // cancelled when the reader finishes

  void interrupt() {
    std::vector<std::function<void()>> w;
    {
      std::lock_guard lock(mu);
      if (interrupted) return;
      interrupted = true;
      w.swap(wakers);
    }
    for (auto& f : w) f();
  }
};

[[maybe_unused]] std::string reasonText(int status) {
  return std::string(http::obsolete_reason(static_cast<http::status>(status)));
}

std::string plainError(int code, const std::string& reason, const std::string& message) {
  // A minimal Kubernetes Status, for errors raised below the handlers (413, 431, 400).
  std::string esc;
  for (char c : message) {
    if (c == '"' || c == '\\') esc += '\\';
    esc += c;
  }
  return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
         "\"message\":\"" +
         esc + "\",\"reason\":\"" + reason + "\",\"code\":" + std::to_string(code) + "}";
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler& handler;
  std::shared_ptr<spdlog::logger> log = getLogger("http");
  net::io_context ioc;
  std::optional<net::ssl::context> ssl;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  bool started = false;

  std::mutex mu;
  std::condition_variable cv;
  std::list<std::shared_ptr<Conn>> conns;

  prometheus::Gauge* openConns;
  prometheus::Counter* acceptedConns;
  prometheus::Family<prometheus::Counter>* protocolErrors;

  Impl(HttpServerOptions o, HttpHandler& h)
      : options(std::move(o)), handler(h), acceptor(net::make_strand(ioc)) {}

  // ---- per-connection streaming response ----
  template <typename Stream>
  class Streamer final : public ResponseStream {
   public:
    Streamer(Stream& s, std::shared_ptr<Conn> c, Impl& impl)
        : s_(s), conn_(std::move(c)), impl_(impl) {}

    Awaitable<bool> begin(int status, std::string contentType, Headers headers) override {
      {
        std::lock_guard lock(conn_->mu);
        conn_->streaming = true;
      }
      http::response<http::empty_body> res{static_cast<http::status>(status), 11};
      res.set(http::field::content_type, contentType);
      res.set(http::field::cache_control, "no-cache, private");
      for (auto& [k, v] : headers) res.set(k, v);
      res.chunked(true);
      res.keep_alive(false);
      http::response_serializer<http::empty_body> sr{res};
      beast::error_code ec;
      beast::get_lowest_layer(s_).expires_after(impl_.options.writeTimeout);
      co_await http::async_write_header(s_, sr, net::redirect_error(net::use_awaitable, ec));
      beast::get_lowest_layer(s_).expires_never();
      if (ec) co_return false;
      began_ = true;
      // Watch for the client going away while we wait for events to send; the session waits
      // for this read to finish before it frees the stream (awaitReader).
      auto ex = co_await net::this_coro::executor;
      conn_->readerActive = true;
      conn_->readerDone =
          std::make_unique<net::steady_timer>(ex, net::steady_timer::time_point::max());
      net::co_spawn(ex, readUntilClosed(s_, conn_),
                    net::bind_executor(ex, [conn = conn_](const std::exception_ptr&) {
                      conn->readerActive = false;
                      conn->readerDone->cancel();
                    }));
      co_return true;
    }

    Awaitable<bool> write(std::string data) override {
      if (!began_ || interrupted()) co_return false;
      beast::error_code ec;
      beast::get_lowest_layer(s_).expires_after(impl_.options.writeTimeout);
      co_await net::async_write(s_, http::make_chunk(net::buffer(data)),
                                net::redirect_error(net::use_awaitable, ec));
      beast::get_lowest_layer(s_).expires_never();
      if (ec) {
        conn_->interrupt();
        co_return false;
      }
      co_return true;
    }

    Awaitable<void> end() override {
      if (!began_) co_return;
      beast::error_code ec;
      beast::get_lowest_layer(s_).expires_after(std::chrono::seconds(5));
      co_await net::async_write(s_, http::make_chunk_last(),
                                net::redirect_error(net::use_awaitable, ec));
      began_ = false;
    }

    void onInterrupt(std::function<void()> wake) override {
      bool now = false;
      {
        std::lock_guard lock(conn_->mu);
        if (conn_->interrupted)
          now = true;
        else
          conn_->wakers.push_back(wake);
      }
      if (now) wake();
    }

    bool interrupted() const override {
      std::lock_guard lock(conn_->mu);
      return conn_->interrupted;
    }

   private:
    // Reads (and discards) until the client closes; owns nothing of the Streamer, which may be
    // gone by the time the read completes.
    static Awaitable<void> readUntilClosed(Stream& s, std::shared_ptr<Conn> conn) {
      char buf[512];
      while (true) {
        beast::error_code ec;
        co_await s.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
        if (ec) break;
        std::lock_guard lock(conn->mu);
        if (conn->interrupted) break;
      }
      conn->interrupt();
    }

    Stream& s_;
    std::shared_ptr<Conn> conn_;
    Impl& impl_;
    bool began_ = false;
  };

  // After refusing a request whose body we did not read (413), keep reading and discarding for
  // a moment so that the client, still sending, gets to read our answer instead of a reset.
  template <typename Stream>
  Awaitable<void> drainBeforeClose(Stream& s) {
    char sink[16384];
    std::size_t total = 0;
    beast::get_lowest_layer(s).expires_after(std::chrono::seconds(2));
    while (total < 64 * 1024 * 1024) {
      beast::error_code ec;
      std::size_t n = co_await s.async_read_some(net::buffer(sink),
                                                 net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      total += n;
    }
  }

  std::string tooLargeMessage() const {
    return "request body exceeds the limit of " + std::to_string(options.maxBodyBytes) + " bytes";
  }

  // Answers a request refused below the API (malformed, too large) and ends the connection;
  // with `drain`, first lets the client finish sending what we will not read.
  template <typename Stream>
  Awaitable<void> refuse(Stream& s, int code, std::string reason, std::string metricReason,
                         std::string message, bool drain) {
    protocolErrors->Add({{"reason", metricReason}}).Increment();
    http::response<http::string_body> res{static_cast<http::status>(code), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = plainError(code, reason, message);
    res.keep_alive(false);
    res.prepare_payload();
    beast::error_code ec;
    co_await writeResponse(s, res, ec);
    if (!ec && drain) co_await drainBeforeClose(s);
  }

  template <typename Stream>
  Awaitable<void> writeResponse(Stream& s, http::response<http::string_body>& res,
                                beast::error_code& ec) {
    beast::get_lowest_layer(s).expires_after(options.writeTimeout);
    co_await http::async_write(s, res, net::redirect_error(net::use_awaitable, ec));
  }

  template <typename Stream>
  Awaitable<void> serve(Stream& s, std::shared_ptr<Conn> conn, std::string remote) {
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping.load()) {
      {
        std::lock_guard lock(conn->mu);
        conn->idle = true;
      }
      if (stopping.load()) break;
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.maxHeaderBytes));
      parser.body_limit(options.maxBodyBytes);
      beast::error_code ec;
      beast::get_lowest_layer(s).expires_after(first && buffer.size() == 0 ? options.headerTimeout
                                                                           : options.idleTimeout);
      co_await http::async_read_header(s, buffer, parser,
                                       net::redirect_error(net::use_awaitable, ec));
      first = false;
      {
        std::lock_guard lock(conn->mu);
        conn->idle = false;
      }
      const bool expectsContinue =
          beast::iequals(parser.get()[http::field::expect], "100-continue");
      if (ec == http::error::body_limit) {
        // Content-Length above the limit: refuse before reading the body.
        co_await refuse(s, 413, "RequestEntityTooLarge", "body_too_large", tooLargeMessage(),
                        /*drain=*/!expectsContinue);
        break;
      }
      if (ec == http::error::header_limit) {
        co_await refuse(s, 431, "RequestHeaderFieldsTooLarge", "header_too_large",
                        "request header too large", false);
        break;
      }
      if (ec) {
        if (ec != http::error::end_of_stream && ec != net::error::eof &&
            ec != beast::error::timeout && ec != net::error::operation_aborted &&
            ec != net::ssl::error::stream_truncated && ec != net::error::connection_reset) {
          co_await refuse(s, 400, "BadRequest", "bad_request",
                          "malformed HTTP request: " + ec.message(), false);
        }
        break;
      }
      if (expectsContinue) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        beast::get_lowest_layer(s).expires_after(options.writeTimeout);
        co_await http::async_write(s, cont, net::redirect_error(net::use_awaitable, ec));
        if (ec) break;
      }
      beast::get_lowest_layer(s).expires_after(options.bodyTimeout);
      co_await http::async_read(s, buffer, parser, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (ec == http::error::body_limit) {  // a chunked body that grew past the limit
          co_await refuse(s, 413, "RequestEntityTooLarge", "body_too_large", tooLargeMessage(),
                          true);
        }
        break;
      }
      beast::get_lowest_layer(s).expires_never();
      auto req = parser.release();
      HttpRequest hr;
      hr.method = std::string(req.method_string());
      hr.target = std::string(req.target());
      hr.remoteAddress = remote;
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        hr.headers.emplace_back(std::move(name), std::string(f.value()));
      }
      hr.body = std::move(req.body());
      const bool keepAlive = req.keep_alive();
      const unsigned version = req.version();

      Streamer<Stream> streamer(s, conn, *this);
      std::optional<HttpResponse> out = co_await handler.handle(hr, streamer);
      if (!out) break;  // streamed; the connection closes after a stream
      if (hr.method == "HEAD") {
        // The GET answer's header (Content-Length included), without its body.
        http::response<http::empty_body> head{static_cast<http::status>(out->status), version};
        head.set(http::field::content_type, out->contentType);
        for (auto& [k, v] : out->headers) head.insert(k, v);
        head.content_length(out->body.size());
        head.keep_alive(keepAlive && !stopping.load());
        beast::get_lowest_layer(s).expires_after(options.writeTimeout);
        co_await http::async_write(s, head, net::redirect_error(net::use_awaitable, ec));
        if (ec || !head.keep_alive()) break;
        continue;
      }
      http::response<http::string_body> res{static_cast<http::status>(out->status), version};
      res.set(http::field::content_type, out->contentType);
      for (auto& [k, v] : out->headers) res.insert(k, v);
      res.body() = std::move(out->body);
      res.keep_alive(keepAlive && !stopping.load());
      res.prepare_payload();
      co_await writeResponse(s, res, ec);
      if (ec || !res.keep_alive()) break;
    }
  }

  // What shutdown() calls to close a connection: posted to the connection's strand, and a no-op
  // once the session has let go of its socket.
  static std::function<void()> closer(net::any_io_executor ex, tcp::socket* raw,
                                      const std::shared_ptr<Conn>& conn) {
    std::weak_ptr<Conn> weak = conn;
    return [ex, raw, weak] {
      net::post(ex, [raw, weak] {
        auto c = weak.lock();
        if (!c || c->socketGone) return;
        beast::error_code ignored;
        raw->shutdown(tcp::socket::shutdown_both, ignored);
      });
    };
  }

  // Waits until a streamed response's background read has finished; the caller has closed the
  // socket, so the read is completing (with an error) already.
  static Awaitable<void> awaitReader(Conn& conn) {
    while (conn.readerActive) {
      beast::error_code ignored;
      co_await conn.readerDone->async_wait(net::redirect_error(net::use_awaitable, ignored));
    }
  }

  Awaitable<void> session(tcp::socket socket) {
    auto conn = std::make_shared<Conn>();
    std::string remote;
    {
      beast::error_code ec;
      auto ep = socket.remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string();
    }
    auto ex = socket.get_executor();
    {
      std::lock_guard lock(mu);
      conns.push_back(conn);
    }
    openConns->Increment();
    try {
      if (ssl) {
        beast::ssl_stream<beast::tcp_stream> s(beast::tcp_stream(std::move(socket)), *ssl);
        auto* raw = &beast::get_lowest_layer(s).socket();
        conn->close = closer(ex, raw, conn);
        beast::get_lowest_layer(s).expires_after(options.headerTimeout);
        beast::error_code ec;
        co_await s.async_handshake(net::ssl::stream_base::server,
                                   net::redirect_error(net::use_awaitable, ec));
        if (!ec) {
          co_await serve(s, conn, remote);
          if (conn->streaming) {
            // A reader may still be pending on the stream: no TLS close_notify exchange.
            raw->close(ec);
            co_await awaitReader(*conn);
          } else {
            beast::get_lowest_layer(s).expires_after(std::chrono::seconds(2));
            co_await s.async_shutdown(net::redirect_error(net::use_awaitable, ec));
          }
        } else {
          protocolErrors->Add({{"reason", "tls_handshake"}}).Increment();
        }
        conn->socketGone = true;
      } else {
        beast::tcp_stream s(std::move(socket));
        auto* raw = &s.socket();
        conn->close = closer(ex, raw, conn);
        co_await serve(s, conn, remote);
        beast::error_code ignored;
        s.socket().shutdown(tcp::socket::shutdown_send, ignored);
        if (conn->streaming) {
          s.socket().close(ignored);
          co_await awaitReader(*conn);
        }
        conn->socketGone = true;
      }
    } catch (const std::exception& e) {
      log->error("connection failed remote={} error=\"{}\"", remote, e.what());
    }
    {
      std::lock_guard lock(mu);
      conn->close = nullptr;
      conns.remove(conn);
    }
    openConns->Decrement();
    cv.notify_all();
  }

  Awaitable<void> acceptLoop() {
    while (true) {
      beast::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(
          net::make_strand(ioc), net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (ec == net::error::operation_aborted || stopping.load()) co_return;
        log->warn("accept failed error=\"{}\"", ec.message());
        continue;
      }
      acceptedConns->Increment();
      std::size_t n;
      {
        std::lock_guard lock(mu);
        n = conns.size();
      }
      if (n >= options.maxConnections) {
        protocolErrors->Add({{"reason", "too_many_connections"}}).Increment();
        continue;  // socket closes as it goes out of scope
      }
      net::co_spawn(socket.get_executor(), session(std::move(socket)), net::detached);
    }
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  shutdown(std::chrono::milliseconds(0));
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(HttpServerOptions options,
                                                       HttpHandler& handler,
                                                       prometheus::Registry& metrics) {
  if (options.tlsCertFile.empty() != options.tlsKeyFile.empty()) {
    return invalidArgument("TLS needs both a certificate and a key file");
  }
  auto impl = std::make_unique<Impl>(std::move(options), handler);
  auto& o = impl->options;
  if (!o.tlsCertFile.empty()) {
    impl->ssl.emplace(net::ssl::context::tls_server);
    beast::error_code ec;
    impl->ssl->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                               net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                               net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use,
                           ec);
    impl->ssl->use_certificate_chain_file(o.tlsCertFile, ec);
    if (ec)
      return invalidArgument("cannot load TLS certificate " + o.tlsCertFile + ": " + ec.message());
    impl->ssl->use_private_key_file(o.tlsKeyFile, net::ssl::context::pem, ec);
    if (ec) return invalidArgument("cannot load TLS key " + o.tlsKeyFile + ": " + ec.message());
  }
  beast::error_code ec;
  auto addr = net::ip::make_address(o.address, ec);
  if (ec) return invalidArgument("invalid listen address \"" + o.address + "\"");
  tcp::endpoint ep(addr, o.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return unavailable("cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " +
                       ec.message());
  }
  impl->openConns = &prometheus::BuildGauge()
                         .Name("tessera_http_open_connections")
                         .Help("Open client connections")
                         .Register(metrics)
                         .Add({});
  impl->acceptedConns = &prometheus::BuildCounter()
                             .Name("tessera_http_connections_total")
                             .Help("Accepted client connections")
                             .Register(metrics)
                             .Add({});
  impl->protocolErrors = &prometheus::BuildCounter()
                              .Name("tessera_http_protocol_errors_total")
                              .Help("Requests refused below the API: malformed, too large, TLS")
                              .Register(metrics);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::uint16_t HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}
bool HttpServer::tls() const {
  return impl_->ssl.has_value();
}

void HttpServer::start() {
  impl_->started = true;
  net::co_spawn(impl_->acceptor.get_executor(), impl_->acceptLoop(), net::detached);
  for (int i = 0; i < std::max(1, impl_->options.ioThreads); ++i) {
    impl_->threads.emplace_back([this] {
      try {
        impl_->ioc.run();
      } catch (const std::exception& e) {
        impl_->log->critical("I/O thread failed error=\"{}\"", e.what());
      }
    });
  }
}

void HttpServer::shutdown(std::chrono::milliseconds grace) {
  auto& im = *impl_;
  if (im.stopping.exchange(true)) {
    for (auto& t : im.threads) {
      if (t.joinable()) t.join();
    }
    return;
  }
  net::post(im.acceptor.get_executor(), [&im] {
    beast::error_code ignored;
    im.acceptor.close(ignored);
  });
  // Idle keep-alive connections close now; streams are told to end; busy ones finish.
  {
    std::lock_guard lock(im.mu);
    for (auto& c : im.conns) {
      bool idle;
      {
        std::lock_guard clock(c->mu);
        idle = c->idle;
      }
      c->interrupt();
      if (idle && c->close) c->close();
    }
  }
  {
    std::unique_lock lock(im.mu);
    im.cv.wait_for(lock, grace, [&] { return im.conns.empty(); });
    for (auto& c : im.conns) {
      if (c->close) c->close();
    }
    im.cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return im.conns.empty(); });
  }
  im.ioc.stop();
  for (auto& t : im.threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace tessera::apiserver

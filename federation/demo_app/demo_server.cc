#include "federation/demo_app/demo_server.h"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <random>

#include "common/time_util.h"

namespace tessera::demo {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxConnections = 1024;

/// One line on stdout, flushed at once: the agent tails these logs.
void logLine(const std::string& event) {
  std::string line = formatRfc3339Micro(std::chrono::system_clock::now());
  line += ' ';
  line += event;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

std::optional<std::int64_t> integerOf(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      return static_cast<std::int64_t>(d);
    }
  }
  return std::nullopt;
}

std::string faultsJson(const DemoFaults& f) {
  json::object o;
  o["failPercent"] = f.failPercent;
  o["latencyMs"] = f.latencyMs;
  o["healthy"] = f.healthy;
  return json::serialize(o);
}

std::string errorJson(const std::string& message) {
  json::object o;
  o["error"] = message;
  return json::serialize(o);
}

void addIdentity(json::object& o, const DemoIdentity& id, std::string_view method,
                 std::string_view path) {
  o["application"] = id.application;
  o["namespace"] = id.ns;
  o["revision"] = id.revision;
  o["cell"] = id.cell;
  o["datacenter"] = id.datacenter;
  o["cluster"] = id.cluster;
  o["replica"] = id.replica;
  o["method"] = method;
  o["path"] = path;
}

bool quietReadError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
         ec == net::error::operation_aborted || ec == net::error::connection_reset ||
         ec == http::error::partial_message;
}

}  // namespace

Result<DemoFaults> applyFaultsUpdate(const std::string& body, DemoFaults current) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return invalidArgument("body is not JSON: " + ec.message());
  const json::object* o = v.if_object();
  if (o == nullptr) return invalidArgument("body must be a JSON object");
  DemoFaults f = current;
  for (const auto& [key, value] : *o) {
    if (key == "failPercent") {
      auto n = integerOf(value);
      if (!n || *n < 0 || *n > kMaxFailPercent) {
        return invalidArgument("failPercent must be an integer from 0 to " +
                               std::to_string(kMaxFailPercent));
      }
      f.failPercent = static_cast<int>(*n);
    } else if (key == "latencyMs") {
      auto n = integerOf(value);
      if (!n || *n < 0 || *n > kMaxLatencyMs) {
        return invalidArgument("latencyMs must be an integer from 0 to " +
                               std::to_string(kMaxLatencyMs));
      }
      f.latencyMs = static_cast<int>(*n);
    } else if (key == "healthy") {
      if (!value.is_bool()) return invalidArgument("healthy must be true or false");
      f.healthy = value.get_bool();
    } else {
      return invalidArgument("unknown field \"" + std::string(key) +
                             "\" (expected failPercent, latencyMs, healthy)");
    }
  }
  return f;
}

// Everything runs on the one thread that calls run(): no locks.
struct DemoServer::Impl {
  using Request = http::request<http::string_body>;
  using Response = http::response<http::string_body>;

  struct Conn {
    beast::tcp_stream* stream;
    bool idle;  // waiting for the next request (closed at once on shutdown)
  };

  explicit Impl(DemoServerOptions o)
      : options(std::move(o)),
        acceptor(ioc),
        signals(ioc, SIGTERM, SIGINT),
        graceTimer(ioc),
        faults(options.faults),
        rng(std::random_device{}()) {}

  DemoServerOptions options;
  net::io_context ioc{1};
  tcp::acceptor acceptor;
  net::signal_set signals;
  net::steady_timer graceTimer;
  DemoFaults faults;
  std::mt19937 rng;
  std::uniform_int_distribution<int> percent{0, 99};
  bool stopping = false;
  std::map<std::uint64_t, Conn> conns;
  std::uint64_t nextConnId = 0;

  Response makeResponse(const Request& req, http::status status, std::string contentType,
                        std::string body) {
    Response res{status, req.version()};
    res.set(http::field::server, "tessera-demo-app");
    res.set(http::field::content_type, contentType);
    res.body() = std::move(body);
    return res;
  }

  Response identityResponse(const Request& req, const std::string& path, bool fail) {
    json::object o;
    if (fail) o["error"] = "injected failure";
    addIdentity(o, options.identity, req.method_string(), path);
    return makeResponse(req, fail ? http::status::internal_server_error : http::status::ok,
                        "application/json", json::serialize(o));
  }

  Response adminFaults(const Request& req) {
    if (req.method() == http::verb::get) {
      return makeResponse(req, http::status::ok, "application/json", faultsJson(faults));
    }
    auto updated = applyFaultsUpdate(req.body(), faults);
    if (!updated.isOk()) {
      return makeResponse(req, http::status::bad_request, "application/json",
                          errorJson(updated.status().message()));
    }
    faults = *updated;
    logLine("faults changed failPercent=" + std::to_string(faults.failPercent) + " latencyMs=" +
            std::to_string(faults.latencyMs) + " healthy=" + (faults.healthy ? "true" : "false"));
    return makeResponse(req, http::status::ok, "application/json", faultsJson(faults));
  }

  net::awaitable<Response> handle(const Request& req) {
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));
    const auto method = req.method();
    if (path == "/healthz" && method == http::verb::get) {
      if (faults.healthy) co_return makeResponse(req, http::status::ok, "text/plain", "ok");
      co_return makeResponse(req, http::status::service_unavailable, "text/plain", "unhealthy");
    }
    if (path == "/admin/faults" &&
        (method == http::verb::get || method == http::verb::post || method == http::verb::put)) {
      co_return adminFaults(req);
    }
    // The decision is taken on arrival, so that a change of the faults during the wait does
    // not change the answer to a request already accepted.
    const bool fail = faults.failPercent > 0 && percent(rng) < faults.failPercent;
    if (faults.latencyMs > 0) {
      net::steady_timer timer(ioc, std::chrono::milliseconds(faults.latencyMs));
      beast::error_code ec;
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    co_return identityResponse(req, path, fail);
  }

  net::awaitable<void> writeAndClose(beast::tcp_stream& stream, Response res) {
    res.keep_alive(false);
    res.prepare_payload();
    beast::error_code ec;
    stream.expires_after(options.writeTimeout);
    co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
  }

  net::awaitable<void> serve(beast::tcp_stream& stream, std::uint64_t id) {
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping) {
      conns[id].idle = true;
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
      parser.body_limit(options.maxBodyBytes);
      beast::error_code ec;
      stream.expires_after(first ? options.headerTimeout : options.idleTimeout);
      co_await http::async_read_header(stream, buffer, parser,
                                       net::redirect_error(net::use_awaitable, ec));
      first = false;
      conns[id].idle = false;
      if (!ec) {
        stream.expires_after(options.bodyTimeout);
        co_await http::async_read(stream, buffer, parser,
                                  net::redirect_error(net::use_awaitable, ec));
      }
      if (ec == http::error::body_limit) {
        Request head = parser.release();
        Response res = makeResponse(
            head, http::status::payload_too_large, "application/json",
            errorJson("request body exceeds " + std::to_string(options.maxBodyBytes) + " bytes"));
        co_await writeAndClose(stream, std::move(res));
        logLine("request method=" + std::string(head.method_string()) +
                " path=" + std::string(head.target()) + " code=413 ms=0");
        break;
      }
      if (ec) {
        if (!quietReadError(ec)) {
          Request none;
          none.version(11);
          const bool tooLarge = ec == http::error::header_limit;
          Response res = makeResponse(
              none,
              tooLarge ? http::status::request_header_fields_too_large : http::status::bad_request,
              "application/json", errorJson("malformed request: " + ec.message()));
          co_await writeAndClose(stream, std::move(res));
        }
        break;
      }
      stream.expires_never();
      const auto started = std::chrono::steady_clock::now();
      Request req = parser.release();
      Response res = co_await handle(req);
      res.keep_alive(req.keep_alive() && !stopping);
      res.prepare_payload();
      stream.expires_after(options.writeTimeout);
      co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
      logLine("request method=" + std::string(req.method_string()) +
              " path=" + std::string(req.target()) + " code=" + std::to_string(res.result_int()) +
              " ms=" + std::to_string(ms));
      if (ec || !res.keep_alive()) break;
    }
  }

  net::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    const std::uint64_t id = nextConnId++;
    conns.emplace(id, Conn{&stream, true});
    try {
      co_await serve(stream, id);
    } catch (const std::exception& e) {
      logLine(std::string("connection failed error=\"") + e.what() + "\"");
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    conns.erase(id);
    if (stopping && conns.empty()) graceTimer.cancel();
  }

  net::awaitable<void> acceptLoop() {
    while (!stopping) {
      beast::error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
      if (stopping || ec == net::error::operation_aborted) co_return;
      if (ec) {
        // E.g. out of file descriptors: wait a little instead of spinning.
        logLine("accept failed error=\"" + ec.message() + "\"");
        net::steady_timer pause(ioc, std::chrono::milliseconds(100));
        co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
        continue;
      }
      if (conns.size() >= kMaxConnections) continue;  // closed as it goes out of scope
      net::co_spawn(ioc, session(std::move(socket)), net::detached);
    }
  }

  void beginShutdown(int signal) {
    if (stopping) return;
    stopping = true;
    logLine(std::string("stopping signal=") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") +
            " connections=" + std::to_string(conns.size()));
    beast::error_code ignored;
    acceptor.close(ignored);
    for (auto& [id, conn] : conns) {
      if (conn.idle) conn.stream->socket().cancel(ignored);
    }
    if (conns.empty()) return;
    graceTimer.expires_after(options.shutdownGrace);
    graceTimer.async_wait([this](beast::error_code ec) {
      if (ec) return;  // every connection finished in time
      logLine("shutdown grace expired connections=" + std::to_string(conns.size()));
      ioc.stop();
    });
  }
};

DemoServer::DemoServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DemoServer::~DemoServer() = default;

Result<std::unique_ptr<DemoServer>> DemoServer::create(DemoServerOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  beast::error_code ec;
  auto address = net::ip::make_address(impl->options.address, ec);
  if (ec) return invalidArgument("invalid address \"" + impl->options.address + "\"");
  tcp::endpoint endpoint(address, impl->options.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return unavailable("cannot listen on " + impl->options.address + ":" +
                       std::to_string(impl->options.port) + ": " + ec.message());
  }
  Impl* im = impl.get();
  im->signals.async_wait([im](beast::error_code e, int signal) {
    if (!e) im->beginShutdown(signal);
  });
  return std::unique_ptr<DemoServer>(new DemoServer(std::move(impl)));
}

std::uint16_t DemoServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void DemoServer::run() {
  auto& im = *impl_;
  const auto& id = im.options.identity;
  logLine("listening address=" + im.options.address + " port=" + std::to_string(port()) +
          " application=" + id.application + " namespace=" + id.ns + " revision=" + id.revision +
          " cell=" + id.cell + " replica=" + id.replica +
          " failPercent=" + std::to_string(im.faults.failPercent) +
          " latencyMs=" + std::to_string(im.faults.latencyMs));
  net::co_spawn(im.ioc, im.acceptLoop(), net::detached);
  im.ioc.run();
  logLine("stopped");
}

}  // namespace tessera::demo

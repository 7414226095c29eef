#include "cli/api_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <variant>

namespace tessera::cli {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxBody = 256u * 1024 * 1024;  // a list of many objects, or a log

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

std::string describe(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

}  // namespace

// All I/O is asynchronous on a private io_context run by the calling thread, so that every
// operation has a deadline (Beast's stream timeouts apply to asynchronous operations only).
struct ApiClient::Impl {
  bool tls = false;
  std::string host, port, basePath;
  net::io_context ioc;
  std::optional<net::ssl::context> ssl;
  std::variant<std::monostate, beast::tcp_stream, TlsStream> stream;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() {
    if (auto* p = std::get_if<beast::tcp_stream>(&stream)) return *p;
    return beast::get_lowest_layer(std::get<TlsStream>(stream));
  }
  bool connected() const { return stream.index() != 0; }
  void disconnect() { stream.emplace<std::monostate>(); }

  template <typename F>
  void with(F f) {
    if (auto* p = std::get_if<beast::tcp_stream>(&stream)) {
      f(*p);
    } else {
      f(std::get<TlsStream>(stream));
    }
  }

  // Runs the io_context until `done` (every pending operation has a stream expiry).
  void runUntil(const bool& done) {
    while (!done) {
      if (ioc.stopped()) ioc.restart();
      ioc.run_one();
    }
  }

  void expire(std::optional<Clock::time_point> deadline, std::chrono::milliseconds fallback) {
    if (deadline) {
      lowest().expires_at(*deadline);
    } else if (fallback.count() > 0) {
      lowest().expires_after(fallback);
    } else {
      lowest().expires_never();
    }
  }

  Status connect(std::chrono::milliseconds timeout) {
    beast::error_code ec;
    bool done = false;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type addrs;
    resolver.async_resolve(host, port, [&](beast::error_code e, tcp::resolver::results_type r) {
      ec = e;
      addrs = std::move(r);
      done = true;
    });
    runUntil(done);
    if (ec) return unavailable("cannot resolve " + host + ": " + describe(ec));
    buffer.clear();
    if (tls) {
      stream.emplace<TlsStream>(ioc, *ssl);
    } else {
      stream.emplace<beast::tcp_stream>(ioc);
    }
    lowest().expires_after(timeout);
    done = false;
    lowest().async_connect(addrs, [&](beast::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    runUntil(done);
    if (!ec && tls) {
      auto& s = std::get<TlsStream>(stream);
      beast::error_code addrEc;
      net::ip::make_address(host, addrEc);
      if (addrEc) SSL_set_tlsext_host_name(s.native_handle(), host.c_str());  // SNI: names only
      s.set_verify_callback(net::ssl::host_name_verification(host));
      done = false;
      s.async_handshake(net::ssl::stream_base::client, [&](beast::error_code e) {
        ec = e;
        done = true;
      });
      runUntil(done);
      if (ec) {
        disconnect();
        return unavailable("TLS handshake with " + host + ":" + port + " failed: " + describe(ec) +
                           " (is the kubeconfig's certificate-authority right?)");
      }
    }
    if (ec) {
      disconnect();
      if (ec == beast::error::timeout) {
        return Status(StatusCode::kDeadlineExceeded,
                      "connecting to " + host + ":" + port + " timed out");
      }
      return unavailable("cannot connect to " + host + ":" + port + ": " + describe(ec));
    }
    return Status::ok();
  }

  http::request<http::string_body> makeRequest(std::string_view method, std::string_view target,
                                               std::string_view body, std::string_view contentType,
                                               std::string_view accept,
                                               const ClientConfig& config) {
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(basePath + std::string(target));
    req.version(11);
    req.set(http::field::host, host + ":" + port);
    req.set(http::field::user_agent, config.userAgent);
    if (!accept.empty()) req.set(http::field::accept, accept);
    if (!config.token.empty()) req.set(http::field::authorization, "Bearer " + config.token);
    if (!contentType.empty()) req.set(http::field::content_type, contentType);
    req.body() = std::string(body);
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }
};

ApiClient::ApiClient(ClientConfig config, std::unique_ptr<Impl> impl)
    : config_(std::move(config)), impl_(std::move(impl)) {}
ApiClient::~ApiClient() = default;

Result<std::unique_ptr<ApiClient>> ApiClient::create(ClientConfig config) {
  auto url = boost::urls::parse_absolute_uri(config.server);
  if (!url) return invalidArgument("server \"" + config.server + "\" is not a URL");
  auto impl = std::make_unique<Impl>();
  const std::string scheme(url->scheme());
  if (scheme != "https" && scheme != "http") {
    return invalidArgument("server \"" + config.server +
                           "\": only https:// and http:// are served");
  }
  impl->tls = scheme == "https";
  impl->host = std::string(url->host_address());
  if (impl->host.empty()) return invalidArgument("server \"" + config.server + "\" has no host");
  impl->port = url->has_port() ? std::string(url->port()) : (impl->tls ? "443" : "80");
  impl->basePath = std::string(url->encoded_path());
  while (!impl->basePath.empty() && impl->basePath.back() == '/') impl->basePath.pop_back();
  if (impl->tls) {
    impl->ssl.emplace(net::ssl::context::tls_client);
    impl->ssl->set_options(net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    if (config.insecureSkipTlsVerify) {
      impl->ssl->set_verify_mode(net::ssl::verify_none);
    } else {
      if (!config.caPem.empty()) {
        impl->ssl->add_certificate_authority(net::buffer(config.caPem), ec);
        if (ec) return invalidArgument("the certificate authority is not a PEM certificate");
      } else {
        impl->ssl->set_default_verify_paths(ec);
      }
      impl->ssl->set_verify_mode(net::ssl::verify_peer);
    }
  } else if (!config.token.empty() && impl->host != "127.0.0.1" && impl->host != "localhost" &&
             impl->host != "::1") {
    return invalidArgument("refusing to send a bearer token over plain http to " + impl->host +
                           " (use https)");
  }
  return std::unique_ptr<ApiClient>(new ApiClient(std::move(config), std::move(impl)));
}

Result<ApiResponse> ApiClient::request(std::string_view method, std::string_view target,
                                       std::string_view body, std::string_view contentType,
                                       std::string_view accept) {
  auto& c = *impl_;
  auto req = c.makeRequest(method, target, body, contentType, accept, config_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = false;
    if (!c.connected()) {
      if (Status s = c.connect(config_.requestTimeout); !s.isOk()) return s;
      fresh = true;
    }
    beast::error_code ec;
    bool done = false;
    bool wrote = false;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    c.expire(std::nullopt, config_.requestTimeout);
    c.with([&](auto& s) {
      http::async_write(s, req, [&, sp = &s](beast::error_code e, std::size_t) {
        if (e) {
          ec = e;
          done = true;
          return;
        }
        wrote = true;
        http::async_read(*sp, c.buffer, parser, [&](beast::error_code e2, std::size_t) {
          ec = e2;
          done = true;
        });
      });
    });
    c.runUntil(done);
    if (ec) {
      c.disconnect();
      // A kept-alive connection the server closed before reading: retry once on a new one.
      // After a timeout the request may have been applied: never retry that.
      if (!fresh && ec != beast::error::timeout && (!wrote || ec == http::error::end_of_stream))
        continue;
      if (ec == beast::error::timeout) {
        return Status(StatusCode::kDeadlineExceeded,
                      std::string(method) + " " + std::string(target) + ": no answer within " +
                          std::to_string(config_.requestTimeout.count() / 1000) + "s");
      }
      return unavailable(std::string(method) + " " + std::string(target) + ": " + describe(ec));
    }
    auto res = parser.release();
    ApiResponse out;
    out.status = static_cast<int>(res.result_int());
    out.contentType = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    if (!res.keep_alive()) c.disconnect();
    return out;
  }
  return unavailable("the server closed the connection");
}

Result<ApiResponse> ApiClient::stream(std::string_view target, std::string_view accept,
                                      const std::function<bool(std::string_view line)>& onLine,
                                      std::optional<Clock::time_point> deadline) {
  auto& c = *impl_;
  // A stream gets its own connection: it is not reused afterwards.
  c.disconnect();
  if (Status s = c.connect(config_.requestTimeout); !s.isOk()) return s;
  auto req = c.makeRequest("GET", target, "", "", accept, config_);
  req.keep_alive(false);

  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  std::string pending, errorBody;
  bool stopped = false;
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> onChunk =
      [&](std::uint64_t, beast::string_view data, beast::error_code& ec) -> std::size_t {
    if (parser.get().result_int() / 100 != 2) {  // an error (a Status), not a stream
      errorBody.append(data.data(), std::min<std::size_t>(data.size(), 1 << 20));
      return data.size();
    }
    pending.append(data.data(), data.size());
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(pending.data() + start, nl - start);
      if (!line.empty() && !onLine(line)) {
        stopped = true;
        ec = net::error::operation_aborted;  // ends the read
        return data.size();
      }
    }
    pending.erase(0, start);
    return data.size();
  };
  parser.on_chunk_body(onChunk);

  beast::error_code ec;
  bool done = false;
  c.expire(std::nullopt, config_.requestTimeout);
  c.with([&](auto& s) {
    http::async_write(s, req, [&, sp = &s](beast::error_code e, std::size_t) {
      if (e) {
        ec = e;
        done = true;
        return;
      }
      // The headers are bounded by the request timeout, the body by the deadline.
      http::async_read_header(*sp, c.buffer, parser, [&, sp](beast::error_code e2, std::size_t) {
        if (e2) {
          ec = e2;
          done = true;
          return;
        }
        c.expire(deadline, std::chrono::milliseconds(0));
        http::async_read(*sp, c.buffer, parser, [&](beast::error_code e3, std::size_t) {
          ec = e3;
          done = true;
        });
      });
    });
  });
  c.runUntil(done);
  c.disconnect();
  ApiResponse out;
  if (parser.is_header_done()) {
    out.status = static_cast<int>(parser.get().result_int());
    out.contentType = std::string(parser.get()[http::field::content_type]);
  }
  if (stopped) return out;
  if (ec && ec != http::error::end_of_stream) {
    if (ec == beast::error::timeout && deadline && Clock::now() >= *deadline) {
      return Status(StatusCode::kDeadlineExceeded, "the deadline passed");
    }
    if (ec == beast::error::timeout) {
      return Status(StatusCode::kDeadlineExceeded, "GET " + std::string(target) + ": no answer");
    }
    return unavailable("watch " + std::string(target) + ": " + describe(ec));
  }
  if (out.ok()) {
    // A response that was not chunked carries its lines in the body.
    pending += parser.get().body();
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (nl > start && !onLine(std::string_view(pending).substr(start, nl - start))) return out;
    }
    if (start < pending.size()) onLine(std::string_view(pending).substr(start));
  } else {
    out.body = errorBody + parser.get().body();
  }
  return out;
}

}  // namespace tessera::cli

#include "tests/support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <functional>
#include <variant>

namespace tessera::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

boost::json::value HttpResult::json() const {
  return boost::json::parse(body);
}

std::string HttpResult::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

// A plain or TLS stream, connected. All I/O is asynchronous on a private io_context run by
// the calling thread, so that every operation has a deadline (Beast's stream timeouts apply
// to asynchronous operations only).
struct Conn {
  net::io_context ioc;
  std::optional<net::ssl::context> ssl;
  std::variant<std::monostate, beast::tcp_stream, beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() {
    if (auto* p = std::get_if<beast::tcp_stream>(&stream)) return *p;
    return beast::get_lowest_layer(std::get<beast::ssl_stream<beast::tcp_stream>>(stream));
  }
  bool connected() const { return stream.index() != 0; }

  template <typename F>
  auto with(F f) {
    if (auto* p = std::get_if<beast::tcp_stream>(&stream)) return f(*p);
    return f(std::get<beast::ssl_stream<beast::tcp_stream>>(stream));
  }

  // Runs the io_context until `done` is set (the stream's expiry bounds it).
  void runUntil(const bool& done) {
    while (!done) {
      if (ioc.stopped()) ioc.restart();
      if (ioc.run_one() == 0 && !done) {
        if (ioc.stopped()) ioc.restart();
      }
    }
  }

  beast::error_code connect(const Endpoint& ep) {
    beast::error_code ec;
    bool done = false;
    tcp::endpoint addr(net::ip::make_address(ep.host), ep.port);
    buffer.clear();
    if (ep.caFile.empty()) {
      stream.emplace<beast::tcp_stream>(ioc);
    } else {
      if (!ssl) {
        ssl.emplace(net::ssl::context::tls_client);
        ssl->load_verify_file(ep.caFile);
        ssl->set_verify_mode(net::ssl::verify_peer);
      }
      stream.emplace<beast::ssl_stream<beast::tcp_stream>>(ioc, *ssl);
    }
    lowest().expires_after(std::chrono::seconds(10));
    lowest().async_connect(addr, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    runUntil(done);
    if (!ec && !ep.caFile.empty()) {
      done = false;
      std::get<beast::ssl_stream<beast::tcp_stream>>(stream).async_handshake(
          net::ssl::stream_base::client, [&](beast::error_code e) {
            ec = e;
            done = true;
          });
      runUntil(done);
    }
    if (ec) stream.emplace<std::monostate>();
    return ec;
  }
};

http::request<http::string_body> makeRequest(const std::string& method, const std::string& target,
                                             const std::string& body, const std::string& token,
                                             const std::map<std::string, std::string>& headers,
                                             const Endpoint& ep) {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, ep.host + ":" + std::to_string(ep.port));
  req.set(http::field::user_agent, "tessera-tests");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

}  // namespace

struct HttpClient::Impl {
  Endpoint ep;
  Conn conn;
};

HttpClient::HttpClient(Endpoint endpoint, std::string token)
    : impl_(std::make_unique<Impl>()), token_(std::move(token)) {
  impl_->ep = std::move(endpoint);
}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;

void HttpClient::disconnect() {
  impl_->conn.stream.emplace<std::monostate>();
}

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  auto req = makeRequest(method, target, body, token_, headers, impl_->ep);
  HttpResult result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto& c = impl_->conn;
    bool fresh = false;
    if (!c.connected()) {
      if (auto ec = c.connect(impl_->ep)) {
        result.error = "connect: " + ec.message();
        return result;
      }
      fresh = true;
    }
    beast::error_code ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    if (method == "HEAD") parser.skip(true);  // a HEAD answer has no body, whatever its length
    c.lowest().expires_after(std::chrono::seconds(60));
    bool done = false;
    c.with([&](auto& s) {
      http::async_write(s, req, [&, sp = &s](beast::error_code e, std::size_t) {
        if (e) {
          ec = e;
          done = true;
          return;
        }
        http::async_read(*sp, c.buffer, parser, [&](beast::error_code e2, std::size_t) {
          ec = e2;
          done = true;
        });
      });
      return 0;
    });
    c.runUntil(done);
    if (ec) {
      c.stream.emplace<std::monostate>();
      result.error = ec.message();
      if (!fresh) continue;  // a kept-alive connection the server closed: retry once
      return result;
    }
    auto res = parser.release();
    result.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      result.headers[name] = std::string(f.value());
    }
    result.body = std::move(res.body());
    result.error.clear();
    if (!res.keep_alive()) c.stream.emplace<std::monostate>();
    return result;
  }
  return result;
}

struct StreamReader::Impl {
  Endpoint ep;
  Conn conn;
  std::optional<http::response_parser<http::empty_body>> parser;
  std::string chunkData;
  bool readPending = false;
  // The parser keeps a reference to its chunk callback: it lives here, beside the parser.
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> onChunk;
};

StreamReader::StreamReader(Endpoint endpoint, const std::string& target, const std::string& token,
                           const std::map<std::string, std::string>& headers)
    : impl_(std::make_unique<Impl>()) {
  impl_->ep = std::move(endpoint);
  auto& c = impl_->conn;
  if (c.connect(impl_->ep)) {
    ended_ = true;
    return;
  }
  auto req = makeRequest("GET", target, "", token, headers, impl_->ep);
  req.keep_alive(false);
  impl_->parser.emplace();
  impl_->parser->body_limit(boost::none);
  auto* self = impl_.get();
  impl_->onChunk = [self](std::uint64_t, beast::string_view body, beast::error_code&) {
    self->chunkData.append(body.data(), body.size());
    return body.size();
  };
  impl_->parser->on_chunk_body(impl_->onChunk);
  beast::error_code ec;
  bool done = false;
  c.lowest().expires_after(std::chrono::seconds(30));
  c.with([&](auto& s) {
    http::async_write(s, req, [&, sp = &s](beast::error_code e, std::size_t) {
      if (e) {
        ec = e;
        done = true;
        return;
      }
      http::async_read_header(*sp, c.buffer, *impl_->parser,
                              [&](beast::error_code e2, std::size_t) {
                                ec = e2;
                                done = true;
                              });
    });
    return 0;
  });
  c.runUntil(done);
  if (ec) {
    ended_ = true;
    return;
  }
  status_ = static_cast<int>(impl_->parser->get().result_int());
  if (status_ != 200) {
    // Error responses are small and not chunked: read the rest as the body.
    http::response_parser<http::string_body> p2(std::move(*impl_->parser));
    impl_->parser.reset();
    done = false;
    c.with([&](auto& s) {
      http::async_read(s, c.buffer, p2, [&](beast::error_code e, std::size_t) {
        ec = e;
        done = true;
      });
      return 0;
    });
    c.runUntil(done);
    errorBody_ = p2.get().body();
    ended_ = true;
    return;
  }
  c.lowest().expires_never();
}

StreamReader::~StreamReader() {
  close();
}

void StreamReader::close() {
  auto& c = impl_->conn;
  if (c.connected()) {
    beast::error_code ignored;
    c.lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    c.lowest().socket().close(ignored);
    // Let the pending read complete (with an error) before the stream goes away.
    while (impl_->readPending) {
      if (c.ioc.stopped()) c.ioc.restart();
      if (c.ioc.run_one() == 0) break;
    }
    c.stream.emplace<std::monostate>();
  }
  ended_ = true;
}

std::optional<std::string> StreamReader::nextLine(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto& c = impl_->conn;
  while (true) {
    pending_ += impl_->chunkData;
    impl_->chunkData.clear();
    auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    if (ended_ || !impl_->parser) return std::nullopt;
    if (impl_->parser->is_done()) {
      ended_ = true;
      cleanEnd_ = true;
      continue;
    }
    if (!impl_->readPending) {
      impl_->readPending = true;
      auto* self = this;
      c.with([&](auto& s) {
        http::async_read_some(s, c.buffer, *impl_->parser,
                              [self](beast::error_code e, std::size_t) {
                                self->impl_->readPending = false;
                                if (e) self->ended_ = true;
                              });
        return 0;
      });
    }
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) return std::nullopt;
    if (c.ioc.stopped()) c.ioc.restart();
    c.ioc.run_one_for(left);
  }
}

}  // namespace tessera::testing

#include "bench/http_connection.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <utility>

namespace tessera::bench {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;

http::verb verbOf(HttpMethod m) {
  switch (m) {
    case HttpMethod::kGet:
      return http::verb::get;
    case HttpMethod::kPost:
      return http::verb::post;
    case HttpMethod::kPut:
      return http::verb::put;
    case HttpMethod::kPatch:
      return http::verb::patch;
  }
  return http::verb::get;
}

Request wireRequest(const HttpEndpoint& ep, HttpRequest r) {
  Request req{verbOf(r.method), r.target, 11};
  req.set(http::field::host, ep.host + ":" + std::to_string(ep.port));
  req.set(http::field::user_agent, ep.userAgent);
  req.set(http::field::authorization, ep.authorization);
  req.set(http::field::accept, "application/json");
  if (!r.body.empty()) {
    req.set(http::field::content_type, r.contentType);
    req.body() = std::move(r.body);
  }
  req.keep_alive(r.keepAlive);
  req.prepare_payload();
  return req;
}

}  // namespace

struct HttpConnection::Impl {
  Impl(net::any_io_executor executor, const HttpEndpoint& endpoint)
      : ex(std::move(executor)), ep(endpoint) {}

  bool connected() const { return tcpStream.has_value() || tlsStream.has_value(); }
  beast::tcp_stream& lowest() {
    return tlsStream ? beast::get_lowest_layer(*tlsStream) : *tcpStream;
  }

  void close() {
    tcpStream.reset();
    tlsStream.reset();
    buffer.clear();
  }

  Awaitable<beast::error_code> connect() {
    close();
    beast::error_code ec;
    if (ep.ssl) {
      tlsStream.emplace(ex, *ep.ssl);
    } else {
      tcpStream.emplace(ex);
    }
    tcp::endpoint addr(ep.address, ep.port);
    lowest().expires_after(ep.timeout);
    co_await lowest().async_connect(addr, net::redirect_error(net::use_awaitable, ec));
    if (!ec) lowest().socket().set_option(tcp::no_delay(true), ec);
    if (!ec && tlsStream) {
      tlsStream->set_verify_mode(net::ssl::verify_peer);
      tlsStream->set_verify_callback(net::ssl::host_name_verification(ep.host));
      co_await tlsStream->async_handshake(net::ssl::stream_base::client,
                                          net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) close();
    co_return ec;
  }

  template <typename Stream>
  Awaitable<HttpReply> exchange(Stream& s, const Request& req) {
    HttpReply r;
    beast::error_code ec;
    beast::get_lowest_layer(s).expires_after(ep.timeout);
    co_await http::async_write(s, req, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      close();
      r.error = "write: " + ec.message();
      co_return r;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(ep.bodyLimit);
    co_await http::async_read(s, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      close();
      r.error = "read: " + ec.message();
      co_return r;
    }
    beast::get_lowest_layer(s).expires_never();
    auto& res = parser.get();
    r.status = static_cast<int>(res.result_int());
    r.body = std::move(res.body());
    if (!res.keep_alive()) close();
    co_return r;
  }

  template <typename Stream>
  Awaitable<beast::error_code> streamOn(Stream& s, const Request& req,
                                        std::function<void(int)>& onStatus,
                                        std::function<void(std::string_view)>& onData) {
    beast::error_code ec;
    beast::get_lowest_layer(s).expires_after(ep.timeout);
    co_await http::async_write(s, req, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return ec;
    // The parser keeps a reference to the callback: declared first, destroyed last.
    std::function<std::size_t(std::uint64_t, std::string_view, beast::error_code&)> onChunk =
        [&onData](std::uint64_t, std::string_view body, beast::error_code&) {
          onData(body);
          return body.size();
        };
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    parser.on_chunk_body(onChunk);
    co_await http::async_read_header(s, buffer, parser,
                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return ec;
    onStatus(static_cast<int>(parser.get().result_int()));
    beast::get_lowest_layer(s).expires_never();
    while (!parser.is_done()) {
      co_await http::async_read_some(s, buffer, parser,
                                     net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return ec;
    }
    // Not chunked (an error response): its body is in the parser.
    if (!parser.get().body().empty()) onData(parser.get().body());
    co_return ec;
  }

  net::any_io_executor ex;
  const HttpEndpoint& ep;
  std::optional<beast::tcp_stream> tcpStream;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tlsStream;
  beast::flat_buffer buffer;
};

HttpConnection::HttpConnection(net::any_io_executor ex, const HttpEndpoint& ep)
    : impl_(std::make_unique<Impl>(std::move(ex), ep)) {}

HttpConnection::~HttpConnection() = default;

Awaitable<HttpReply> HttpConnection::send(HttpRequest request) {
  const Request req = wireRequest(impl_->ep, std::move(request));
  for (int attempt = 0;; ++attempt) {
    bool fresh = false;
    if (!impl_->connected()) {
      beast::error_code ec = co_await impl_->connect();
      if (ec) co_return HttpReply{0, {}, "connect: " + ec.message()};
      fresh = true;
    }
    HttpReply r;
    if (impl_->tlsStream) {
      r = co_await impl_->exchange(*impl_->tlsStream, req);
    } else {
      r = co_await impl_->exchange(*impl_->tcpStream, req);
    }
    if (r.status == 0 && !fresh && attempt == 0) {
      impl_->close();
      continue;
    }
    co_return r;
  }
}

Awaitable<beast::error_code> HttpConnection::stream(HttpRequest request,
                                                    std::function<void(int)> onStatus,
                                                    std::function<void(std::string_view)> onData) {
  const Request req = wireRequest(impl_->ep, std::move(request));
  beast::error_code ec = co_await impl_->connect();
  if (ec) co_return ec;
  if (impl_->tlsStream) {
    ec = co_await impl_->streamOn(*impl_->tlsStream, req, onStatus, onData);
  } else {
    ec = co_await impl_->streamOn(*impl_->tcpStream, req, onStatus, onData);
  }
  impl_->close();
  co_return ec;
}

void HttpConnection::cancel() {
  if (impl_->connected()) impl_->lowest().cancel();
}

void HttpConnection::close() {
  impl_->close();
}

}  // namespace tessera::bench

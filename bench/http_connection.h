// One HTTP/1.1 keep-alive connection of a bench load generator (library tessera_bench_support),
// plain or TLS, driven by C++20 coroutines on the caller's io_context. Beast stays in
// http_connection.cc.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace tessera::bench {

template <typename T>
using Awaitable = boost::asio::awaitable<T>;

/// Where to connect and how to ask, shared read-only by every connection to it: it must
/// outlive them.
struct HttpEndpoint {
  boost::asio::ip::address address;
  std::string host;  // the Host header's name (":port" is added), and the name TLS verifies
  std::uint16_t port = 0;
  std::string authorization;  // the Authorization header: "Bearer ..."
  std::string userAgent;
  boost::asio::ssl::context* ssl = nullptr;  // null: plain HTTP. Not owned; outlives the endpoint
  std::chrono::milliseconds timeout{30000};  // connect, and each request's write and read
  std::uint64_t bodyLimit = 64u << 20;       // the largest response body send() reads
};

enum class HttpMethod { kGet, kPost, kPut, kPatch };

/// A request: the connection adds Host, User-Agent, Authorization, Accept: application/json
/// and, when there is a body, Content-Type and Content-Length.
struct HttpRequest {
  HttpRequest() = default;
  HttpRequest(HttpMethod m, std::string t, std::string b = {},
              std::string_view type = "application/json")
      : method(m), target(std::move(t)), body(std::move(b)), contentType(type) {}

  HttpMethod method = HttpMethod::kGet;
  std::string target;
  std::string body;                                   // empty: no body
  std::string_view contentType = "application/json";  // not owned: a string literal
  bool keepAlive = true;
};

struct HttpReply {
  int status = 0;  // 0: no response; see error
  std::string body;
  std::string error;  // the transport error ("connect: ...", "write: ...", "read: ...")
};

/// One connection at a time to an endpoint, (re)connected when needed. Thread: every call on
/// the thread of the executor it was made with (one request or stream at a time).
class HttpConnection {
 public:
  HttpConnection(boost::asio::any_io_executor ex, const HttpEndpoint& ep);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  /// One request and its response, connecting when not connected. A kept-alive connection the
  /// server closed in between is retried once on a fresh one.
  Awaitable<HttpReply> send(HttpRequest req);

  /// A streamed (chunked) response on a fresh connection: `onStatus` gets the status once the
  /// header is in, `onData` every piece of body as it arrives (a response that is not chunked,
  /// such as an error, goes to `onData` whole at the end). Returns when the stream ends, fails
  /// or is cancelled (cancel()); the connection is closed then.
  Awaitable<boost::system::error_code> stream(HttpRequest req, std::function<void(int)> onStatus,
                                              std::function<void(std::string_view)> onData);

  /// Makes a pending stream() return. Same thread as the stream.
  void cancel();

  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::bench

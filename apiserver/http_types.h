// The HTTP boundary between the Beast server (http_server.cc) and the handlers. Handlers see
// only these types, so Beast stays out of every other translation unit.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apiserver/storage.h"  // Awaitable

namespace tessera::apiserver {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // "/apis/tessera.io/v1/cells?limit=500"
  Headers headers;     // names lower-case
  std::string body;
  std::string remoteAddress;  // "127.0.0.1"

  /// First value of a header (name lower-case), or "".
  std::string_view header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "application/json";
  Headers headers;
  std::string body;
};

/// A response written incrementally (chunked): watch streams.
///
/// Thread: used only from the request's coroutine. onInterrupt callbacks may run on any thread
/// and must not block.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  /// Sends the status line and headers. False if the client is gone.
  virtual Awaitable<bool> begin(int status, std::string contentType, Headers headers) = 0;
  /// Sends one chunk. False if the client is gone (the stream should end).
  virtual Awaitable<bool> write(std::string data) = 0;
  /// Ends the body. The connection closes after a streamed response.
  virtual Awaitable<void> end() = 0;
  /// Calls `wake` once when the client disconnects or the server starts shutting down.
  virtual void onInterrupt(std::function<void()> wake) = 0;
  /// The client is gone or the server is shutting down.
  virtual bool interrupted() const = 0;
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  /// The response, or nullopt when the handler streamed it through `stream`.
  virtual Awaitable<std::optional<HttpResponse>> handle(HttpRequest& request,
                                                        ResponseStream& stream) = 0;
};

}  // namespace tessera::apiserver

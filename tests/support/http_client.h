// A small synchronous HTTP/1.1 client for tests (Beast underneath, hidden here), with TLS and
// keep-alive, plus a reader for watch streams.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tessera::testing {

struct HttpResult {
  int status = 0;                              // 0: no response (connection failed)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;  // transport error, when status == 0

  boost::json::value json() const;  // throws when the body is not JSON
  std::string header(const std::string& name) const;
};

struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string caFile;  // non-empty: HTTPS, verifying the server against this CA
};

class HttpClient {
 public:
  HttpClient(Endpoint endpoint, std::string token = "");
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;

  /// One request on a kept-alive connection (reconnecting when needed).
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  HttpResult get(const std::string& target) { return request("GET", target); }
  HttpResult post(const std::string& target, const std::string& body) {
    return request("POST", target, body, {{"Content-Type", "application/json"}});
  }
  HttpResult put(const std::string& target, const std::string& body) {
    return request("PUT", target, body, {{"Content-Type", "application/json"}});
  }
  HttpResult mergePatch(const std::string& target, const std::string& body) {
    return request("PATCH", target, body, {{"Content-Type", "application/merge-patch+json"}});
  }
  HttpResult del(const std::string& target, const std::string& body = "") {
    return request("DELETE", target, body,
                   body.empty()
                       ? std::map<std::string, std::string>{}
                       : std::map<std::string, std::string>{{"Content-Type", "application/json"}});
  }
  void setToken(std::string token) { token_ = std::move(token); }
  /// Drops the kept-alive connection.
  void disconnect();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string token_;
};

/// A watch (or any chunked) response read line by line.
class StreamReader {
 public:
  StreamReader(Endpoint endpoint, const std::string& target, const std::string& token,
               const std::map<std::string, std::string>& headers = {});
  ~StreamReader();

  int status() const { return status_; }
  const std::string& errorBody() const { return errorBody_; }
  /// The next newline-terminated line, or nullopt on timeout or end of stream (see ended()).
  std::optional<std::string> nextLine(std::chrono::milliseconds timeout);
  bool ended() const { return ended_; }
  /// The server ended the response properly (the last chunk arrived), as opposed to a reset.
  bool endedCleanly() const { return cleanEnd_; }
  /// Closes the connection from the client side.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int status_ = 0;
  std::string errorBody_;
  bool ended_ = false;
  bool cleanEnd_ = false;
  std::string pending_;
};

}  // namespace tessera::testing

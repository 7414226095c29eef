// HttpServer: HTTP/1.1 (and HTTPS) on Boost.Beast with C++20 coroutines.
//
// Several I/O threads share one io_context; each connection runs on its own strand. Every read
// has a size limit and a timeout (header, body, keep-alive idle); bodies over the limit get 413
// without being read. Shutdown is graceful: the listener closes, idle keep-alive connections
// close, streaming responses (watches) are interrupted so they can end cleanly, and requests
// in flight finish before the threads stop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "apiserver/http_types.h"
#include "common/status.h"

namespace prometheus {
class Registry;
}

namespace tessera::apiserver {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see HttpServer::port())
  int ioThreads = 2;
  std::size_t maxBodyBytes = 3 * 1024 * 1024;
  std::size_t maxHeaderBytes = 64 * 1024;
  std::chrono::seconds headerTimeout{10};  // a request's header must arrive within this
  std::chrono::seconds bodyTimeout{60};    // ... and its body within this
  std::chrono::seconds idleTimeout{120};   // keep-alive connections idle longer are closed
  std::chrono::seconds writeTimeout{60};   // a client that reads nothing this long is dropped
  std::size_t maxConnections = 10000;
  /// PEM files; both set → HTTPS only (TLS 1.2+), both empty → plain HTTP.
  std::string tlsCertFile;
  std::string tlsKeyFile;
};

class HttpServer {
 public:
  /// Binds the listening socket (and loads the TLS certificate). Nothing is served until start().
  static Result<std::unique_ptr<HttpServer>> create(HttpServerOptions options, HttpHandler& handler,
                                                    prometheus::Registry& metrics);
  ~HttpServer();

  std::uint16_t port() const;
  bool tls() const;

  /// Starts the I/O threads and accepting.
  void start();
  /// Graceful stop, waiting at most `grace` for requests in flight. Idempotent; blocking.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::apiserver

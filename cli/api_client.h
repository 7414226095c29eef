// ApiClient: tessctl's only way to the server — HTTP/1.1 over TLS (or plain HTTP on loopback)
// to tessera-server's public REST API and watch streams. Synchronous for the caller; every
// operation has a deadline. Beast and OpenSSL stay in api_client.cc.
//
// Thread: one thread at a time (tessctl is single-threaded).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tessera::cli {

/// Where and how to connect: the resolved kubeconfig context plus command-line overrides.
struct ClientConfig {
  std::string server;  // "https://host:port" or "http://host:port"
  std::string caPem;   // trust only this CA (PEM); empty: the system's trust store
  bool insecureSkipTlsVerify = false;
  std::string token;  // bearer token; never printed
  std::chrono::milliseconds requestTimeout{std::chrono::seconds(30)};
  std::string userAgent = "tessctl";
};

struct ApiResponse {
  int status = 0;  // HTTP status
  std::string contentType;
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

/// The media type that asks the server for a meta.k8s.io/v1 Table (kubectl's columns).
inline constexpr char kAcceptTable[] =
    "application/json;as=Table;g=meta.k8s.io;v=v1, application/json";

class ApiClient {
 public:
  /// Checks the config (URL, CA) and prepares TLS; does not connect yet.
  static Result<std::unique_ptr<ApiClient>> create(ClientConfig config);
  ~ApiClient();

  /// One request. A Status only when no HTTP response arrived (connection refused, TLS
  /// failure, timeout): kUnavailable or kDeadlineExceeded. Any HTTP status is a response.
  Result<ApiResponse> request(std::string_view method, std::string_view target,
                              std::string_view body = "", std::string_view contentType = "",
                              std::string_view accept = "application/json");
  Result<ApiResponse> get(std::string_view target, std::string_view accept = "application/json") {
    return request("GET", target, "", "", accept);
  }

  /// A streaming GET (watch): `onLine` gets every newline-terminated line of a 2xx response
  /// as it arrives and returns false to stop. Returns the response (its body set only when
  /// the status is not 2xx) when the server ends the stream or `onLine` stops it;
  /// kDeadlineExceeded when `deadline` passes first; kUnavailable on a broken connection.
  Result<ApiResponse> stream(std::string_view target, std::string_view accept,
                             const std::function<bool(std::string_view line)>& onLine,
                             std::optional<std::chrono::steady_clock::time_point> deadline);

  const ClientConfig& config() const { return config_; }

 private:
  struct Impl;
  ApiClient(ClientConfig config, std::unique_ptr<Impl> impl);
  ClientConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::cli

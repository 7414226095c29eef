// Errors as values: Status and Result<T>, used on every hot and asynchronous path.
//
// Exceptions from libraries (libpqxx, Boost.JSON) are converted to a Status at the module
// boundary that calls them; code above that boundary never sees them.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tessera {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is malformed
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // create of something that exists
  kConflict,            // optimistic-concurrency precondition failed
  kGone,                // a resource version or continue token older than retained history
  kUnauthenticated,     // no or bad credentials
  kPermissionDenied,    // credentials fine, action not allowed
  kResourceExhausted,   // a bounded queue or limit is full
  kUnavailable,         // a dependency (PostgreSQL) cannot be reached right now; retry
  kDeadlineExceeded,    // gave up waiting
  kFailedPrecondition,  // the system is not in a state where this can run
  kUnimplemented,
  kInternal,  // a bug or an unexpected failure
};

std::string_view statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  /// "NotFound: cell \"c1\" not found"
  std::string toString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status notFound(std::string m) {
  return {StatusCode::kNotFound, std::move(m)};
}
inline Status alreadyExists(std::string m) {
  return {StatusCode::kAlreadyExists, std::move(m)};
}
inline Status conflict(std::string m) {
  return {StatusCode::kConflict, std::move(m)};
}
inline Status gone(std::string m) {
  return {StatusCode::kGone, std::move(m)};
}
inline Status unavailable(std::string m) {
  return {StatusCode::kUnavailable, std::move(m)};
}
inline Status internalError(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}
inline Status resourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}

/// A value or the Status that explains why there is none. REQUIRES for value(): isOk().
template <typename T>
class [[nodiscard]] Result {
 public:
  /// An empty result (kInternal); exists for futures and containers that need a default.
  Result() : v_(Status(StatusCode::kInternal, "no result")) {}
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).isOk());
  }

  bool isOk() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return isOk(); }

  const Status& status() const {
    static const Status kOk;
    return isOk() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tessera

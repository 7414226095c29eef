// ApiError: a Kubernetes `Status` failure (code, reason, message, details.causes).
//
// Every 4xx/5xx the API returns is built from one of these, so clients (kubectl, tessctl, the
// console) always get a machine-readable reason and a message that names the field at fault.
#pragma once

#include <boost/json/fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace tessera::apiserver {

/// One field-level problem (Kubernetes StatusCause).
struct FieldCause {
  std::string reason;   // "FieldValueRequired", "FieldValueInvalid", "FieldValueNotSupported", ...
  std::string message;  // human readable, names the value when useful
  std::string field;    // "spec.template.ports[0].port"
};

struct ApiError {
  int code = 500;      // HTTP status
  std::string reason;  // Kubernetes StatusReason: "NotFound", "Invalid", "Conflict", ...
  std::string message;
  // details (all optional)
  std::string name;
  std::string group;
  std::string kind;  // the plural resource name, as Kubernetes puts it in details.kind
  std::vector<FieldCause> causes;
  std::optional<int> retryAfterSeconds;

  /// The JSON `Status` object.
  std::string toJson() const;

  static ApiError badRequest(std::string message);
  static ApiError unauthorized(std::string message);
  static ApiError forbidden(std::string message);
  static ApiError notFound(std::string message);
  static ApiError methodNotAllowed(std::string message);
  static ApiError notAcceptable(std::string message);
  static ApiError unsupportedMediaType(std::string message);
  static ApiError entityTooLarge(std::string message);
  static ApiError tooManyRequests(std::string message, int retryAfter);
  static ApiError gone(std::string message);  // reason Expired
  static ApiError serviceUnavailable(std::string message, int retryAfter = 1);
  static ApiError internal(std::string message);
  /// 422 Invalid: `<Kind> "<name>" is invalid: <cause list>`.
  static ApiError invalid(const std::string& kind, const std::string& plural,
                          const std::string& name, std::vector<FieldCause> causes);
  /// 400 with strict-decoding causes for unknown fields.
  static ApiError unknownFields(const std::vector<std::string>& paths);

  /// Maps a Status from storage to an API error about `plural`/`name`.
  static ApiError fromStatus(const Status& s, const std::string& plural, const std::string& name);
};

/// JSON of a success Status (`{"kind":"Status","status":"Success",...}`).
std::string successStatusJson(const std::string& name, const std::string& plural);

}  // namespace tessera::apiserver

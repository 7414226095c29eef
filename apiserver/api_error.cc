#include "apiserver/api_error.h"

#include <boost/json.hpp>

#include "apiserver/kind.h"

namespace tessera::apiserver {
namespace json = boost::json;

std::string ApiError::toJson() const {
  json::object o;
  o["kind"] = "Status";
  o["apiVersion"] = "v1";
  o["metadata"] = json::object();
  o["status"] = "Failure";
  o["message"] = message;
  o["reason"] = reason;
  json::object details;
  if (!name.empty()) details["name"] = name;
  if (!group.empty()) details["group"] = group;
  if (!kind.empty()) details["kind"] = kind;
  if (!causes.empty()) {
    json::array arr;
    for (const auto& c : causes) {
      json::object co;
      co["reason"] = c.reason;
      co["message"] = c.message;
      if (!c.field.empty()) co["field"] = c.field;
      arr.push_back(std::move(co));
    }
    details["causes"] = std::move(arr);
  }
  if (retryAfterSeconds) details["retryAfterSeconds"] = *retryAfterSeconds;
  if (!details.empty()) o["details"] = std::move(details);
  o["code"] = code;
  return json::serialize(o);
}

namespace {
ApiError make(int code, const char* reason, std::string message) {
  ApiError e;
  e.code = code;
  e.reason = reason;
  e.message = std::move(message);
  return e;
}
}  // namespace

ApiError ApiError::badRequest(std::string m) {
  return make(400, "BadRequest", std::move(m));
}
ApiError ApiError::unauthorized(std::string m) {
  return make(401, "Unauthorized", std::move(m));
}
ApiError ApiError::forbidden(std::string m) {
  return make(403, "Forbidden", std::move(m));
}
ApiError ApiError::notFound(std::string m) {
  return make(404, "NotFound", std::move(m));
}
ApiError ApiError::methodNotAllowed(std::string m) {
  return make(405, "MethodNotAllowed", std::move(m));
}
ApiError ApiError::notAcceptable(std::string m) {
  return make(406, "NotAcceptable", std::move(m));
}
ApiError ApiError::unsupportedMediaType(std::string m) {
  return make(415, "UnsupportedMediaType", std::move(m));
}
ApiError ApiError::entityTooLarge(std::string m) {
  return make(413, "RequestEntityTooLarge", std::move(m));
}
ApiError ApiError::tooManyRequests(std::string m, int retryAfter) {
  auto e = make(429, "TooManyRequests", std::move(m));
  e.retryAfterSeconds = retryAfter;
  return e;
}
ApiError ApiError::gone(std::string m) {
  return make(410, "Expired", std::move(m));
}
ApiError ApiError::serviceUnavailable(std::string m, int retryAfter) {
  auto e = make(503, "ServiceUnavailable", std::move(m));
  e.retryAfterSeconds = retryAfter;
  return e;
}
ApiError ApiError::internal(std::string m) {
  return make(500, "InternalError", std::move(m));
}

ApiError ApiError::invalid(const std::string& kind, const std::string& plural,
                           const std::string& name, std::vector<FieldCause> causes) {
  std::string msg = kind + " \"" + name + "\" is invalid: ";
  if (causes.size() > 1) msg += "[";
  for (std::size_t i = 0; i < causes.size(); ++i) {
    if (i) msg += ", ";
    if (!causes[i].field.empty()) msg += causes[i].field + ": ";
    msg += causes[i].message;
  }
  if (causes.size() > 1) msg += "]";
  auto e = make(422, "Invalid", std::move(msg));
  e.name = name;
  e.group = kGroup;
  e.kind = plural;
  e.causes = std::move(causes);
  return e;
}

ApiError ApiError::unknownFields(const std::vector<std::string>& paths) {
  std::string msg = "strict decoding error: ";
  std::vector<FieldCause> causes;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (i) msg += ", ";
    msg += "unknown field \"" + paths[i] + "\"";
    causes.push_back({"FieldValueInvalid", "unknown field \"" + paths[i] + "\"", paths[i]});
  }
  auto e = make(400, "BadRequest", std::move(msg));
  e.causes = std::move(causes);
  return e;
}

ApiError ApiError::fromStatus(const Status& s, const std::string& plural, const std::string& name) {
  const std::string what = plural + "." + kGroup + " \"" + name + "\"";
  ApiError e;
  switch (s.code()) {
    case StatusCode::kNotFound:
      e = make(404, "NotFound", what + " not found");
      break;
    case StatusCode::kAlreadyExists:
      e = make(409, "AlreadyExists", what + " already exists");
      break;
    case StatusCode::kConflict:
      e = make(409, "Conflict",
               "Operation cannot be fulfilled on " + what +
                   ": the object has been modified; please apply your changes to the latest "
                   "version and try again");
      break;
    case StatusCode::kGone:
      e = make(410, "Expired", s.message());
      break;
    case StatusCode::kInvalidArgument:
      e = make(400, "BadRequest", s.message());
      break;
    case StatusCode::kUnavailable:
      e = serviceUnavailable("storage unavailable: " + s.message());
      break;
    case StatusCode::kResourceExhausted:
      e = tooManyRequests("server is overloaded: " + s.message(), 1);
      break;
    case StatusCode::kDeadlineExceeded:
      e = make(504, "Timeout", s.message());
      break;
    case StatusCode::kPermissionDenied:
      e = make(403, "Forbidden", s.message());
      break;
    default:
      e = make(500, "InternalError", s.message());
      break;
  }
  if (e.code != 503 && e.code != 429 && e.code != 500) {
    e.name = name;
    e.group = kGroup;
    e.kind = plural;
  }
  return e;
}

std::string successStatusJson(const std::string& name, const std::string& plural) {
  json::object o;
  o["kind"] = "Status";
  o["apiVersion"] = "v1";
  o["metadata"] = json::object();
  o["status"] = "Success";
  o["details"] = json::object{{"name", name}, {"group", kGroup}, {"kind", plural}};
  return json::serialize(o);
}

}  // namespace tessera::apiserver

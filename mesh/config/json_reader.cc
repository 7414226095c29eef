#include "mesh/config/json_reader.h"

#include <charconv>

namespace tessera::mesh::detail {

namespace json = boost::json;

std::string joinPath(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string indexPath(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string formatNumber(double d) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(d);
}

Status prefixed(std::string_view what, const Status& status) {
  if (status.isOk() || what.empty()) return status;
  return Status(status.code(), std::string(what) + ": " + status.message());
}

Reader::Reader(const json::value& value, std::string path) : path_(std::move(path)) {
  object_ = value.if_object();
  if (object_ == nullptr) {
    status_ = invalidArgument(path_.empty() ? std::string("must be an object")
                                            : path_ + ": must be an object");
  }
}

bool Reader::has(std::string_view key) const {
  return object_ != nullptr && object_->contains(key);
}

const json::value* Reader::get(std::string_view key, bool required) {
  if (object_ == nullptr) return nullptr;
  known_.emplace(key);
  if (!ok()) return nullptr;
  const json::value* v = object_->if_contains(key);
  if (v != nullptr && v->is_null()) v = nullptr;  // "key:" with nothing in YAML: the default
  if (v == nullptr && required) missing(key);
  return v;
}

void Reader::take(Status status) {
  if (ok() && !status.isOk()) status_ = std::move(status);
}

void Reader::fail(std::string_view sub, std::string_view message) {
  const std::string where = joinPath(path_, sub);
  take(invalidArgument(where.empty() ? std::string(message) : where + ": " + std::string(message)));
}

void Reader::missing(std::string_view sub, std::string_view message) {
  if (!ok()) return;
  fail(sub, message);
  missing_ = true;
}

void Reader::string(std::string_view key, std::string& out, bool required) {
  const json::value* v = get(key, required);
  if (v == nullptr) return;
  if (const json::string* s = v->if_string()) {
    out.assign(s->data(), s->size());
  } else if (v->is_number()) {
    fail(key, "must be a string (in YAML, quote numbers: \"" + json::serialize(*v) + "\")");
  } else {
    fail(key, "must be a string");
  }
}

void Reader::boolean(std::string_view key, bool& out) {
  const json::value* v = get(key);
  if (v == nullptr) return;
  if (!v->is_bool()) return fail(key, "must be true or false");
  out = v->get_bool();
}

void Reader::uint(std::string_view key, uint64_t& out, uint64_t min, uint64_t max, bool required) {
  const json::value* v = get(key, required);
  if (v == nullptr) return;
  const std::string range = "must be " + std::to_string(min) + ".." + std::to_string(max);
  uint64_t value = 0;
  if (v->is_uint64()) {
    value = v->get_uint64();
  } else if (v->is_int64()) {
    if (v->get_int64() < 0) return fail(key, range);
    value = static_cast<uint64_t>(v->get_int64());
  } else {
    return fail(key, "must be an integer");
  }
  if (value < min || value > max) return fail(key, range);
  out = value;
}

void Reader::u32(std::string_view key, uint32_t& out, uint32_t min, uint32_t max, bool required) {
  uint64_t value = out;
  uint(key, value, min, max, required);
  out = static_cast<uint32_t>(value);
}

void Reader::u16(std::string_view key, uint16_t& out, uint16_t min, uint16_t max, bool required) {
  uint64_t value = out;
  uint(key, value, min, max, required);
  out = static_cast<uint16_t>(value);
}

void Reader::number(std::string_view key, double& out, double min, double max, bool required) {
  const json::value* v = get(key, required);
  if (v == nullptr) return;
  if (!v->is_number()) return fail(key, "must be a number");
  const double d = v->to_number<double>();
  if (d < min || d > max) {
    return fail(key, "must be " + formatNumber(min) + ".." + formatNumber(max));
  }
  out = d;
}

void Reader::duration(std::string_view key, Millis& out, bool required) {
  const json::value* v = get(key, required);
  if (v == nullptr) return;
  if (v->is_int64() || v->is_uint64()) {
    if (v->is_int64() && v->get_int64() < 0) return fail(key, "must not be negative");
    const uint64_t ms = v->is_int64() ? static_cast<uint64_t>(v->get_int64()) : v->get_uint64();
    Result<Millis> d = parseDuration(std::to_string(ms) + "ms");
    if (!d) return fail(key, d.status().message());
    out = *d;
    return;
  }
  const json::string* s = v->if_string();
  if (s == nullptr) return fail(key, "must be a duration (\"250ms\", \"5s\", \"1m\", \"1h\")");
  Result<Millis> d = parseDuration(std::string_view(s->data(), s->size()));
  if (!d) return fail(key, d.status().message());
  out = *d;
}

void Reader::list(std::string_view key,
                  const std::function<Status(const json::value&, const std::string&)>& each) {
  const json::value* v = get(key);
  if (v == nullptr || v->is_null()) return;
  const json::array* array = v->if_array();
  if (array == nullptr) return fail(key, "must be a list");
  const std::string base = field(key);
  for (std::size_t i = 0; i < array->size() && ok(); ++i) {
    take(each((*array)[i], indexPath(base, i)));
  }
}

void Reader::map(
    std::string_view key,
    const std::function<Status(const std::string&, const json::value&, const std::string&)>& each) {
  const json::value* v = get(key);
  if (v == nullptr || v->is_null()) return;
  const json::object* object = v->if_object();
  if (object == nullptr) return fail(key, "must be an object (a mapping)");
  const std::string base = field(key);
  for (const auto& member : *object) {
    if (!ok()) break;
    const std::string name(member.key());
    take(each(name, member.value(), joinPath(base, name)));
  }
}

Status Reader::finish() {
  if (!ok() && !missing_) return status_;
  for (const auto& member : *object_) {
    if (!known_.contains(member.key())) {
      const std::string unknown = "unknown field \"" + std::string(member.key()) + "\"";
      return invalidArgument(path_.empty() ? unknown : path_ + ": " + unknown);
    }
  }
  return status_;
}

}  // namespace tessera::mesh::detail

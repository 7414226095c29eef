// Internal to mesh/config: reading one JSON object field by field, with errors that name the
// field's path ("endpoints[0].port: must be 1..65535") and unknown fields reported.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"
#include "mesh/config/config.h"

namespace tessera::mesh::detail {

/// "a.b" + "c" → "a.b.c"; "" + "c" → "c".
std::string joinPath(std::string_view path, std::string_view key);
/// "endpoints" + 3 → "endpoints[3]".
std::string indexPath(std::string_view path, std::size_t index);
/// The shortest text that reads back as `d`: 100 → "100", 0.5 → "0.5".
std::string formatNumber(double d);
/// Prefixes a failed status's message with "<what>: ".
Status prefixed(std::string_view what, const Status& status);

/// Reads the fields of one JSON object. The first error sticks: later calls do nothing, and
/// finish() returns it (or an unknown-field error). Absent optional fields leave `out` as it
/// is (the default).
class Reader {
 public:
  Reader(const boost::json::value& value, std::string path);

  bool ok() const { return status_.isOk(); }
  const std::string& path() const { return path_; }
  std::string field(std::string_view key) const { return joinPath(path_, key); }

  /// The value of `key` (marking it known), or nullptr when absent, null or after an error.
  /// Every key a reader accepts must be asked for even after an error (no early returns), or
  /// finish() may call it unknown.
  const boost::json::value* get(std::string_view key, bool required = false);
  bool has(std::string_view key) const;

  void string(std::string_view key, std::string& out, bool required = false);
  void boolean(std::string_view key, bool& out);
  void uint(std::string_view key, uint64_t& out, uint64_t min, uint64_t max, bool required = false);
  void u32(std::string_view key, uint32_t& out, uint32_t min, uint32_t max, bool required = false);
  void u16(std::string_view key, uint16_t& out, uint16_t min, uint16_t max, bool required = false);
  void number(std::string_view key, double& out, double min, double max, bool required = false);
  void duration(std::string_view key, Millis& out, bool required = false);

  /// Calls `each(element, path)` for every element of the list at `key`.
  void list(std::string_view key,
            const std::function<Status(const boost::json::value&, const std::string&)>& each);
  /// Calls `each(key, value, path)` for every member of the object at `key`.
  void map(std::string_view key,
           const std::function<Status(const std::string&, const boost::json::value&,
                                      const std::string&)>& each);

  /// Records `status` (if it is the first error).
  void take(Status status);
  /// Records "<path.sub>: message".
  void fail(std::string_view sub, std::string_view message);
  /// Like fail(), for a field that is missing: finish() reports an unknown field instead if
  /// there is one (the missing field is most likely misspelt).
  void missing(std::string_view sub, std::string_view message = "is required");

  /// The first error, else an error for the first field nobody asked for.
  Status finish();

 private:
  const boost::json::object* object_ = nullptr;
  std::string path_;
  std::set<std::string, std::less<>> known_;
  Status status_;
  bool missing_ = false;  // status_ is a missing field
};

}  // namespace tessera::mesh::detail

// Schema: the declared shape of a kind's spec and status.
//
// One declaration drives four things, so they cannot drift apart:
//   - validation (types, required fields, enums, ranges, formats) with Kubernetes field paths;
//   - detection of unknown fields (strict field validation);
//   - defaulting;
//   - the OpenAPI v3 document that kubectl and `kubectl explain` read.
//
// Schemas are immutable values built once at start-up (see kinds/*.cc) and then shared
// read-only between threads.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apiserver/api_error.h"

namespace tessera::apiserver {

class Schema {
 public:
  enum class Type {
    kString,
    kInteger,
    kNumber,
    kBoolean,
    kObject,  // declared fields only
    kArray,
    kStringMap,  // string → string (labels-like)
    kQuantity,   // Kubernetes quantity: "500m", "2", "512Mi" (string or number)
  };
  /// Extra check for a value of the right type: returns an error message, or nullopt if valid.
  using Check = std::function<std::optional<std::string>(const boost::json::value&)>;

  struct Field;

  static Schema string();
  static Schema integer();
  static Schema number();
  static Schema boolean();
  static Schema quantity();
  static Schema stringMap();
  static Schema object(std::vector<Field> fields);
  static Schema arrayOf(Schema items);

  Schema& describe(std::string text);
  Schema& oneOf(std::vector<std::string> values);  // enum of strings
  Schema& min(std::int64_t v);
  Schema& max(std::int64_t v);
  Schema& maxLength(std::size_t n);
  Schema& minItems(std::size_t n);
  Schema& defaultsTo(boost::json::value v);
  /// The default applies only while the sibling field `unlessSibling` is absent (e.g.
  /// replicasPerCell defaults to 1 unless totalReplicas is given).
  Schema& defaultsTo(boost::json::value v, std::string unlessSibling);
  /// A named format (shown in OpenAPI) with its check, e.g. ("date-time", isRfc3339).
  Schema& format(std::string name, Check check);
  /// A check on the whole value after the field-level checks pass (cross-field rules).
  Schema& rule(std::function<void(const boost::json::value&, const std::string& path,
                                  std::vector<FieldCause>&)>
                   check);
  /// For arrays of objects: values of this field must be unique across items.
  Schema& uniqueBy(std::string fieldName);

  Type type() const;
  const std::string& description() const;

  /// Appends every problem found in `v` (at `path`) to `errors`; unknown object fields go to
  /// `unknown` (as paths) instead. Does not modify `v`.
  void validate(const boost::json::value& v, const std::string& path,
                std::vector<FieldCause>& errors, std::vector<std::string>& unknown) const;
  /// Fills declared defaults for missing fields, recursively.
  void applyDefaults(boost::json::value& v) const;
  /// Removes fields the schema does not declare (fieldValidation=Ignore/Warn).
  void dropUnknown(boost::json::value& v) const;
  /// The OpenAPI v3 schema object.
  boost::json::object openApi() const;

 private:
  struct Node;
  explicit Schema(Type t);
  std::shared_ptr<Node> node_;
};

struct Schema::Field {
  std::string name;
  Schema schema;
  bool required = false;
};

inline Schema::Field field(std::string name, Schema s) {
  return {std::move(name), std::move(s), false};
}
inline Schema::Field requiredField(std::string name, Schema s) {
  return {std::move(name), std::move(s), true};
}

/// "spec" + "region" → "spec.region"; "" + "spec" → "spec".
std::string joinPath(const std::string& base, const std::string& name);

/// JSON value as a short string for messages: strings quoted, others serialized.
std::string describeValue(const boost::json::value& v);

}  // namespace tessera::apiserver

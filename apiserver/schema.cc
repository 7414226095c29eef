#include "apiserver/schema.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <regex>
#include <set>

namespace tessera::apiserver {
namespace json = boost::json;

struct Schema::Node {
  Type type;
  std::string description;
  std::vector<Field> fields;      // kObject
  std::shared_ptr<Schema> items;  // kArray
  std::vector<std::string> enumValues;
  std::optional<std::int64_t> minimum, maximum;
  std::optional<std::size_t> maxLen, minItemCount;
  std::optional<json::value> defaultValue;
  std::string defaultUnless;  // sibling whose presence suppresses the default
  std::string formatName;
  Check formatCheck;
  std::vector<std::function<void(const json::value&, const std::string&, std::vector<FieldCause>&)>>
      rules;
  std::string uniqueField;
};

Schema::Schema(Type t) : node_(std::make_shared<Node>()) {
  node_->type = t;
}
Schema::Type Schema::type() const {
  return node_->type;
}
const std::string& Schema::description() const {
  return node_->description;
}

Schema Schema::string() {
  return Schema(Type::kString);
}
Schema Schema::integer() {
  return Schema(Type::kInteger);
}
Schema Schema::number() {
  return Schema(Type::kNumber);
}
Schema Schema::boolean() {
  return Schema(Type::kBoolean);
}
Schema Schema::quantity() {
  return Schema(Type::kQuantity);
}
Schema Schema::stringMap() {
  return Schema(Type::kStringMap);
}
Schema Schema::object(std::vector<Field> fields) {
  Schema s(Type::kObject);
  s.node_->fields = std::move(fields);
  return s;
}
Schema Schema::arrayOf(Schema items) {
  Schema s(Type::kArray);
  s.node_->items = std::make_shared<Schema>(std::move(items));
  return s;
}

// Builders copy-on-write so that a Schema value used in two places is never mutated twice.
#define TESSERA_SCHEMA_MUTATE() \
  if (node_.use_count() > 1) node_ = std::make_shared<Node>(*node_);

Schema& Schema::describe(std::string text) {
  TESSERA_SCHEMA_MUTATE();
  node_->description = std::move(text);
  return *this;
}
Schema& Schema::oneOf(std::vector<std::string> values) {
  TESSERA_SCHEMA_MUTATE();
  node_->enumValues = std::move(values);
  return *this;
}
Schema& Schema::min(std::int64_t v) {
  TESSERA_SCHEMA_MUTATE();
  node_->minimum = v;
  return *this;
}
Schema& Schema::max(std::int64_t v) {
  TESSERA_SCHEMA_MUTATE();
  node_->maximum = v;
  return *this;
}
Schema& Schema::maxLength(std::size_t n) {
  TESSERA_SCHEMA_MUTATE();
  node_->maxLen = n;
  return *this;
}
Schema& Schema::minItems(std::size_t n) {
  TESSERA_SCHEMA_MUTATE();
  node_->minItemCount = n;
  return *this;
}
Schema& Schema::defaultsTo(json::value v) {
  TESSERA_SCHEMA_MUTATE();
  node_->defaultValue = std::move(v);
  return *this;
}
Schema& Schema::defaultsTo(json::value v, std::string unlessSibling) {
  TESSERA_SCHEMA_MUTATE();
  node_->defaultValue = std::move(v);
  node_->defaultUnless = std::move(unlessSibling);
  return *this;
}
Schema& Schema::format(std::string name, Check check) {
  TESSERA_SCHEMA_MUTATE();
  node_->formatName = std::move(name);
  node_->formatCheck = std::move(check);
  return *this;
}
Schema& Schema::rule(
    std::function<void(const json::value&, const std::string&, std::vector<FieldCause>&)> check) {
  TESSERA_SCHEMA_MUTATE();
  node_->rules.push_back(std::move(check));
  return *this;
}
Schema& Schema::uniqueBy(std::string fieldName) {
  TESSERA_SCHEMA_MUTATE();
  node_->uniqueField = std::move(fieldName);
  return *this;
}
#undef TESSERA_SCHEMA_MUTATE

std::string joinPath(const std::string& base, const std::string& name) {
  if (base.empty()) return name;
  return base + "." + name;
}

std::string describeValue(const json::value& v) {
  std::string s = v.is_string() ? "\"" + std::string(v.get_string()) + "\"" : json::serialize(v);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

namespace {

const char* typeName(Schema::Type t) {
  switch (t) {
    case Schema::Type::kString:
      return "string";
    case Schema::Type::kInteger:
      return "integer";
    case Schema::Type::kNumber:
      return "number";
    case Schema::Type::kBoolean:
      return "boolean";
    case Schema::Type::kObject:
      return "object";
    case Schema::Type::kArray:
      return "array";
    case Schema::Type::kStringMap:
      return "object";
    case Schema::Type::kQuantity:
      return "quantity";
  }
  return "?";
}

bool isIntegral(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (v.is_double()) {
    double d = v.get_double();
    return std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.007199254740992e15;
  }
  return false;
}

std::int64_t asInt(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    auto u = v.get_uint64();
    return u > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(u);
  }
  return static_cast<std::int64_t>(v.get_double());
}

bool isQuantity(const json::value& v) {
  if (v.is_number()) {
    return !(v.is_double() && !std::isfinite(v.get_double())) &&
           !(v.is_int64() && v.get_int64() < 0) && !(v.is_double() && v.get_double() < 0);
  }
  if (!v.is_string()) return false;
  static const std::regex re(R"(^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$)");
  const auto& s = v.get_string();
  return s.size() <= 64 && std::regex_match(s.begin(), s.end(), re);
}

void typeError(const json::value& v, const std::string& path, const char* want,
               std::vector<FieldCause>& errors) {
  errors.push_back({"FieldValueTypeInvalid",
                    std::string("Invalid value: ") + describeValue(v) + ": must be of type " + want,
                    path});
}

}  // namespace

void Schema::validate(const json::value& v, const std::string& path,
                      std::vector<FieldCause>& errors, std::vector<std::string>& unknown) const {
  const Node& n = *node_;
  switch (n.type) {
    case Type::kString:
      if (!v.is_string()) return typeError(v, path, "string", errors);
      if (n.maxLen && v.get_string().size() > *n.maxLen) {
        errors.push_back({"FieldValueTooLong",
                          "Too long: may not be longer than " + std::to_string(*n.maxLen), path});
        return;
      }
      if (!n.enumValues.empty() && std::find(n.enumValues.begin(), n.enumValues.end(),
                                             v.get_string()) == n.enumValues.end()) {
        std::string msg = "Unsupported value: " + describeValue(v) + ": supported values: ";
        for (std::size_t i = 0; i < n.enumValues.size(); ++i) {
          if (i) msg += ", ";
          msg += "\"" + n.enumValues[i] + "\"";
        }
        errors.push_back({"FieldValueNotSupported", msg, path});
        return;
      }
      break;
    case Type::kInteger:
      if (!isIntegral(v)) return typeError(v, path, "integer", errors);
      if (n.minimum && asInt(v) < *n.minimum) {
        errors.push_back({"FieldValueInvalid",
                          "Invalid value: " + describeValue(v) +
                              ": must be greater than or equal to " + std::to_string(*n.minimum),
                          path});
        return;
      }
      if (n.maximum && asInt(v) > *n.maximum) {
        errors.push_back({"FieldValueInvalid",
                          "Invalid value: " + describeValue(v) +
                              ": must be less than or equal to " + std::to_string(*n.maximum),
                          path});
        return;
      }
      break;
    case Type::kNumber:
      if (!v.is_number()) return typeError(v, path, "number", errors);
      break;
    case Type::kBoolean:
      if (!v.is_bool()) return typeError(v, path, "boolean", errors);
      break;
    case Type::kQuantity:
      if (!isQuantity(v)) {
        errors.push_back({"FieldValueInvalid",
                          "Invalid value: " + describeValue(v) +
                              ": must be a non-negative quantity such as \"500m\", \"2\" or "
                              "\"512Mi\"",
                          path});
        return;
      }
      break;
    case Type::kStringMap: {
      if (!v.is_object()) return typeError(v, path, "object", errors);
      for (const auto& kv : v.get_object()) {
        if (!kv.value().is_string()) {
          typeError(kv.value(), path + "." + std::string(kv.key()), "string", errors);
        }
      }
      break;
    }
    case Type::kObject: {
      if (!v.is_object()) return typeError(v, path, "object", errors);
      const auto& obj = v.get_object();
      for (const auto& f : n.fields) {
        auto it = obj.find(f.name);
        if (it == obj.end() || it->value().is_null()) {
          if (f.required) {
            errors.push_back({"FieldValueRequired", "Required value", joinPath(path, f.name)});
          }
          continue;
        }
        f.schema.validate(it->value(), joinPath(path, f.name), errors, unknown);
      }
      for (const auto& kv : obj) {
        bool known = std::any_of(n.fields.begin(), n.fields.end(),
                                 [&](const Field& f) { return f.name == kv.key(); });
        if (!known) unknown.push_back(joinPath(path, std::string(kv.key())));
      }
      break;
    }
    case Type::kArray: {
      if (!v.is_array()) return typeError(v, path, "array", errors);
      const auto& arr = v.get_array();
      if (n.minItemCount && arr.size() < *n.minItemCount) {
        errors.push_back({"FieldValueRequired",
                          "Required value: must have at least " + std::to_string(*n.minItemCount) +
                              " item" + (*n.minItemCount == 1 ? "" : "s"),
                          path});
        return;
      }
      std::set<std::string> seen;
      for (std::size_t i = 0; i < arr.size(); ++i) {
        std::string p = path + "[" + std::to_string(i) + "]";
        n.items->validate(arr[i], p, errors, unknown);
        if (!n.uniqueField.empty() && arr[i].is_object()) {
          if (const auto* key = arr[i].get_object().if_contains(n.uniqueField)) {
            std::string k = json::serialize(*key);
            if (!seen.insert(k).second) {
              errors.push_back({"FieldValueDuplicate", "Duplicate value: " + describeValue(*key),
                                p + "." + n.uniqueField});
            }
          }
        }
      }
      break;
    }
  }
  if (n.formatCheck) {
    if (auto msg = n.formatCheck(v)) {
      errors.push_back(
          {"FieldValueInvalid", "Invalid value: " + describeValue(v) + ": " + *msg, path});
      return;
    }
  }
  for (const auto& r : n.rules) r(v, path, errors);
}

void Schema::applyDefaults(json::value& v) const {
  const Node& n = *node_;
  if (n.type == Type::kObject && v.is_object()) {
    auto& obj = v.get_object();
    for (const auto& f : n.fields) {
      auto it = obj.find(f.name);
      if (it == obj.end() || it->value().is_null()) {
        const Node& fn = *f.schema.node_;
        const json::value* sibling =
            fn.defaultUnless.empty() ? nullptr : obj.if_contains(fn.defaultUnless);
        if (fn.defaultValue && (sibling == nullptr || sibling->is_null()))
          obj[f.name] = *fn.defaultValue;
        else
          continue;
        it = obj.find(f.name);
      }
      f.schema.applyDefaults(it->value());
    }
  } else if (n.type == Type::kArray && v.is_array()) {
    for (auto& item : v.get_array()) n.items->applyDefaults(item);
  }
}

void Schema::dropUnknown(json::value& v) const {
  const Node& n = *node_;
  if (n.type == Type::kObject && v.is_object()) {
    auto& obj = v.get_object();
    for (auto it = obj.begin(); it != obj.end();) {
      auto f = std::find_if(n.fields.begin(), n.fields.end(),
                            [&](const Field& fd) { return fd.name == it->key(); });
      if (f == n.fields.end()) {
        it = obj.erase(it);
      } else {
        f->schema.dropUnknown(it->value());
        ++it;
      }
    }
  } else if (n.type == Type::kArray && v.is_array()) {
    for (auto& item : v.get_array()) n.items->dropUnknown(item);
  }
}

json::object Schema::openApi() const {
  const Node& n = *node_;
  json::object o;
  switch (n.type) {
    case Type::kQuantity:
      o["x-kubernetes-int-or-string"] = true;
      o["anyOf"] = json::array{json::object{{"type", "integer"}}, json::object{{"type", "string"}}};
      break;
    case Type::kStringMap:
      o["type"] = "object";
      o["additionalProperties"] = json::object{{"type", "string"}};
      break;
    default:
      o["type"] = typeName(n.type);
  }
  if (!n.description.empty()) o["description"] = n.description;
  if (!n.enumValues.empty()) {
    json::array e;
    for (const auto& s : n.enumValues) e.push_back(json::value(s));
    o["enum"] = std::move(e);
  }
  if (n.minimum) o["minimum"] = *n.minimum;
  if (n.maximum) o["maximum"] = *n.maximum;
  if (n.maxLen) o["maxLength"] = *n.maxLen;
  if (n.minItemCount) o["minItems"] = *n.minItemCount;
  if (n.defaultValue) o["default"] = *n.defaultValue;
  if (!n.formatName.empty()) o["format"] = n.formatName;
  if (n.type == Type::kObject) {
    json::object props;
    json::array required;
    for (const auto& f : n.fields) {
      props[f.name] = f.schema.openApi();
      if (f.required) required.push_back(json::value(f.name));
    }
    o["properties"] = std::move(props);
    if (!required.empty()) o["required"] = std::move(required);
  }
  if (n.type == Type::kArray) {
    o["items"] = n.items->openApi();
    o["x-kubernetes-list-type"] = "atomic";
  }
  return o;
}

}  // namespace tessera::apiserver

#include "apiserver/object_meta.h"

#include <algorithm>
#include <boost/json.hpp>

namespace tessera::apiserver {
namespace json = boost::json;
namespace {

bool isLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool isAlnum(char c) {
  return isLowerAlnum(c) || (c >= 'A' && c <= 'Z');
}

bool isLabelLike(std::string_view s) {  // [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?
  if (s.empty() || s.size() > 63) return false;
  if (!isAlnum(s.front()) || !isAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

}  // namespace

bool isDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!isLowerAlnum(s.front()) || !isLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return isLowerAlnum(c) || c == '-'; });
}

bool isDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    auto dot = s.find('.', start);
    auto part =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || !isLowerAlnum(part.front()) || !isLowerAlnum(part.back())) return false;
    if (!std::all_of(part.begin(), part.end(),
                     [](char c) { return isLowerAlnum(c) || c == '-'; })) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool isQualifiedName(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return isLabelLike(s);
  if (s.find('/', slash + 1) != std::string_view::npos) return false;
  return isDns1123Subdomain(s.substr(0, slash)) && isLabelLike(s.substr(slash + 1));
}

bool isLabelValue(std::string_view s) {
  return s.empty() || isLabelLike(s);
}

const std::vector<std::string>& knownMetadataFields() {
  static const std::vector<std::string> kFields = {
      "name",       "generateName",      "namespace", "uid",         "resourceVersion",
      "generation", "creationTimestamp", "labels",    "annotations", "managedFields"};
  return kFields;
}

void validateObjectMeta(const json::value& metaValue, bool allowGenerateName,
                        std::vector<FieldCause>& errors, std::vector<std::string>& unknown) {
  if (!metaValue.is_object()) {
    errors.push_back({"FieldValueTypeInvalid", "must be an object", "metadata"});
    return;
  }
  const auto& meta = metaValue.get_object();
  for (const auto& kv : meta) {
    const auto& known = knownMetadataFields();
    if (std::find(known.begin(), known.end(), kv.key()) == known.end()) {
      unknown.push_back("metadata." + std::string(kv.key()));
    }
  }
  auto str = [&](const char* key) -> std::string {
    const auto* v = meta.if_contains(key);
    if (!v || v->is_null()) return {};
    if (!v->is_string()) {
      errors.push_back(
          {"FieldValueTypeInvalid", "must be a string", std::string("metadata.") + key});
      return {};
    }
    return std::string(v->get_string());
  };
  const std::string name = str("name");
  const std::string generateName = str("generateName");
  if (name.empty()) {
    if (!allowGenerateName || generateName.empty()) {
      errors.push_back({"FieldValueRequired", "name or generateName is required", "metadata.name"});
    } else if (generateName.size() > 247 || !isDns1123Subdomain(generateName + "x")) {
      errors.push_back(
          {"FieldValueInvalid",
           "Invalid value: \"" + generateName + "\": a prefix of a lowercase RFC 1123 subdomain",
           "metadata.generateName"});
    }
  } else if (!isDns1123Subdomain(name)) {
    errors.push_back({"FieldValueInvalid",
                      "Invalid value: \"" + name +
                          "\": a lowercase RFC 1123 subdomain must consist of lower case "
                          "alphanumeric characters, '-' or '.', and must start and end with an "
                          "alphanumeric character (e.g. 'dc-a', regex used for validation is "
                          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                      "metadata.name"});
  }
  const std::string ns = str("namespace");
  if (!ns.empty() && !isDns1123Label(ns)) {
    errors.push_back({"FieldValueInvalid",
                      "Invalid value: \"" + ns +
                          "\": a lowercase RFC 1123 label (at most 63 "
                          "characters of [a-z0-9-])",
                      "metadata.namespace"});
  }
  if (const auto* labels = meta.if_contains("labels"); labels && !labels->is_null()) {
    if (!labels->is_object()) {
      errors.push_back(
          {"FieldValueTypeInvalid", "must be an object of strings", "metadata.labels"});
    } else {
      for (const auto& kv : labels->get_object()) {
        std::string path = "metadata.labels";
        if (!isQualifiedName(kv.key())) {
          errors.push_back({"FieldValueInvalid",
                            "Invalid value: \"" + std::string(kv.key()) +
                                "\": name part must consist of alphanumeric characters, '-', '_' "
                                "or '.', at most 63 characters, with an optional DNS subdomain "
                                "prefix and '/'",
                            path});
        }
        if (!kv.value().is_string()) {
          errors.push_back({"FieldValueTypeInvalid", "label values must be strings",
                            path + "." + std::string(kv.key())});
        } else if (!isLabelValue(kv.value().get_string())) {
          errors.push_back({"FieldValueInvalid",
                            "Invalid value: \"" + std::string(kv.value().get_string()) +
                                "\": a valid label must be an empty string or at most 63 "
                                "alphanumeric characters, '-', '_' or '.', starting and ending "
                                "with an alphanumeric character",
                            path});
        }
      }
    }
  }
  if (const auto* ann = meta.if_contains("annotations"); ann && !ann->is_null()) {
    if (!ann->is_object()) {
      errors.push_back(
          {"FieldValueTypeInvalid", "must be an object of strings", "metadata.annotations"});
    } else {
      std::size_t total = 0;
      for (const auto& kv : ann->get_object()) {
        if (!isQualifiedName(kv.key())) {
          errors.push_back({"FieldValueInvalid",
                            "Invalid value: \"" + std::string(kv.key()) +
                                "\": annotation keys are qualified names like label keys",
                            "metadata.annotations"});
        }
        if (!kv.value().is_string()) {
          errors.push_back({"FieldValueTypeInvalid", "annotation values must be strings",
                            "metadata.annotations." + std::string(kv.key())});
        } else {
          total += kv.key().size() + kv.value().get_string().size();
        }
      }
      if (total > 256 * 1024) {
        errors.push_back({"FieldValueTooLong", "Too long: must have at most 262144 bytes",
                          "metadata.annotations"});
      }
    }
  }
}

}  // namespace tessera::apiserver

// YAML → Boost.JSON, for the --config file. yaml-cpp exceptions stop here.
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <set>

#include "mesh/config/config.h"

namespace tessera::mesh {
namespace {

namespace json = boost::json;

// Aliases can make a small file expand enormously ("billion laughs"); a config never needs this
// many values.
constexpr std::size_t kMaxNodes = 20'000'000;

bool isYamlNull(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// A plain (unquoted) scalar, resolved like YAML 1.2's core schema, decimal numbers only
// ("yes"/"no"/"on"/"off" stay strings: a cell called "no" must not become false).
json::value plainScalar(const std::string& s) {
  if (isYamlNull(s)) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  const char* digits = (*begin == '-' || *begin == '+') ? begin + 1 : begin;
  if (digits == end) return json::string(s);
  bool integer = true;
  for (const char* p = digits; p != end; ++p) integer = integer && *p >= '0' && *p <= '9';
  if (integer) {
    const char* from = *begin == '+' ? begin + 1 : begin;
    int64_t i = 0;
    if (auto [p, ec] = std::from_chars(from, end, i); ec == std::errc() && p == end) return i;
    uint64_t u = 0;
    if (auto [p, ec] = std::from_chars(from, end, u); ec == std::errc() && p == end) return u;
  }
  // A float needs a digit and only float characters; from_chars decides the rest.
  bool floatChars = false;
  for (const char* p = digits; p != end; ++p) {
    const char c = *p;
    if (c >= '0' && c <= '9') {
      floatChars = true;
    } else if (c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+') {
      return json::string(s);
    }
  }
  if (!floatChars || *digits == 'e' || *digits == 'E') return json::string(s);
  const char* from = *begin == '+' ? begin + 1 : begin;
  double d = 0;
  if (auto [p, ec] = std::from_chars(from, end, d);
      ec == std::errc() && p == end && std::isfinite(d)) {
    return d;
  }
  return json::string(s);
}

std::string where(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return "";
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) +
         ": ";
}

Status convert(const YAML::Node& node, json::value& out, std::size_t& budget) {
  if (budget == 0) return invalidArgument("the document has too many values (aliases?)");
  --budget;
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out = nullptr;
      return Status::ok();
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      if (tag == "?") {
        out = plainScalar(node.Scalar());
      } else if (tag == "!" || tag == "tag:yaml.org,2002:str") {
        out = json::string(node.Scalar());
      } else if (tag == "tag:yaml.org,2002:null" && isYamlNull(node.Scalar())) {
        out = nullptr;
      } else {
        // !!int, !!bool and friends: resolve like a plain scalar, then insist on the kind.
        json::value v = plainScalar(node.Scalar());
        const bool fits = (tag == "tag:yaml.org,2002:int" && (v.is_int64() || v.is_uint64())) ||
                          (tag == "tag:yaml.org,2002:float" && v.is_number()) ||
                          (tag == "tag:yaml.org,2002:bool" && v.is_bool());
        if (!fits) {
          return invalidArgument(where(node) + "unsupported tag " + tag + " on \"" + node.Scalar() +
                                 "\"");
        }
        out = std::move(v);
      }
      return Status::ok();
    }
    case YAML::NodeType::Sequence: {
      json::array array;
      array.reserve(node.size());
      for (const YAML::Node& item : node) {
        json::value v;
        if (Status s = convert(item, v, budget); !s.isOk()) return s;
        array.push_back(std::move(v));
      }
      out = std::move(array);
      return Status::ok();
    }
    case YAML::NodeType::Map: {
      json::object object;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar()) return invalidArgument(where(it->first) + "a key must be text");
        const std::string& key = it->first.Scalar();
        if (object.contains(key)) {
          return invalidArgument(where(it->first) + "\"" + key + "\" is given twice");
        }
        json::value v;
        if (Status s = convert(it->second, v, budget); !s.isOk()) return s;
        object.emplace(key, std::move(v));
      }
      out = std::move(object);
      return Status::ok();
    }
  }
  return internalError("unknown YAML node type");
}

}  // namespace

Result<json::value> parseYamlOrJson(std::string_view text) {
  // Plain JSON (the control plane's and most generated files) takes the fast path.
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (!ec) return v;
    // Not JSON: YAML flow style may still read it, and says where it is wrong.
  }
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    if (docs.empty()) return invalidArgument("the document is empty");
    if (docs.size() > 1)
      return invalidArgument("expected one YAML document, found " + std::to_string(docs.size()));
    json::value out;
    std::size_t budget = kMaxNodes;
    if (Status s = convert(docs.front(), out, budget); !s.isOk()) return s;
    return out;
  } catch (const YAML::Exception& e) {
    std::string message = e.msg;
    if (!e.mark.is_null()) {
      message = "line " + std::to_string(e.mark.line + 1) + ", column " +
                std::to_string(e.mark.column + 1) + ": " + message;
    }
    return invalidArgument("not valid YAML or JSON: " + message);
  }
}

}  // namespace tessera::mesh

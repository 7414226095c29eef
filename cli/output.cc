#include "cli/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <regex>
#include <sstream>

namespace tessera::cli {
namespace json = boost::json;

std::string renderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::size_t columns = headers.size();
  for (const auto& r : rows) columns = std::max(columns, r.size());
  std::vector<std::size_t> width(columns, 0);
  auto measure = [&](const std::vector<std::string>& r) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  };
  measure(headers);
  for (const auto& r : rows) measure(r);
  std::string out;
  auto line = [&](const std::vector<std::string>& r) {
    std::string l;
    for (std::size_t i = 0; i < r.size(); ++i) {
      l += r[i];
      if (i + 1 < r.size()) l.append(width[i] - r[i].size() + 3, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  if (!headers.empty()) line(headers);
  for (const auto& r : rows) line(r);
  return out;
}

std::string cellText(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "<none>";
  if (v.is_double()) {
    std::ostringstream ss;  // 1 and 0.5, as kubectl (Go's %v) prints them; not 1E0
    ss << v.get_double();
    return ss.str();
  }
  return json::serialize(v);
}

const json::value* at(const json::value& v, std::string_view path) {
  const json::value* cur = &v;
  while (!path.empty()) {
    auto dot = path.find('.');
    std::string_view key = path.substr(0, dot);
    if (!cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(key);
    if (cur == nullptr) return nullptr;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return cur;
}

std::string text(const json::value& v, std::string_view path) {
  const json::value* p = at(v, path);
  if (p == nullptr || p->is_null()) return "";
  if (p->is_string()) return std::string(p->get_string());
  return json::serialize(*p);
}

Status tableRows(const json::value& table, const TableOptions& options,
                 std::vector<std::string>& headers, std::vector<std::vector<std::string>>& rows) {
  const auto* cols = at(table, "columnDefinitions");
  const auto* rs = at(table, "rows");
  if (text(table, "kind") != "Table" || cols == nullptr || !cols->is_array()) {
    return invalidArgument("the server did not answer with a Table");
  }
  std::vector<bool> shown;
  headers.clear();
  if (options.withNamespace) headers.push_back("NAMESPACE");
  for (const auto& c : cols->get_array()) {
    const auto* prio = at(c, "priority");
    const bool show = options.wide || prio == nullptr || !prio->is_int64() || prio->as_int64() == 0;
    shown.push_back(show);
    if (!show) continue;
    std::string h = text(c, "name");
    for (auto& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    headers.push_back(h);
  }
  if (rs == nullptr || !rs->is_array()) return Status::ok();
  for (const auto& r : rs->get_array()) {
    std::vector<std::string> row;
    if (options.withNamespace) row.push_back(text(r, "object.metadata.namespace"));
    const auto* cells = at(r, "cells");
    if (cells == nullptr || !cells->is_array()) continue;
    const auto& arr = cells->get_array();
    for (std::size_t i = 0; i < arr.size() && i < shown.size(); ++i) {
      if (shown[i]) row.push_back(cellText(arr[i]));
    }
    rows.push_back(std::move(row));
  }
  if (!options.headers) headers.clear();
  return Status::ok();
}

// ---- JSON ----

namespace {

void pretty(std::string& out, const json::value& v, int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 4, ' ');
  const std::string inner(static_cast<std::size_t>(indent + 1) * 4, ' ');
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    std::size_t i = 0;
    for (const auto& [k, val] : o) {
      out += inner + json::serialize(json::value(k)) + ": ";
      pretty(out, val, indent + 1);
      out += ++i < o.size() ? ",\n" : "\n";
    }
    out += pad + "}";
  } else if (v.is_array()) {
    const auto& a = v.get_array();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (std::size_t i = 0; i < a.size(); ++i) {
      out += inner;
      pretty(out, a[i], indent + 1);
      out += i + 1 < a.size() ? ",\n" : "\n";
    }
    out += pad + "]";
  } else {
    out += json::serialize(v);
  }
}

/// Would this plain scalar read back as something other than a string (YAML 1.1 and 1.2)?
bool needsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const std::regex kSpecial(
      "^(~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|"
      "Off|OFF|y|Y|n|N|[-+]?(\\.[0-9]+|[0-9][0-9_]*(\\.[0-9_]*)?)([eE][-+]?[0-9]+)?|"
      "[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)|0x[0-9a-fA-F_]+|0o?[0-7_]+|[-+]?[0-9][0-9_]*(:[0-5]?["
      "0-9])+(\\.[0-9_]*)?)$");
  return std::regex_match(s, kSpecial);
}

void emit(YAML::Emitter& e, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      e << YAML::BeginMap;
      for (const auto& [k, val] : v.get_object()) {
        std::string key(k);
        if (needsQuotes(key)) {
          e << YAML::Key << YAML::DoubleQuoted << key;
        } else {
          e << YAML::Key << key;
        }
        e << YAML::Value;
        emit(e, val);
      }
      e << YAML::EndMap;
      break;
    case json::kind::array:
      e << YAML::BeginSeq;
      for (const auto& x : v.get_array()) emit(e, x);
      e << YAML::EndSeq;
      break;
    case json::kind::string: {
      std::string s(v.get_string());
      if (s.size() >= 2 && s.back() == '\n' && s[s.size() - 2] != '\n') {
        e << YAML::Literal << s;  // "|" keeps exactly one final newline
      } else if (needsQuotes(s)) {
        e << YAML::DoubleQuoted << s;
      } else {
        e << s;
      }
      break;
    }
    case json::kind::null:
      e << YAML::Null;
      break;
    default:
      e << json::serialize(v);  // numbers and booleans, exactly as JSON spells them
      break;
  }
}

json::value fromYaml(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json::object o;
      for (const auto& kv : n) o[kv.first.as<std::string>()] = fromYaml(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      json::array a;
      for (const auto& x : n) a.push_back(fromYaml(x));
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "?") return json::value(s);  // quoted (tag "!") or explicitly tagged
      static const std::regex kInt("^[-+]?[0-9]+$");
      static const std::regex kFloat("^[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?$");
      if (s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (std::regex_match(s, kInt)) {
        try {
          return json::value(std::stoll(s));
        } catch (const std::out_of_range&) {
          return json::value(s);
        }
      }
      if (std::regex_match(s, kFloat)) return json::value(std::stod(s));
      return json::value(s);
    }
    default:
      return nullptr;
  }
}

}  // namespace

std::string prettyJson(const json::value& v) {
  std::string out;
  pretty(out, v, 0);
  return out + "\n";
}

std::string toYaml(const json::value& v) {
  YAML::Emitter e;
  e.SetIndent(2);
  e.SetMapFormat(YAML::Block);
  e.SetSeqFormat(YAML::Block);
  emit(e, v);
  std::string out = e.c_str();
  if (out.empty() || out.back() != '\n') out += "\n";
  return out;
}

Result<std::vector<json::value>> parseDocuments(std::string_view text) {
  std::vector<json::value> out;
  auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
    // JSON: one value, or several concatenated.
    json::stream_parser p;
    boost::system::error_code ec;
    std::size_t pos = first;
    while (pos != std::string_view::npos && pos < text.size()) {
      pos += p.write_some(text.substr(pos), ec);
      if (ec) return invalidArgument("malformed JSON: " + ec.message());
      if (!p.done()) {
        p.finish(ec);  // the text ended inside a value
        if (ec) return invalidArgument("malformed JSON: " + ec.message());
      }
      out.push_back(p.release());
      p.reset();
      pos = text.find_first_not_of(" \t\r\n", pos);
    }
    return out;
  }
  try {
    for (const auto& doc : YAML::LoadAll(std::string(text))) {
      if (doc.IsNull() || !doc.IsDefined()) continue;
      out.push_back(fromYaml(doc));
    }
  } catch (const YAML::Exception& e) {
    return invalidArgument("malformed YAML at line " + std::to_string(e.mark.line + 1) + ": " +
                           e.msg);
  }
  return out;
}

std::string describeHttpError(int status, std::string_view body) {
  json::value v;
  boost::system::error_code ec;
  v = json::parse(body, ec);
  if (ec || text(v, "kind") != "Status") {
    std::string b(body.substr(0, 2000));
    while (!b.empty() && (b.back() == '\n' || b.back() == '\r')) b.pop_back();
    return "Error from server (HTTP " + std::to_string(status) + ")" + (b.empty() ? "" : ": " + b) +
           "\n";
  }
  std::string reason = text(v, "reason");
  if (reason.empty()) reason = "HTTP " + std::to_string(status);
  std::string out = "Error from server (" + reason + "): " + text(v, "message") + "\n";
  if (const auto* causes = at(v, "details.causes"); causes && causes->is_array()) {
    for (const auto& c : causes->get_array()) {
      std::string field = text(c, "field");
      out += "  - " + (field.empty() ? "" : field + ": ") + text(c, "message") + "\n";
    }
  }
  return out;
}

}  // namespace tessera::cli

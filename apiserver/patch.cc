#include "apiserver/patch.h"

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace tessera::apiserver {
namespace json = boost::json;

json::value applyMergePatch(const json::value& target, const json::value& patch) {
  if (!patch.is_object()) return patch;
  json::value result = target.is_object() ? target : json::value(json::object());
  auto& obj = result.get_object();
  for (const auto& kv : patch.get_object()) {
    if (kv.value().is_null()) {
      obj.erase(kv.key());
    } else {
      const json::value* cur = obj.if_contains(kv.key());
      obj[kv.key()] = applyMergePatch(cur ? *cur : json::value(), kv.value());
    }
  }
  return result;
}

namespace {

// Equality as RFC 6902 §4.6 defines it for "test": like JSON equality, except that numbers
// are equal when their values are (1 == 1.0), which boost::json::value's operator== is not.
bool jsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_double() || b.is_double()) return a.to_number<double>() == b.to_number<double>();
    return a == b;
  }
  if (a.is_array() && b.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!jsonEqual(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object() && b.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (!other || !jsonEqual(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

// Parses an RFC 6901 pointer into unescaped reference tokens.
Result<std::vector<std::string>> parsePointer(std::string_view p) {
  std::vector<std::string> tokens;
  if (p.empty()) return tokens;
  if (p.front() != '/')
    return invalidArgument("JSON pointer \"" + std::string(p) + "\" must start with '/'");
  std::size_t i = 1;
  std::string cur;
  for (; i <= p.size(); ++i) {
    if (i == p.size() || p[i] == '/') {
      tokens.push_back(cur);
      cur.clear();
      continue;
    }
    if (p[i] == '~') {
      if (i + 1 >= p.size() || (p[i + 1] != '0' && p[i + 1] != '1')) {
        return invalidArgument("bad escape in JSON pointer \"" + std::string(p) + "\"");
      }
      cur += p[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      cur += p[i];
    }
  }
  return tokens;
}

Result<std::size_t> arrayIndex(const std::string& tok, std::size_t size, bool allowEnd) {
  if (allowEnd && tok == "-") return size;
  if (tok.empty() || tok.size() > 9 || (tok.size() > 1 && tok[0] == '0') ||
      tok.find_first_not_of("0123456789") != std::string::npos) {
    return invalidArgument("invalid array index \"" + tok + "\"");
  }
  std::size_t idx = std::stoul(tok);
  if (idx > size || (!allowEnd && idx == size)) {
    return invalidArgument("array index " + tok + " out of range");
  }
  return idx;
}

// Resolves the parent container of the pointer's last token.
Result<json::value*> resolveParent(json::value& doc, const std::vector<std::string>& toks) {
  json::value* cur = &doc;
  for (std::size_t i = 0; i + 1 < toks.size(); ++i) {
    if (cur->is_object()) {
      cur = cur->get_object().if_contains(toks[i]);
      if (!cur) return invalidArgument("path element \"" + toks[i] + "\" does not exist");
    } else if (cur->is_array()) {
      auto idx = arrayIndex(toks[i], cur->get_array().size(), false);
      if (!idx) return idx.status();
      cur = &cur->get_array()[*idx];
    } else {
      return invalidArgument("path element \"" + toks[i] + "\" is not a container");
    }
  }
  return cur;
}

Result<json::value> getAt(json::value& doc, const std::vector<std::string>& toks) {
  if (toks.empty()) return doc;
  auto parent = resolveParent(doc, toks);
  if (!parent) return parent.status();
  json::value* p = *parent;
  if (p->is_object()) {
    auto* v = p->get_object().if_contains(toks.back());
    if (!v) return invalidArgument("path \"" + toks.back() + "\" does not exist");
    return *v;
  }
  if (p->is_array()) {
    auto idx = arrayIndex(toks.back(), p->get_array().size(), false);
    if (!idx) return idx.status();
    return p->get_array()[*idx];
  }
  return invalidArgument("parent is not a container");
}

Status removeAt(json::value& doc, const std::vector<std::string>& toks) {
  if (toks.empty()) return invalidArgument("cannot remove the whole document");
  auto parent = resolveParent(doc, toks);
  if (!parent) return parent.status();
  json::value* p = *parent;
  if (p->is_object()) {
    if (p->get_object().erase(toks.back()) == 0) {
      return invalidArgument("path \"" + toks.back() + "\" does not exist");
    }
    return Status::ok();
  }
  if (p->is_array()) {
    auto idx = arrayIndex(toks.back(), p->get_array().size(), false);
    if (!idx) return idx.status();
    auto& arr = p->get_array();
    arr.erase(arr.begin() + static_cast<std::ptrdiff_t>(*idx));
    return Status::ok();
  }
  return invalidArgument("parent is not a container");
}

Status addAt(json::value& doc, const std::vector<std::string>& toks, json::value v, bool replace) {
  if (toks.empty()) {
    doc = std::move(v);
    return Status::ok();
  }
  auto parent = resolveParent(doc, toks);
  if (!parent) return parent.status();
  json::value* p = *parent;
  if (p->is_object()) {
    auto& obj = p->get_object();
    if (replace && !obj.contains(toks.back())) {
      return invalidArgument("path \"" + toks.back() + "\" does not exist");
    }
    obj[toks.back()] = std::move(v);
    return Status::ok();
  }
  if (p->is_array()) {
    auto& arr = p->get_array();
    auto idx = arrayIndex(toks.back(), arr.size(), !replace);
    if (!idx) return idx.status();
    if (replace)
      arr[*idx] = std::move(v);
    else
      arr.insert(arr.begin() + static_cast<std::ptrdiff_t>(*idx), std::move(v));
    return Status::ok();
  }
  return invalidArgument("parent is not a container");
}

}  // namespace

Result<json::value> applyJsonPatch(const json::value& target, const json::value& patch) {
  if (!patch.is_array()) return invalidArgument("a JSON patch must be an array of operations");
  json::value doc = target;
  std::size_t n = 0;
  for (const auto& opv : patch.get_array()) {
    std::string where = "operation " + std::to_string(n++);
    if (!opv.is_object()) return invalidArgument(where + " is not an object");
    const auto& op = opv.get_object();
    auto str = [&](const char* k) -> const json::string* {
      auto* v = op.if_contains(k);
      return v && v->is_string() ? &v->get_string() : nullptr;
    };
    const json::string* name = str("op");
    const json::string* path = str("path");
    if (!name || !path) return invalidArgument(where + " needs \"op\" and \"path\" strings");
    auto toks = parsePointer(*path);
    if (!toks) return toks.status();
    Status st;
    if (*name == "add" || *name == "replace" || *name == "test") {
      const json::value* value = op.if_contains("value");
      if (!value) return invalidArgument(where + " (" + std::string(*name) + ") needs \"value\"");
      if (*name == "test") {
        auto cur = getAt(doc, *toks);
        if (!cur) return cur.status();
        if (!jsonEqual(*cur, *value))
          return invalidArgument(where + ": test failed at " + std::string(*path));
        continue;
      }
      st = addAt(doc, *toks, *value, *name == "replace");
    } else if (*name == "remove") {
      st = removeAt(doc, *toks);
    } else if (*name == "move" || *name == "copy") {
      const json::string* from = str("from");
      if (!from) return invalidArgument(where + " needs \"from\"");
      auto ftoks = parsePointer(*from);
      if (!ftoks) return ftoks.status();
      auto v = getAt(doc, *ftoks);
      if (!v) return v.status();
      if (*name == "move") {
        st = removeAt(doc, *ftoks);
        if (!st.isOk()) return st;
      }
      st = addAt(doc, *toks, std::move(*v), false);
    } else {
      return invalidArgument(where + ": unknown op \"" + std::string(*name) + "\"");
    }
    if (!st.isOk())
      return invalidArgument(where + " (" + std::string(*name) + " " + std::string(*path) +
                             "): " + st.message());
  }
  return doc;
}

}  // namespace tessera::apiserver

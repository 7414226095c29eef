#include "apiserver/selector.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "apiserver/object_meta.h"

namespace tessera::apiserver {
namespace json = boost::json;
namespace {

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  void skipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool atEnd() {
    skipSpace();
    return pos_ >= s_.size();
  }
  char peek() {
    skipSpace();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  bool consume(std::string_view tok) {
    skipSpace();
    if (s_.substr(pos_, tok.size()) == tok) {
      pos_ += tok.size();
      return true;
    }
    return false;
  }
  // A key or value: everything up to a delimiter.
  std::string word() {
    skipSpace();
    std::size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '=' || c == '!' ||
          c == '(' || c == ')' || c == '<' || c == '>') {
        break;
      }
      ++pos_;
    }
    return std::string(s_.substr(start, pos_ - start));
  }
  std::size_t pos() const { return pos_; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

Status selectorError(std::string_view text, std::string why) {
  return invalidArgument("unable to parse requirement in label selector \"" + std::string(text) +
                         "\": " + why);
}

const json::value* lookupPath(const json::object& obj, std::string_view path) {
  const json::object* cur = &obj;
  while (true) {
    auto dot = path.find('.');
    auto part = path.substr(0, dot);
    const json::value* v = cur->if_contains(part);
    if (!v) return nullptr;
    if (dot == std::string_view::npos) return v;
    if (!v->is_object()) return nullptr;
    cur = &v->get_object();
    path = path.substr(dot + 1);
  }
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  LabelSelector sel;
  Lexer lx(text);
  if (lx.atEnd()) return sel;
  while (true) {
    LabelRequirement r;
    if (lx.consume("!")) {
      r.key = lx.word();
      r.op = LabelRequirement::Op::kDoesNotExist;
    } else {
      r.key = lx.word();
      if (lx.consume("==") || lx.consume("=")) {
        r.op = LabelRequirement::Op::kEquals;
        r.values.push_back(lx.word());
      } else if (lx.consume("!=")) {
        r.op = LabelRequirement::Op::kNotEquals;
        r.values.push_back(lx.word());
      } else if (lx.peek() == '<' || lx.peek() == '>') {
        return selectorError(text, "operators < and > are not supported");
      } else {
        // "in", "notin", or a bare key (exists)
        Lexer probe = lx;
        std::string op = probe.word();
        if ((op == "in" || op == "notin") && probe.consume("(")) {
          lx = probe;
          r.op = op == "in" ? LabelRequirement::Op::kIn : LabelRequirement::Op::kNotIn;
          if (!lx.consume(")")) {
            while (true) {
              r.values.push_back(lx.word());
              if (lx.consume(")")) break;
              if (!lx.consume(",")) return selectorError(text, "expected ',' or ')' in value set");
            }
          }
          if (r.values.empty())
            return selectorError(text, "for 'in', 'notin' operators, values set can't be empty");
        } else {
          r.op = LabelRequirement::Op::kExists;
        }
      }
    }
    if (r.key.empty()) return selectorError(text, "a label key is required");
    if (!isQualifiedName(r.key)) {
      return selectorError(text, "invalid label key \"" + r.key + "\"");
    }
    for (const auto& v : r.values) {
      if (!isLabelValue(v)) return selectorError(text, "invalid label value: \"" + v + "\"");
    }
    sel.reqs_.push_back(std::move(r));
    if (lx.atEnd()) break;
    if (!lx.consume(",")) {
      return selectorError(text, "found unexpected text at position " + std::to_string(lx.pos()));
    }
  }
  return sel;
}

bool LabelSelector::matches(const json::object* labels) const {
  for (const auto& r : reqs_) {
    const json::value* v = labels ? labels->if_contains(r.key) : nullptr;
    std::string_view val;
    bool has = v && v->is_string();
    if (has) val = v->get_string();
    using Op = LabelRequirement::Op;
    switch (r.op) {
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kDoesNotExist:
        if (has) return false;
        break;
      case Op::kEquals:
        if (!has || val != r.values[0]) return false;
        break;
      case Op::kNotEquals:
        if (has && val == r.values[0]) return false;
        break;
      case Op::kIn:
        if (!has || std::find(r.values.begin(), r.values.end(), val) == r.values.end()) {
          return false;
        }
        break;
      case Op::kNotIn:
        if (has && std::find(r.values.begin(), r.values.end(), val) != r.values.end()) {
          return false;
        }
        break;
    }
  }
  return true;
}

Result<FieldSelector> FieldSelector::parse(std::string_view text,
                                           const std::vector<std::string>& supported) {
  FieldSelector sel;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    auto term = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
    while (!term.empty() && std::isspace(static_cast<unsigned char>(term.front())))
      term.remove_prefix(1);
    while (!term.empty() && std::isspace(static_cast<unsigned char>(term.back())))
      term.remove_suffix(1);
    if (term.empty()) continue;
    FieldRequirement r;
    std::size_t opPos, opLen;
    if ((opPos = term.find("!=")) != std::string_view::npos) {
      r.negate = true;
      opLen = 2;
    } else if ((opPos = term.find("==")) != std::string_view::npos) {
      opLen = 2;
    } else if ((opPos = term.find('=')) != std::string_view::npos) {
      opLen = 1;
    } else {
      return invalidArgument("invalid field selector \"" + std::string(text) +
                             "\": each term must be field=value or field!=value");
    }
    r.field = std::string(term.substr(0, opPos));
    r.value = std::string(term.substr(opPos + opLen));
    while (!r.field.empty() && std::isspace(static_cast<unsigned char>(r.field.back())))
      r.field.pop_back();
    while (!r.value.empty() && std::isspace(static_cast<unsigned char>(r.value.front())))
      r.value.erase(0, 1);
    if (std::find(supported.begin(), supported.end(), r.field) == supported.end()) {
      std::string list;
      for (const auto& s : supported) list += (list.empty() ? "" : ", ") + s;
      return invalidArgument("field label not supported: \"" + r.field + "\" (supported: " + list +
                             ")");
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::matches(const json::object& obj) const {
  for (const auto& r : reqs_) {
    const json::value* v = lookupPath(obj, r.field);
    std::string actual;
    if (v) actual = v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
    bool eq = v && actual == r.value;
    if (r.field == "metadata.namespace" && !v) eq = r.value.empty();
    if (eq == r.negate) return false;
  }
  return true;
}

}  // namespace tessera::apiserver

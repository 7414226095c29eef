#include "apiserver/request_options.h"

#include <boost/json.hpp>
#include <cctype>
#include <vector>

#include "common/crypto.h"

namespace tessera::apiserver {
namespace json = boost::json;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    out.push_back(trim(
        s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start)));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

}  // namespace

std::optional<OutputFormat> negotiateOutput(std::string_view accept) {
  if (trim(accept).empty()) return OutputFormat::kJson;
  for (auto range : split(accept, ',')) {
    auto parts = split(range, ';');
    std::string type(parts[0]);
    for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (type != "application/json" && type != "*/*" && type != "application/*") continue;
    std::string as, g, v;
    for (std::size_t i = 1; i < parts.size(); ++i) {
      auto eq = parts[i].find('=');
      if (eq == std::string_view::npos) continue;
      auto key = trim(parts[i].substr(0, eq));
      auto val = std::string(trim(parts[i].substr(eq + 1)));
      if (key == "as")
        as = val;
      else if (key == "g")
        g = val;
      else if (key == "v")
        v = val;
    }
    if (as.empty()) return OutputFormat::kJson;
    if (as == "Table" && (g.empty() || g == "meta.k8s.io") && (v.empty() || v == "v1")) {
      return OutputFormat::kTable;
    }
  }
  return std::nullopt;
}

std::string encodeContinue(const ContinueToken& t) {
  json::object o;
  o["v"] = 1;
  if (t.auditId) {
    o["a"] = t.auditId;
  } else {
    o["rv"] = t.rv;
    o["ns"] = t.ns;
    o["n"] = t.name;
  }
  return base64UrlEncode(json::serialize(o));
}

Result<ContinueToken> decodeContinue(std::string_view token) {
  std::string raw;
  if (token.size() > 2048 || !base64UrlDecode(token, raw)) {
    return invalidArgument("invalid continue token");
  }
  boost::system::error_code ec;
  json::value v = json::parse(raw, ec);
  if (ec || !v.is_object()) return invalidArgument("invalid continue token");
  const auto& o = v.get_object();
  const auto* ver = o.if_contains("v");
  if (!ver || !ver->is_int64() || ver->get_int64() != 1) {
    return invalidArgument("invalid continue token: unknown version");
  }
  ContinueToken t;
  if (const auto* a = o.if_contains("a")) {
    if (!a->is_int64() || a->get_int64() <= 0) return invalidArgument("invalid continue token");
    t.auditId = a->get_int64();
    return t;
  }
  const auto* rv = o.if_contains("rv");
  const auto* ns = o.if_contains("ns");
  const auto* n = o.if_contains("n");
  if (!rv || !rv->is_int64() || rv->get_int64() <= 0 || !ns || !ns->is_string() || !n ||
      !n->is_string()) {
    return invalidArgument("invalid continue token");
  }
  t.rv = rv->get_int64();
  t.ns = std::string(ns->get_string());
  t.name = std::string(n->get_string());
  return t;
}

}  // namespace tessera::apiserver

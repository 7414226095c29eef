#include "cli/resources.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "cli/output.h"

namespace tessera::cli {
namespace json = boost::json;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> strings(const json::value& v, std::string_view path) {
  std::vector<std::string> out;
  if (const auto* a = at(v, path); a && a->is_array()) {
    for (const auto& x : a->get_array()) {
      if (x.is_string()) out.emplace_back(x.get_string());
    }
  }
  return out;
}

}  // namespace

std::string urlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool Resource::can(std::string_view verb) const {
  return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

std::string Resource::collectionPath(const std::string& ns) const {
  if (namespaced && !ns.empty()) {
    return std::string(kApiPrefix) + "/namespaces/" + urlEncode(ns) + "/" + plural;
  }
  return std::string(kApiPrefix) + "/" + plural;
}

std::string Resource::itemPath(const std::string& ns, const std::string& name) const {
  return collectionPath(ns) + "/" + urlEncode(name);
}

Result<ResourceCatalog> ResourceCatalog::fromDiscovery(const json::value& list) {
  const auto* rs = at(list, "resources");
  if (rs == nullptr || !rs->is_array()) {
    return invalidArgument("the discovery document lists no resources");
  }
  ResourceCatalog c;
  std::vector<std::string> logs;
  for (const auto& r : rs->get_array()) {
    std::string name = text(r, "name");
    if (auto slash = name.find('/'); slash != std::string::npos) {
      if (name.substr(slash + 1) == "log") logs.push_back(name.substr(0, slash));
      continue;
    }
    Resource res;
    res.kind = text(r, "kind");
    res.plural = name;
    res.singular = text(r, "singularName");
    if (res.singular.empty()) res.singular = lower(res.kind);
    res.shortNames = strings(r, "shortNames");
    const auto* ns = at(r, "namespaced");
    res.namespaced = ns && ns->is_bool() && ns->get_bool();
    res.verbs = strings(r, "verbs");
    c.resources_.push_back(std::move(res));
  }
  for (auto& res : c.resources_) {
    res.hasLog = std::find(logs.begin(), logs.end(), res.plural) != logs.end();
  }
  return c;
}

Result<Resource> ResourceCatalog::resolve(std::string_view name) const {
  const std::string want = lower(name);
  for (const auto& r : resources_) {
    if (want == r.plural || want == r.singular || want == lower(r.kind)) return r;
    for (const auto& s : r.shortNames) {
      if (want == lower(s)) return r;
    }
  }
  std::string known;
  for (const auto& r : resources_) known += (known.empty() ? "" : ", ") + r.plural;
  return notFound("the server has no resource type \"" + std::string(name) + "\" (it serves " +
                  known + ")");
}

const Resource* ResourceCatalog::byKind(std::string_view kind) const {
  for (const auto& r : resources_) {
    if (r.kind == kind) return &r;
  }
  return nullptr;
}

}  // namespace tessera::cli

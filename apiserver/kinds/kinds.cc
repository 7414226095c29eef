#include "apiserver/kinds/kinds.h"

#include <boost/json.hpp>

#include "apiserver/object_meta.h"
#include "common/time_util.h"

namespace tessera::apiserver {
namespace json = boost::json;

KindRegistry builtinKinds() {
  return KindRegistry({clusterKind(), cellKind(), shardMapKind(), applicationKind(),
                       resourceQuotaKind(), bindingKind(), replicaKind(), apiTokenKind(),
                       bootstrapTokenKind(), auditEventKind(), placementReviewKind(), proxyKind()});
}

namespace schemas {

Schema dnsLabel() {
  return Schema::string().maxLength(63).format(
      "dns-label", [](const json::value& v) -> std::optional<std::string> {
        if (isDns1123Label(v.get_string())) return std::nullopt;
        return "must be a lowercase RFC 1123 label (e.g. 'dc-a')";
      });
}

Schema dnsSubdomain() {
  return Schema::string().maxLength(253).format(
      "dns-subdomain", [](const json::value& v) -> std::optional<std::string> {
        if (isDns1123Subdomain(v.get_string())) return std::nullopt;
        return "must be a lowercase RFC 1123 subdomain (e.g. 'cluster-a.dc-a')";
      });
}

Schema dateTime() {
  return Schema::string().format(
      "date-time", [](const json::value& v) -> std::optional<std::string> {
        if (parseRfc3339(v.get_string())) return std::nullopt;
        return "must be an RFC 3339 time such as \"2026-11-27T07:34:35Z\"";
      });
}

Schema conditions() {
  return Schema::arrayOf(
             Schema::object({
                 requiredField("type", Schema::string().maxLength(316).describe(
                                           "Type of condition, e.g. Ready.")),
                 requiredField("status", Schema::string().oneOf({"True", "False", "Unknown"})),
                 field("reason", Schema::string().maxLength(1024).describe(
                                     "One-word CamelCase reason for the last transition.")),
                 field("message", Schema::string().maxLength(32768)),
                 field("lastTransitionTime", dateTime()),
                 field("lastHeartbeatTime", dateTime()),
                 field("observedGeneration", Schema::integer().min(0)),
             }))
      .uniqueBy("type")
      .describe("Standard conditions; at most one per type.");
}

Schema resourceList() {
  return Schema::object({
      field("cpu", Schema::quantity().describe("CPU cores, e.g. \"16\" or \"500m\".")),
      field("memory", Schema::quantity().describe("Bytes, e.g. \"64Gi\".")),
      field("pods", Schema::integer().min(0).describe("Maximum number of replicas.")),
  });
}

json::value at(const json::object& obj, std::string_view path) {
  const json::object* cur = &obj;
  while (true) {
    auto dot = path.find('.');
    const json::value* v = cur->if_contains(path.substr(0, dot));
    if (!v) return nullptr;
    if (dot == std::string_view::npos) return *v;
    if (!v->is_object()) return nullptr;
    cur = &v->get_object();
    path = path.substr(dot + 1);
  }
}

json::object& setCondition(json::object& status, std::string_view type, std::string_view value,
                           std::string_view reason, std::string_view message,
                           std::string_view now) {
  json::value& conds = status["conditions"];
  if (!conds.is_array()) conds = json::array();
  json::object* found = nullptr;
  for (auto& c : conds.get_array()) {
    if (!c.is_object()) continue;
    const auto* t = c.get_object().if_contains("type");
    if (t && t->is_string() && t->get_string() == type) found = &c.get_object();
  }
  if (found == nullptr) {
    conds.get_array().push_back(json::object{{"type", type}});
    found = &conds.get_array().back().get_object();
  }
  json::object& c = *found;
  const auto* old = c.if_contains("status");
  if (!old || !old->is_string() || old->get_string() != value ||
      !c.contains("lastTransitionTime")) {
    c["lastTransitionTime"] = now;
  }
  c["status"] = value;
  c["reason"] = reason;
  c["message"] = message;
  return c;
}

std::string conditionStatus(const json::object& obj, std::string_view type) {
  json::value conds = at(obj, "status.conditions");
  if (conds.is_array()) {
    for (const auto& c : conds.get_array()) {
      if (!c.is_object()) continue;
      const auto* t = c.get_object().if_contains("type");
      const auto* s = c.get_object().if_contains("status");
      if (t && t->is_string() && t->get_string() == type && s && s->is_string()) {
        return std::string(s->get_string());
      }
    }
  }
  return "Unknown";
}

}  // namespace schemas
}  // namespace tessera::apiserver

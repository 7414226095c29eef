#include <boost/json.hpp>
#include <set>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

KindInfo bindingKind() {
  KindInfo k;
  k.kind = "Binding";
  k.plural = "bindings";
  k.singular = "binding";
  k.shortNames = {"bind"};
  k.categories = {"tessera"};
  k.description =
      "Where an application runs: its revisions (immutable templates) and, per member cluster "
      "and cell, how many replicas of which revision. Written by the scheduler; the federation "
      "streams each cluster its part.";
  k.namespaced = true;
  Schema revision = Schema::object({
      requiredField("name", dnsSubdomain().describe("Revision name, e.g. demo-5d8f7c.")),
      requiredField("template", applicationTemplate()),
  });
  Schema placement = Schema::object({
      requiredField("cluster", dnsSubdomain()),
      requiredField("cell", dnsSubdomain()),
      requiredField("revision", dnsSubdomain()),
      requiredField("replicas", Schema::integer().min(0).max(10000)),
  });
  k.spec = Schema::object({
      requiredField("application", dnsSubdomain().describe("The application bound.")),
      requiredField("revisions", Schema::arrayOf(revision).minItems(1).uniqueBy("name").describe(
                                     "Revisions in use (one, or two during a release).")),
      field("placements",
            Schema::arrayOf(placement).describe("Replicas per (cluster, cell, revision).")),
  });
  k.spec->rule([](const json::value& v, const std::string& path, std::vector<FieldCause>& errs) {
    const auto& o = v.get_object();
    std::set<std::string> revisions;
    if (const auto* rs = o.if_contains("revisions"); rs && rs->is_array()) {
      for (const auto& r : rs->get_array()) {
        if (r.is_object() && r.get_object().contains("name") &&
            r.get_object().at("name").is_string()) {
          revisions.insert(std::string(r.get_object().at("name").get_string()));
        }
      }
    }
    const auto* ps = o.if_contains("placements");
    if (!ps || !ps->is_array()) return;
    std::set<std::string> seen;
    const auto& arr = ps->get_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_object()) continue;
      const auto& p = arr[i].get_object();
      auto s = [&](const char* key) {
        const auto* f = p.if_contains(key);
        return f && f->is_string() ? std::string(f->get_string()) : std::string();
      };
      const std::string at = path + ".placements[" + std::to_string(i) + "]";
      if (!s("revision").empty() && !revisions.count(s("revision"))) {
        errs.push_back({"FieldValueNotFound",
                        "Not found: \"" + s("revision") + "\": not one of spec.revisions",
                        at + ".revision"});
      }
      if (!seen.insert(s("cluster") + "/" + s("cell") + "/" + s("revision")).second) {
        errs.push_back({"FieldValueDuplicate",
                        "Duplicate value: cluster, cell and revision already placed", at});
      }
    }
  });
  k.status = Schema::object({
      field("observedGeneration", Schema::integer().min(0)),
      field("conditions", conditions()),
  });
  k.access.operatorVerbs = {Verb::kCreate, Verb::kUpdate, Verb::kPatch, Verb::kDelete};
  k.columns = {
      {"Application", "string", "Application", 0,
       [](const json::object& o) { return at(o, "spec.application"); }},
      {"Revisions", "string", "Revisions in use", 0,
       [](const json::object& o) -> json::value {
         std::string s;
         json::value rs = at(o, "spec.revisions");
         if (rs.is_array()) {
           for (const auto& r : rs.get_array()) {
             json::value n = r.is_object() && r.get_object().contains("name")
                                 ? r.get_object().at("name")
                                 : json::value();
             if (!n.is_string()) continue;
             s += (s.empty() ? "" : ",") + std::string(n.get_string());
           }
         }
         return json::value(s);
       }},
      {"Clusters", "integer", "Member clusters with replicas", 0,
       [](const json::object& o) -> json::value {
         std::set<std::string> clusters;
         json::value ps = at(o, "spec.placements");
         if (ps.is_array()) {
           for (const auto& p : ps.get_array()) {
             if (p.is_object() && p.get_object().contains("cluster") &&
                 p.get_object().at("cluster").is_string()) {
               clusters.insert(std::string(p.get_object().at("cluster").get_string()));
             }
           }
         }
         return json::value(static_cast<std::int64_t>(clusters.size()));
       }},
  };
  return k;
}

}  // namespace tessera::apiserver

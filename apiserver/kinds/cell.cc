#include <boost/json.hpp>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

KindInfo cellKind() {
  KindInfo k;
  k.kind = "Cell";
  k.plural = "cells";
  k.singular = "cell";
  k.shortNames = {"cl"};
  k.categories = {"tessera"};
  k.description =
      "A cell (unit): a self-contained slice of the business. RZone cells own user-id buckets, "
      "a GZone cell hosts global services, a CZone cell hosts city-level shared services.";
  k.namespaced = false;
  k.spec = Schema::object({
      requiredField("type", Schema::string()
                                .oneOf({"RZone", "GZone", "CZone"})
                                .describe("RZone (owns user shards), GZone (global, one active), "
                                          "CZone (city-level shared).")),
      requiredField("region", dnsLabel().describe("Region the cell belongs to.")),
      field("clusters", Schema::arrayOf(dnsSubdomain())
                            .describe("Member clusters (of one datacenter) hosting the cell.")),
      field("standby", dnsSubdomain().describe("The cell that takes over in a DR switch.")),
  });
  k.spec->rule([](const json::value& v, const std::string& path, std::vector<FieldCause>& errs) {
    const auto* clusters = v.get_object().if_contains("clusters");
    if (!clusters || !clusters->is_array()) return;
    const auto& arr = clusters->get_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (arr[i] == arr[j]) {
          errs.push_back({"FieldValueDuplicate", "Duplicate value: " + describeValue(arr[i]),
                          path + ".clusters[" + std::to_string(i) + "]"});
        }
      }
    }
  });
  k.status = Schema::object({
      field("phase", Schema::string()
                         .oneOf({"Pending", "Active", "Standby", "Draining", "Down"})
                         .describe("Lifecycle phase of the cell.")),
      field("conditions", conditions()),
      field("observedGeneration", Schema::integer().min(0)),
  });
  k.validateObject = [](const json::object& obj, std::vector<FieldCause>& errs) {
    json::value standby = at(obj, "spec.standby");
    json::value name = at(obj, "metadata.name");
    if (standby.is_string() && name.is_string() && standby == name) {
      errs.push_back(
          {"FieldValueInvalid",
           "Invalid value: " + describeValue(standby) + ": a cell cannot be its own standby",
           "spec.standby"});
    }
  };
  k.columns = {
      {"Type", "string", "Cell type", 0, [](const json::object& o) { return at(o, "spec.type"); }},
      {"Region", "string", "Region", 0, [](const json::object& o) { return at(o, "spec.region"); }},
      {"Clusters", "string", "Member clusters", 0,
       [](const json::object& o) -> json::value {
         json::value c = at(o, "spec.clusters");
         std::string s;
         if (c.is_array()) {
           for (const auto& v : c.get_array()) {
             if (!v.is_string()) continue;
             if (!s.empty()) s += ",";
             s += v.get_string();
           }
         }
         return json::value(s.empty() ? "<none>" : s);
       }},
      {"Standby", "string", "Standby cell", 0,
       [](const json::object& o) { return at(o, "spec.standby"); }},
      {"Phase", "string", "Phase", 0, [](const json::object& o) { return at(o, "status.phase"); }},
  };
  return k;
}

}  // namespace tessera::apiserver

#include <boost/json.hpp>
#include <regex>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

namespace {

Schema envVarName() {
  return Schema::string().format(
      "env-var-name", [](const json::value& v) -> std::optional<std::string> {
        static const std::regex re("^[A-Za-z_][A-Za-z0-9_]*$");
        const auto& s = v.get_string();
        if (!s.empty() && s.size() <= 256 && std::regex_match(s.begin(), s.end(), re))
          return std::nullopt;
        return "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)";
      });
}

Schema portName() {
  return dnsLabel().maxLength(15).describe("Port name, e.g. http (at most 15 characters).");
}

}  // namespace

namespace schemas {

Schema applicationTemplate() {
  Schema ports =
      Schema::arrayOf(Schema::object({
                          requiredField("name", portName()),
                          requiredField("port", Schema::integer().min(1).max(65535).describe(
                                                    "Port the replica listens on.")),
                      }))
          .uniqueBy("name");
  ports.rule([](const json::value& v, const std::string& path, std::vector<FieldCause>& errs) {
    const auto& arr = v.get_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (!arr[i].is_object() || !arr[j].is_object()) continue;
        const auto* a = arr[i].get_object().if_contains("port");
        const auto* b = arr[j].get_object().if_contains("port");
        if (a && b && *a == *b) {
          errs.push_back({"FieldValueDuplicate", "Duplicate value: " + describeValue(*a),
                          path + "[" + std::to_string(i) + "].port"});
        }
      }
    }
  });

  return Schema::object({
      requiredField("command", Schema::arrayOf(Schema::string())
                                   .minItems(1)
                                   .describe("Executable and fixed arguments of a replica.")),
      field("args", Schema::arrayOf(Schema::string()).describe("Further arguments.")),
      field("env", Schema::arrayOf(Schema::object({
                                       requiredField("name", envVarName()),
                                       field("value", Schema::string()),
                                   }))
                       .uniqueBy("name")
                       .describe("Environment variables of a replica.")),
      field("ports", ports.describe("Ports a replica listens on; the first is passed as PORT.")),
      field("resources",
            Schema::object({
                               field("cpu", Schema::quantity().describe("CPU per replica.")),
                               field("memory", Schema::quantity().describe("Memory per replica.")),
                           })
                .describe("Resources requested per replica.")),
      field("readinessProbe",
            Schema::object(
                {
                    requiredField("httpGet",
                                  Schema::object({
                                      requiredField("path", Schema::string().format(
                                                                "http-path",
                                                                [](const json::value& v)
                                                                    -> std::optional<std::string> {
                                                                  const auto& s = v.get_string();
                                                                  if (!s.empty() && s[0] == '/')
                                                                    return std::nullopt;
                                                                  return "must start with '/'";
                                                                })),
                                      field("port", portName().describe(
                                                        "Name of the port to probe; the first port "
                                                        "if omitted.")),
                                  })),
                    field("periodSeconds", Schema::integer().min(1).max(3600).defaultsTo(5)),
                    field("timeoutSeconds", Schema::integer().min(1).max(300).defaultsTo(1)),
                })
                .describe("A replica receives traffic only while this probe succeeds.")),
  });
}

}  // namespace schemas

KindInfo applicationKind() {
  KindInfo k;
  k.kind = "Application";
  k.plural = "applications";
  k.singular = "application";
  k.shortNames = {"app"};
  k.categories = {"tessera"};
  k.description =
      "An application declared once by its team; Tessera places its replicas into cells and "
      "their member clusters.";
  k.namespaced = true;

  Schema templ = schemas::applicationTemplate();

  Schema cells = Schema::object({
      field("names", Schema::arrayOf(dnsSubdomain()).minItems(1).describe("Cells by name.")),
      field(
          "type",
          Schema::string().oneOf({"RZone", "GZone", "CZone"}).describe("Every cell of this type.")),
      field("selector", Schema::stringMap().describe(
                            "Every cell whose labels include all of these (matchLabels).")),
  });
  cells.rule([](const json::value& v, const std::string& path, std::vector<FieldCause>& errs) {
    const auto& o = v.get_object();
    int set = 0;
    for (const char* key : {"names", "type", "selector"}) {
      set += o.contains(key) && !o.at(key).is_null();
    }
    if (set != 1) {
      errs.push_back(
          {"FieldValueInvalid", "exactly one of names, type or selector must be set", path});
    }
  });
  Schema toleration = Schema::object({
      field("key", Schema::string().maxLength(316).describe("Taint key; empty with Exists: all.")),
      field("operator", Schema::string().oneOf({"Equal", "Exists"}).defaultsTo("Equal")),
      field("value", Schema::string().maxLength(63)),
      field("effect", Schema::string()
                          .oneOf({"NoSchedule", "PreferNoSchedule", "NoExecute"})
                          .describe("Empty: every effect.")),
  });
  Schema placement = Schema::object({
      requiredField("cells", cells.describe("Which cells run the application.")),
      field("replicasPerCell", Schema::integer()
                                   .min(0)
                                   .max(10000)
                                   .defaultsTo(1, "totalReplicas")
                                   .describe("Replicas in each selected cell (default 1).")),
      field("totalReplicas",
            Schema::integer().min(0).max(100000).describe(
                "Replicas in all selected cells together, divided in proportion to each "
                "RZone cell's share of the ShardMap's buckets (instead of replicasPerCell).")),
      field("maxSkew", Schema::integer().min(1).max(10000).defaultsTo(1).describe(
                           "Within a cell, replicas on any two eligible clusters differ by at "
                           "most this.")),
      field("tolerations",
            Schema::arrayOf(toleration).describe("Cluster taints the application tolerates.")),
      field("priority", Schema::integer().min(-1000).max(1000).defaultsTo(0).describe(
                            "Higher places first when capacity is short.")),
      field("failover",
            Schema::object({
                               field("enabled", Schema::boolean().defaultsTo(false)),
                               field("gracePeriodSeconds",
                                     Schema::integer().min(10).max(86400).defaultsTo(60).describe(
                                         "How long a cluster may be NotReady "
                                         "before its replicas move.")),
                           })
                .describe("Re-place replicas of a cluster that stays NotReady on the other "
                          "clusters of the same cell.")),
  });
  placement.rule([](const json::value& v, const std::string& path, std::vector<FieldCause>& errs) {
    const auto& o = v.get_object();
    const auto* per = o.if_contains("replicasPerCell");
    const auto* total = o.if_contains("totalReplicas");
    if (per && !per->is_null() && total && !total->is_null()) {
      errs.push_back({"FieldValueInvalid",
                      "Invalid value: at most one of replicasPerCell and totalReplicas may be set",
                      path});
    }
  });

  k.spec = Schema::object({
      requiredField("template", templ.describe("What each replica runs.")),
      requiredField("placement", placement.describe("Where the application runs.")),
  });
  Schema counts = Schema::object({
      requiredField("name", dnsSubdomain()),
      field("replicas", Schema::integer().min(0).describe("Desired replicas.")),
      field("readyReplicas", Schema::integer().min(0)),
  });
  k.status = Schema::object({
      field("observedGeneration", Schema::integer().min(0)),
      field("conditions", conditions()),
      field("replicas", Schema::integer().min(0).describe("Desired replicas, all cells.")),
      field("readyReplicas", Schema::integer().min(0).describe("Replicas ready, all cells.")),
      field("availableReplicas", Schema::integer().min(0)),
      field("restarts", Schema::integer().min(0).describe("Restarts of all replicas.")),
      field("cells",
            Schema::arrayOf(Schema::object({
                                requiredField("name", dnsSubdomain()),
                                field("replicas", Schema::integer().min(0)),
                                field("readyReplicas", Schema::integer().min(0)),
                                field("clusters", Schema::arrayOf(counts).uniqueBy("name")),
                            }))
                .uniqueBy("name")
                .describe("Per cell, and per member cluster in the cell.")),
  });
  k.access.operatorVerbs = {Verb::kCreate, Verb::kUpdate, Verb::kPatch, Verb::kDelete};
  k.columns = {
      {"Cells", "string", "Selected cells", 0,
       [](const json::object& o) -> json::value {
         json::value names = at(o, "spec.placement.cells.names");
         if (names.is_array()) {
           std::string s;
           for (const auto& v : names.get_array()) {
             if (!v.is_string()) continue;
             if (!s.empty()) s += ",";
             s += v.get_string();
           }
           return json::value(s);
         }
         json::value type = at(o, "spec.placement.cells.type");
         if (type.is_string()) return json::value("type=" + std::string(type.get_string()));
         json::value selector = at(o, "spec.placement.cells.selector");
         std::string sel;
         if (selector.is_object()) {
           for (const auto& [label, v] : selector.get_object()) {
             if (!v.is_string()) continue;
             sel +=
                 (sel.empty() ? "" : ",") + std::string(label) + "=" + std::string(v.get_string());
           }
         }
         return json::value(sel.empty() ? "<none>" : sel);
       }},
      {"Per-Cell", "integer", "Replicas per cell (empty with totalReplicas)", 0,
       [](const json::object& o) { return at(o, "spec.placement.replicasPerCell"); }},
      {"Ready", "string", "Ready replicas / replicas", 0,
       [](const json::object& o) -> json::value {
         json::value r = at(o, "status.replicas");
         json::value rr = at(o, "status.readyReplicas");
         if (!r.is_number()) return json::value("-");
         return json::value(json::serialize(rr.is_number() ? rr : json::value(0)) + "/" +
                            json::serialize(r));
       }},
  };
  return k;
}

}  // namespace tessera::apiserver

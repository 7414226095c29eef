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
  });
  cells.rule([](const json::value& v, const std::string& path, std::vector<FieldCause>& errs) {
    const auto& o = v.get_object();
    bool names = o.contains("names") && !o.at("names").is_null();
    bool type = o.contains("type") && !o.at("type").is_null();
    if (names == type) {
      errs.push_back({"FieldValueInvalid", "exactly one of names or type must be set", path});
    }
  });

  k.spec = Schema::object({
      requiredField("template", templ.describe("What each replica runs.")),
      requiredField(
          "placement",
          Schema::object(
              {
                  requiredField("cells", cells.describe("Which cells run the application.")),
                  field("replicasPerCell",
                        Schema::integer().min(0).max(10000).defaultsTo(1).describe(
                            "Replicas in each selected cell.")),
              })
              .describe("Where the application runs.")),
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
         return type.is_string() ? json::value("type=" + std::string(type.get_string())) : type;
       }},
      {"Per-Cell", "integer", "Replicas per cell", 0,
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

#include <boost/json.hpp>
#include <cctype>
#include <regex>
#include <string_view>

#include "apiserver/kinds/kinds.h"
#include "apiserver/object_meta.h"

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

/// RFC 9110 token characters (header and cookie names).
bool isHttpToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

/// A lowercase host name or IP literal, optionally with ":port".
bool isHostHeader(std::string_view s) {
  static const std::regex re(
      "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*|\\[[0-9a-f:.]+\\])"
      "(:[0-9]{1,5})?$");
  return !s.empty() && std::regex_match(s.begin(), s.end(), re);
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

  Schema userIdSource = Schema::object({
      field("header", Schema::string().maxLength(256).format(
                          "http-token",
                          [](const json::value& v) -> std::optional<std::string> {
                            if (isHttpToken(v.get_string())) return std::nullopt;
                            return "must be an HTTP header name (e.g. x-user-id)";
                          })),
      field("cookie", Schema::string().maxLength(256).format(
                          "http-token",
                          [](const json::value& v) -> std::optional<std::string> {
                            if (isHttpToken(v.get_string())) return std::nullopt;
                            return "must be a cookie name (letters, digits, -_.)";
                          })),
      field("query", Schema::string().maxLength(256).format(
                         "query-name",
                         [](const json::value& v) -> std::optional<std::string> {
                           if (!v.get_string().empty()) return std::nullopt;
                           return "must not be empty";
                         })),
  });
  userIdSource.rule(
      [](const json::value& v, const std::string& path, std::vector<FieldCause>& errs) {
        const auto& o = v.get_object();
        int set = 0;
        for (const char* key : {"header", "cookie", "query"}) {
          set += o.contains(key) && !o.at(key).is_null();
        }
        if (set != 1) {
          errs.push_back(
              {"FieldValueInvalid", "exactly one of header, cookie or query must be set", path});
        }
      });
  Schema traffic = Schema::object({
      field("port", portName().describe("The template port that takes the traffic (default: the "
                                        "first port).")),
      field("pathPrefix",
            Schema::string()
                .maxLength(1024)
                .defaultsTo("/")
                .format("http-path",
                        [](const json::value& v) -> std::optional<std::string> {
                          const auto& s = v.get_string();
                          if (!s.empty() && s[0] == '/' &&
                              s.find_first_of(" ?#") == json::string::npos)
                            return std::nullopt;
                          return "must start with '/' and hold no space, '?' or '#'";
                        })
                .describe("Requests whose path starts with this go to the application.")),
      field("hosts", Schema::arrayOf(Schema::string().maxLength(253).format(
                                         "host",
                                         [](const json::value& v) -> std::optional<std::string> {
                                           if (isHostHeader(v.get_string())) return std::nullopt;
                                           return "must be a lowercase host name, optionally "
                                                  "with :port (as clients send it in Host)";
                                         }))
                         .describe("Only requests with one of these Host headers (default: "
                                   "any).")),
      field("unitized", Schema::boolean().defaultsTo(false).describe(
                            "Route each user to the cell that owns its bucket (ShardMap); "
                            "otherwise to the application's cells in the proxy's datacenter.")),
      field("userId",
            Schema::arrayOf(userIdSource)
                .describe("Where the user id is, tried in order (default: header x-user-id).")),
      field("defaultCell",
            Schema::string()
                .maxLength(253)
                .defaultsTo("local")
                .format("cell-or-local",
                        [](const json::value& v) -> std::optional<std::string> {
                          const auto& s = v.get_string();
                          if (s == "local" || isDns1123Subdomain(s)) return std::nullopt;
                          return "must be \"local\" or a cell name";
                        })
                .describe("Unitized requests without a user id: \"local\" (a cell of the "
                          "proxy's datacenter) or a cell.")),
      field("shardMap", dnsSubdomain().defaultsTo("default").describe(
                            "The ShardMap that says which cell owns a user (unitized).")),
  });

  k.spec = Schema::object({
      requiredField("template", templ.describe("What each replica runs.")),
      requiredField("placement", placement.describe("Where the application runs.")),
      field("traffic", traffic.describe("How the mesh proxies route user traffic to it (none: "
                                        "the proxies do not route to it).")),
  });
  k.validateObject = [](const json::object& obj, std::vector<FieldCause>& errs) {
    json::value trafficSpec = at(obj, "spec.traffic");
    if (!trafficSpec.is_object()) return;
    json::value ports = at(obj, "spec.template.ports");
    const bool hasPorts = ports.is_array() && !ports.get_array().empty();
    if (!hasPorts) {
      errs.push_back({"FieldValueRequired",
                      "Required value: traffic needs a port: declare spec.template.ports",
                      "spec.traffic"});
      return;
    }
    const auto* port = trafficSpec.get_object().if_contains("port");
    if (!port || !port->is_string()) return;
    for (const auto& p : ports.get_array()) {
      if (p.is_object() && p.get_object().if_contains("name") && p.get_object().at("name") == *port)
        return;
    }
    errs.push_back({"FieldValueNotFound",
                    "Not found: " + describeValue(*port) + ": no such port in spec.template.ports",
                    "spec.traffic.port"});
  };
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

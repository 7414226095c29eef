#include <boost/json.hpp>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

KindInfo replicaKind() {
  KindInfo k;
  k.kind = "Replica";
  k.plural = "replicas";
  k.singular = "replica";
  k.shortNames = {"rep"};
  k.categories = {"tessera"};
  k.description =
      "One running copy of an application in a member cluster, as its agent last reported it. "
      "Written by Tessera; read-only through the API. GET .../replicas/<name>/log?tailLines=N "
      "fetches its recent output through the cluster's agent.";
  k.namespaced = true;
  k.systemManaged = true;
  k.hasLog = true;
  k.spec = Schema::object({
      requiredField("application", dnsSubdomain()),
      requiredField("revision", dnsSubdomain()),
      requiredField("cell", dnsSubdomain()),
      requiredField("cluster", dnsSubdomain()),
      field("zone", Schema::string().describe("Datacenter of the cluster.")),
      field("region", Schema::string()),
      field("ordinal", Schema::integer().min(0)),
  });
  k.status = Schema::object({
      field("state", Schema::string().oneOf({"Starting", "Running", "Ready", "BackOff", "Stopping",
                                             "Failed", "Unknown"})),
      field("ready", Schema::boolean()),
      field("restarts", Schema::integer().min(0)),
      field("lastExitCode", Schema::integer()),
      field("message", Schema::string().maxLength(4096)),
      field("host", Schema::string()),
      field("ports", Schema::arrayOf(Schema::object({
                         requiredField("name", Schema::string()),
                         requiredField("port", Schema::integer().min(1).max(65535)),
                     }))),
      field("endpoint", Schema::string().describe("host:port of the first port.")),
      field("startedAt", dateTime()),
      field("pid", Schema::integer().min(0).describe("Process id (process runtime).")),
  });
  k.columns = {
      {"Cluster", "string", "Member cluster", 0,
       [](const json::object& o) { return at(o, "spec.cluster"); }},
      {"Zone", "string", "Datacenter", 1, [](const json::object& o) { return at(o, "spec.zone"); }},
      {"Cell", "string", "Cell", 0, [](const json::object& o) { return at(o, "spec.cell"); }},
      {"Revision", "string", "Revision", 0,
       [](const json::object& o) { return at(o, "spec.revision"); }},
      {"State", "string", "State", 0, [](const json::object& o) { return at(o, "status.state"); }},
      {"Restarts", "integer", "Restarts", 0,
       [](const json::object& o) { return at(o, "status.restarts"); }},
      {"Endpoint", "string", "host:port", 0,
       [](const json::object& o) { return at(o, "status.endpoint"); }},
  };
  return k;
}

}  // namespace tessera::apiserver

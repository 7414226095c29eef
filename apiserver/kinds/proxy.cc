#include <boost/json.hpp>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

KindInfo proxyKind() {
  KindInfo k;
  k.kind = "Proxy";
  k.plural = "proxies";
  k.singular = "proxy";
  k.shortNames = {"px"};
  k.categories = {"tessera"};
  k.description =
      "A tessera-proxy known to the mesh control plane, named after its node id: where it runs, "
      "the configuration version it was sent and the one it acknowledged, and the reason of its "
      "last NACK. Written by Tessera when the proxy connects, acknowledges or rejects a "
      "configuration, and disconnects; read-only through the API.";
  k.namespaced = false;
  k.systemManaged = true;
  k.spec = Schema::object({
      requiredField("datacenter", dnsLabel().describe("The datacenter (zone) it serves.")),
      field("cell", Schema::string().maxLength(253).describe(
                        "For sidecars: the cell of the application; empty for gateways.")),
      requiredField("role", Schema::string()
                                .oneOf({"gateway", "sidecar"})
                                .describe("gateway: takes user traffic for a datacenter; "
                                          "sidecar: beside one application's replicas.")),
      field("listenAddress", Schema::string().maxLength(300).describe(
                                 "host:port where it takes user traffic (gateways: reachable "
                                 "from the other datacenters' gateways).")),
      field("adminAddress", Schema::string().maxLength(300).describe(
                                "host:port of its admin endpoint (/stats, /config_dump).")),
      field("buildVersion", Schema::string().maxLength(128).describe("tessera-proxy version.")),
  });
  Schema typeVersions = Schema::object({
      field("cluster", Schema::string().describe("Acknowledged version of the clusters.")),
      field("shardMap", Schema::string().describe("... of the shard maps.")),
      field("routeTable", Schema::string().describe("... of the route tables.")),
      field("listener", Schema::string().describe("... of the listeners.")),
  });
  k.status = Schema::object({
      field("connected", Schema::boolean().describe("It holds a stream to the control plane.")),
      field("desiredVersion",
            Schema::string().describe("Version of the whole configuration it should have.")),
      field("ackedVersion",
            Schema::string().describe("Version of the whole configuration it acknowledged; equal "
                                      "to desiredVersion when it is in sync.")),
      field("acked", typeVersions.describe("Acknowledged version per resource type.")),
      field("shardMaps", Schema::arrayOf(Schema::object({
                                             requiredField("name", Schema::string()),
                                             requiredField("version", Schema::integer().min(0)),
                                         }))
                             .uniqueBy("name")
                             .describe("Per ShardMap: the version (status.version of the "
                                       "ShardMap object) it acknowledged.")),
      field("lastNackReason", Schema::string().maxLength(4096).describe(
                                  "Why it rejected its last rejected configuration.")),
      field("lastNackTime", dateTime()),
      field("lastAckTime", dateTime()),
      field("lastSeenTime",
            dateTime().describe("Refreshed while it is connected (at most every 30 s), and when "
                                "it connects, acknowledges, rejects or disconnects.")),
      field("conditions",
            conditions().describe("InSync: True when ackedVersion == desiredVersion; False with "
                                  "reason Pushing, Nacked or Disconnected.")),
  });
  auto lastNack = [](const json::object& o) -> json::value {
    json::value r = at(o, "status.lastNackReason");
    if (!r.is_string() || r.get_string().empty()) return json::value("<none>");
    std::string s(r.get_string());
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return json::value(s);
  };
  k.columns = {
      {"Datacenter", "string", "Datacenter", 0,
       [](const json::object& o) { return at(o, "spec.datacenter"); }},
      {"Role", "string", "gateway or sidecar", 0,
       [](const json::object& o) { return at(o, "spec.role"); }},
      {"Cell", "string", "Cell (sidecars)", 0,
       [](const json::object& o) { return at(o, "spec.cell"); }},
      {"Acked", "string", "Acknowledged configuration version", 0,
       [](const json::object& o) { return at(o, "status.ackedVersion"); }},
      {"In-Sync", "string", "The InSync condition", 0,
       [](const json::object& o) -> json::value {
         json::value c = at(o, "status.connected");
         if (c.is_bool() && !c.get_bool()) return json::value("Disconnected");
         return json::value(conditionStatus(o, "InSync"));
       }},
      {"Last-NACK", "string", "Reason of the last rejected configuration", 0, lastNack},
      {"Last-Seen", "date", "When the control plane last heard from it", 0,
       [](const json::object& o) { return at(o, "status.lastSeenTime"); }},
      {"Listen", "string", "Listen address", 1,
       [](const json::object& o) { return at(o, "spec.listenAddress"); }},
      {"Desired", "string", "Configuration version it should have", 1,
       [](const json::object& o) { return at(o, "status.desiredVersion"); }},
  };
  return k;
}

}  // namespace tessera::apiserver

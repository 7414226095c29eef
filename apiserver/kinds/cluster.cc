#include <boost/json.hpp>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

KindInfo clusterKind() {
  KindInfo k;
  k.kind = "Cluster";
  k.plural = "clusters";
  k.singular = "cluster";
  k.shortNames = {"mc"};
  k.categories = {"tessera"};
  k.description =
      "A member cluster: a place that runs workloads (a Kubernetes cluster, or hosts run by the "
      "Tessera agent), living in one datacenter (zone) of one region.";
  k.namespaced = false;
  k.spec = Schema::object({
      requiredField("region", dnsLabel().describe("Region the cluster lives in, e.g. region-1.")),
      requiredField("zone", dnsLabel().describe(
                                "Datacenter (failure domain) the cluster lives in, e.g. dc-a.")),
      field("runtime", Schema::string()
                           .oneOf({"process", "kubernetes"})
                           .defaultsTo("process")
                           .describe("How the agent runs replicas: child processes on the "
                                     "agent's host (process) or a Kubernetes cluster.")),
      field("capacity", resourceList().describe("Total resources the cluster offers.")),
      field("taints",
            Schema::arrayOf(
                Schema::object({
                    requiredField("key", Schema::string().maxLength(316)),
                    field("value", Schema::string().maxLength(63)),
                    requiredField("effect", Schema::string().oneOf(
                                                {"NoSchedule", "PreferNoSchedule", "NoExecute"})),
                }))
                .describe("Applications without a matching toleration are not placed here.")),
  });
  k.status = Schema::object({
      field("conditions", conditions()),
      field("capacity", resourceList().describe("Capacity as reported by the agent.")),
      field("allocatable", resourceList().describe(
                               "Resources available for Tessera replicas, reported by the agent.")),
      field("lastHeartbeatTime", dateTime().describe("When the agent was last heard from.")),
      field("observedGeneration", Schema::integer().min(0)),
  });
  k.columns = {
      {"Region", "string", "Region", 0, [](const json::object& o) { return at(o, "spec.region"); }},
      {"Zone", "string", "Datacenter", 0, [](const json::object& o) { return at(o, "spec.zone"); }},
      {"Runtime", "string", "Runtime", 0,
       [](const json::object& o) { return at(o, "spec.runtime"); }},
      {"Ready", "string", "Ready condition", 0,
       [](const json::object& o) { return json::value(conditionStatus(o, "Ready")); }},
      {"Heartbeat", "string", "Last heartbeat", 1,
       [](const json::object& o) { return at(o, "status.lastHeartbeatTime"); }},
  };
  return k;
}

}  // namespace tessera::apiserver

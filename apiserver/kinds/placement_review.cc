#include <boost/json.hpp>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

KindInfo placementReviewKind() {
  KindInfo k;
  k.kind = "PlacementReview";
  k.plural = "placementreviews";
  k.singular = "placementreview";
  k.categories = {};
  k.description =
      "What-if: where would the applications run if these datacenters or clusters were lost, or "
      "if an application had this many replicas? Create one to ask; the answer is in the "
      "response's status and nothing is written or changed.";
  k.namespaced = false;
  k.review = true;
  Schema override = Schema::object({
      requiredField("namespace", dnsLabel()),
      requiredField("name", dnsSubdomain()),
      field("replicasPerCell", Schema::integer().min(0).max(10000)),
      field("totalReplicas", Schema::integer().min(0).max(100000)),
  });
  k.spec = Schema::object({
      field("lostZones", Schema::arrayOf(dnsLabel()).describe("Datacenters to assume lost.")),
      field("lostClusters",
            Schema::arrayOf(dnsSubdomain()).describe("Member clusters to assume lost.")),
      field("failover",
            Schema::boolean().defaultsTo(true).describe(
                "Assume every application fails over (re-places within its cells); false: "
                "each application's own setting.")),
      field("applications",
            Schema::arrayOf(override).describe(
                "Report only these applications, with these replica counts (all: empty).")),
  });
  k.status = Schema::object({
      field("applications", Schema::arrayOf(Schema::object({}))),
      field("summary", Schema::object({})),
  });
  k.access.operatorVerbs = {Verb::kCreate};
  return k;
}

}  // namespace tessera::apiserver

#include <boost/json.hpp>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

KindInfo resourceQuotaKind() {
  KindInfo k;
  k.kind = "ResourceQuota";
  k.plural = "resourcequotas";
  k.singular = "resourcequota";
  k.shortNames = {"quota"};
  k.categories = {"tessera"};
  k.description =
      "The most a namespace's applications may request together (all replicas, all cells). "
      "The scheduler stops placing new replicas at the limit; it never removes running ones.";
  k.namespaced = true;
  k.spec = Schema::object({
      requiredField("hard", resourceList().describe(
                                "Limits: cpu and memory (quantities) and pods (replicas).")),
  });
  k.status = Schema::object({
      field("used", resourceList().describe("What the namespace's placed replicas request.")),
  });
  k.columns = {
      {"CPU", "string", "Hard cpu", 0,
       [](const json::object& o) { return at(o, "spec.hard.cpu"); }},
      {"Memory", "string", "Hard memory", 0,
       [](const json::object& o) { return at(o, "spec.hard.memory"); }},
      {"Pods", "integer", "Hard pods", 0,
       [](const json::object& o) { return at(o, "spec.hard.pods"); }},
      {"Used-CPU", "string", "Used cpu", 0,
       [](const json::object& o) { return at(o, "status.used.cpu"); }},
      {"Used-Pods", "integer", "Used pods", 0,
       [](const json::object& o) { return at(o, "status.used.pods"); }},
  };
  return k;
}

}  // namespace tessera::apiserver

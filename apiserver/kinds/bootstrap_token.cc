#include <boost/json.hpp>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

KindInfo bootstrapTokenKind() {
  KindInfo k;
  k.kind = "BootstrapToken";
  k.plural = "bootstraptokens";
  k.singular = "bootstraptoken";
  k.description =
      "A single-use token with which a new member cluster's agent registers. Creating one "
      "returns the secret once, in status.token; only its SHA-256 is stored. It expires (24 h "
      "after creation unless spec.expirationTimestamp says otherwise) and is spent by its first "
      "successful registration.";
  k.namespaced = false;
  k.spec = Schema::object({
      field("cluster", dnsSubdomain().describe("Only this cluster may register with it.")),
      field("expirationTimestamp", dateTime().describe("Default: 24 hours after creation.")),
      field("description", Schema::string().maxLength(1024)),
  });
  k.status = Schema::object({
      field("usedAt", dateTime().describe("When a cluster registered with it.")),
      field("usedBy", dnsSubdomain().describe("The cluster that registered with it.")),
  });
  k.access.adminOnly = true;
  k.issuesCredential = true;
  k.prepareCreate = [](json::object& obj, SystemTime now) {
    auto& spec = obj["spec"].as_object();
    if (!spec.contains("expirationTimestamp")) {
      spec["expirationTimestamp"] = formatRfc3339(now + std::chrono::hours(24));
    }
  };
  k.columns = {
      {"Cluster", "string", "Reserved for", 0,
       [](const json::object& o) -> json::value {
         json::value c = at(o, "spec.cluster");
         return c.is_string() ? c : json::value("<any>");
       }},
      {"Expires", "string", "Expiration", 0,
       [](const json::object& o) { return at(o, "spec.expirationTimestamp"); }},
      {"Used-By", "string", "Registered cluster", 0,
       [](const json::object& o) { return at(o, "status.usedBy"); }},
  };
  return k;
}

}  // namespace tessera::apiserver

#include <boost/json.hpp>
#include <regex>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

KindInfo apiTokenKind() {
  KindInfo k;
  k.kind = "APIToken";
  k.plural = "apitokens";
  k.singular = "apitoken";
  k.shortNames = {"token"};
  k.description =
      "A bearer token for the API. Creating one returns the secret once, in status.token; only "
      "its SHA-256 hash is stored. Deleting it revokes it.";
  k.namespaced = false;
  k.spec = Schema::object({
      requiredField("user", Schema::string()
                                .maxLength(128)
                                .format("username",
                                        [](const json::value& v) -> std::optional<std::string> {
                                          static const std::regex re(
                                              "^[A-Za-z0-9][A-Za-z0-9:._@-]*$");
                                          const auto& s = v.get_string();
                                          if (std::regex_match(s.begin(), s.end(), re))
                                            return std::nullopt;
                                          return "must be letters, digits and ':._@-'";
                                        })
                                .describe("The user this token authenticates as (audited).")),
      requiredField("role",
                    Schema::string()
                        .oneOf({"viewer", "operator", "admin", "agent", "proxy"})
                        .describe("viewer: read; operator: read + day-to-day operations; admin: "
                                  "everything; agent: a member cluster's agent (agent protocol "
                                  "only, nothing through the REST API); proxy: a mesh proxy "
                                  "(mesh protocol only, nothing through the REST API).")),
      field("expirationTimestamp",
            dateTime().describe("After this time the token is refused. Never, if omitted.")),
      field("description", Schema::string().maxLength(1024)),
  });
  k.access.adminOnly = true;
  k.issuesCredential = true;
  k.validateUpdate = [](const json::object& oldObj, const json::object& newObj,
                        std::vector<FieldCause>& errs) {
    if (at(oldObj, "spec.user") != at(newObj, "spec.user")) {
      errs.push_back({"FieldValueForbidden",
                      "Forbidden: the user of a token cannot change; create a new token",
                      "spec.user"});
    }
  };
  k.columns = {
      {"User", "string", "User", 0, [](const json::object& o) { return at(o, "spec.user"); }},
      {"Role", "string", "Role", 0, [](const json::object& o) { return at(o, "spec.role"); }},
      {"Expires", "string", "Expiration", 0,
       [](const json::object& o) -> json::value {
         json::value e = at(o, "spec.expirationTimestamp");
         return e.is_string() ? e : json::value("<never>");
       }},
  };
  return k;
}

}  // namespace tessera::apiserver

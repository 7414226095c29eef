#include <boost/json.hpp>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

KindInfo auditEventKind() {
  KindInfo k;
  k.kind = "AuditEvent";
  k.plural = "auditevents";
  k.singular = "auditevent";
  k.shortNames = {"audit"};
  k.description =
      "One audited request: every mutating request and every denied one. Read-only; filter with "
      "fieldSelector (user.username, verb, objectRef.resource, objectRef.namespace, "
      "objectRef.name, responseStatus.code) and the since/until query parameters.";
  k.namespaced = false;
  k.backend = StorageBackend::kAudit;
  k.extraFieldSelectors = {"user.username",       "verb",           "objectRef.resource",
                           "objectRef.namespace", "objectRef.name", "responseStatus.code"};
  k.columns = {
      {"Time", "string", "When the request was received", 0,
       [](const json::object& o) { return at(o, "requestReceivedTimestamp"); }},
      {"User", "string", "Who", 0, [](const json::object& o) { return at(o, "user.username"); }},
      {"Verb", "string", "Verb", 0, [](const json::object& o) { return at(o, "verb"); }},
      {"Resource", "string", "Resource", 0,
       [](const json::object& o) { return at(o, "objectRef.resource"); }},
      {"Object", "string", "Namespace/name", 0,
       [](const json::object& o) -> json::value {
         json::value ns = at(o, "objectRef.namespace");
         json::value name = at(o, "objectRef.name");
         std::string s = ns.is_string() && !ns.get_string().empty()
                             ? std::string(ns.get_string()) + "/"
                             : std::string();
         if (name.is_string()) s += name.get_string();
         return json::value(s);
       }},
      {"Code", "integer", "HTTP status", 0,
       [](const json::object& o) { return at(o, "responseStatus.code"); }},
  };
  return k;
}

}  // namespace tessera::apiserver

// The kinds Tessera serves. Each function returns one KindInfo; builtinKinds() lists them in
// discovery order. To add a kind: add a file here and a line in kinds.cc.
#pragma once

#include "apiserver/kind.h"

namespace tessera::apiserver {

KindInfo clusterKind();
KindInfo cellKind();
KindInfo applicationKind();
KindInfo apiTokenKind();
KindInfo auditEventKind();
KindInfo bindingKind();
KindInfo replicaKind();
KindInfo bootstrapTokenKind();
KindInfo shardMapKind();
KindInfo placementReviewKind();
KindInfo resourceQuotaKind();
KindInfo proxyKind();

KindRegistry builtinKinds();

// Building blocks shared by the kinds' schemas.
namespace schemas {
Schema dnsLabel();      // string, RFC 1123 label
Schema dnsSubdomain();  // string, RFC 1123 subdomain
Schema dateTime();      // string, RFC 3339
Schema conditions();    // []{type, status, reason, message, lastTransitionTime}
Schema resourceList();  // {cpu, memory, pods}
/// What one replica runs: command, args, env, ports, resources, readiness probe (Application
/// spec.template, Binding spec.revisions[].template).
Schema applicationTemplate();
/// Value at a dotted path ("spec.region") or null.
boost::json::value at(const boost::json::object& obj, std::string_view path);
/// The status of condition `type` ("True"/"False"/"Unknown"), or "Unknown" if absent.
std::string conditionStatus(const boost::json::object& obj, std::string_view type);
/// Sets condition `type` in `status.conditions` (an object's status; created as needed):
/// status, reason and message; lastTransitionTime becomes `now` when the status changes or
/// the condition is new. Other fields of the condition are kept. Returns the condition.
boost::json::object& setCondition(boost::json::object& status, std::string_view type,
                                  std::string_view value, std::string_view reason,
                                  std::string_view message, std::string_view now);
}  // namespace schemas

}  // namespace tessera::apiserver

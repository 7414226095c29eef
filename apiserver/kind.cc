#include "apiserver/kind.h"

namespace tessera::apiserver {

std::string_view verbName(Verb v) {
  switch (v) {
    case Verb::kGet:
      return "get";
    case Verb::kList:
      return "list";
    case Verb::kWatch:
      return "watch";
    case Verb::kCreate:
      return "create";
    case Verb::kUpdate:
      return "update";
    case Verb::kPatch:
      return "patch";
    case Verb::kDelete:
      return "delete";
  }
  return "unknown";
}

bool isReadVerb(Verb v) {
  return v == Verb::kGet || v == Verb::kList || v == Verb::kWatch;
}

std::string_view roleName(Role r) {
  switch (r) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
    case Role::kAgent:
      return "agent";
    case Role::kProxy:
      return "proxy";
  }
  return "unknown";
}

std::optional<Role> parseRole(std::string_view s) {
  if (s == "viewer") return Role::kViewer;
  if (s == "operator") return Role::kOperator;
  if (s == "admin") return Role::kAdmin;
  if (s == "agent") return Role::kAgent;
  if (s == "proxy") return Role::kProxy;
  return std::nullopt;
}

std::vector<Verb> KindInfo::verbs() const {
  if (readOnly()) return {Verb::kGet, Verb::kList};
  if (review) return {Verb::kCreate};
  if (systemManaged) return {Verb::kGet, Verb::kList, Verb::kWatch};
  return {Verb::kCreate, Verb::kDelete, Verb::kGet,  Verb::kList,
          Verb::kPatch,  Verb::kUpdate, Verb::kWatch};
}

KindRegistry::KindRegistry(std::vector<KindInfo> kinds) : kinds_(std::move(kinds)) {}

const KindInfo* KindRegistry::byPlural(std::string_view plural) const {
  for (const auto& k : kinds_) {
    if (k.plural == plural) return &k;
  }
  return nullptr;
}

const KindInfo* KindRegistry::byKind(std::string_view kind) const {
  for (const auto& k : kinds_) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

}  // namespace tessera::apiserver

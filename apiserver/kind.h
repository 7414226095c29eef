// KindInfo: everything the API server knows about one kind (Cluster, Cell, Application, ...).
//
// Adding a kind is a local change: write one file under kinds/ that returns a KindInfo (names,
// scope, schema, printer columns, access policy) and list it in kinds/kinds.cc. Storage,
// REST verbs, discovery, OpenAPI, tables, watch and audit are generic over KindInfo.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/schema.h"
#include "common/time_util.h"

namespace tessera::apiserver {

inline constexpr char kGroup[] = "tessera.io";
inline constexpr char kVersion[] = "v1";
inline constexpr char kApiVersion[] = "tessera.io/v1";

enum class Verb { kGet, kList, kWatch, kCreate, kUpdate, kPatch, kDelete };
std::string_view verbName(Verb v);
bool isReadVerb(Verb v);

/// Roles, from least to most privileged. See docs/auth.md for the matrix. kAgent is the
/// identity of a member cluster's agent: it speaks the agent protocol only and may do nothing
/// through the REST API. kProxy is a mesh proxy's: it speaks the mesh protocol only (the
/// control plane's gRPC stream) and may do nothing through the REST API either.
enum class Role { kViewer, kOperator, kAdmin, kAgent, kProxy };
std::string_view roleName(Role r);
std::optional<Role> parseRole(std::string_view s);

struct PrinterColumn {
  std::string name;  // column header, e.g. "Region"
  std::string type;  // OpenAPI type of the cell: "string", "integer", "date"
  std::string description;
  int priority = 0;  // 0: always shown; 1: only with -o wide
  std::function<boost::json::value(const boost::json::object& obj)> value;
};

/// What each role may do with a kind. Admins may do everything; viewers and operators read
/// unless `adminOnly`; operators additionally get `operatorVerbs` on the main resource.
struct AccessPolicy {
  bool adminOnly = false;
  std::vector<Verb> operatorVerbs;
};

enum class StorageBackend {
  kObjects,  // the generic versioned object store
  kAudit,    // served from the audit log (AuditEvent): read-only
};

struct KindInfo {
  std::string kind;      // "Cluster"
  std::string plural;    // "clusters"
  std::string singular;  // "cluster"
  std::vector<std::string> shortNames;
  std::vector<std::string> categories;  // e.g. "tessera", for `kubectl get tessera`
  std::string description;
  bool namespaced = false;
  StorageBackend backend = StorageBackend::kObjects;

  std::optional<Schema> spec;    // required for kObjects kinds
  std::optional<Schema> status;  // set when the kind has a /status subresource

  std::vector<PrinterColumn> columns;  // AGE is appended by the table printer
  AccessPolicy access;

  /// Checks that need the whole object (e.g. a Cell may not name itself as standby).
  std::function<void(const boost::json::object& obj, std::vector<FieldCause>& errors)>
      validateObject;
  /// Checks on update that compare old and new (e.g. immutable fields).
  std::function<void(const boost::json::object& oldObj, const boost::json::object& newObj,
                     std::vector<FieldCause>& errors)>
      validateUpdate;

  /// The object authenticates API clients (APIToken): create mints a secret whose hash is
  /// stored beside the object; the secret itself is returned once and never stored.
  bool issuesCredential = false;

  /// Objects of this kind are written by Tessera itself (Replica): the REST API serves them
  /// read-only; in-process writers go through the Registry as usual.
  bool systemManaged = false;

  /// The kind is a question, not a stored object (PlacementReview, like Kubernetes'
  /// SubjectAccessReview): it can only be created, nothing is written, and the answer comes
  /// back in the created object's status (ApiHandler::setReviewProvider).
  bool review = false;

  /// The kind has a `log` subresource (GET .../<name>/log), served by a provider that main
  /// wires in (ApiHandler::setLogProvider).
  bool hasLog = false;

  /// Fills server-side defaults that depend on the moment of creation (e.g. an expiry).
  std::function<void(boost::json::object& obj, SystemTime now)> prepareCreate;

  /// Runs when a create or a spec write changes the spec (`before` is null on create), after
  /// validation and before the write: e.g. a ShardMap records its version and history in
  /// its status. `user` is who asked.
  std::function<void(const boost::json::object* before, boost::json::object& next,
                     const std::string& user, SystemTime now)>
      onSpecChange;

  /// Field selectors beyond metadata.name / metadata.namespace (AuditEvent only today).
  std::vector<std::string> extraFieldSelectors;

  bool hasStatus() const { return status.has_value(); }
  bool readOnly() const { return backend == StorageBackend::kAudit; }
  std::string listKind() const { return kind + "List"; }
  /// Verbs advertised in discovery.
  std::vector<Verb> verbs() const;
};

/// The set of kinds served, with lookups. Immutable after construction; thread-safe.
class KindRegistry {
 public:
  explicit KindRegistry(std::vector<KindInfo> kinds);

  const KindInfo* byPlural(std::string_view plural) const;
  const KindInfo* byKind(std::string_view kind) const;
  const std::vector<KindInfo>& all() const { return kinds_; }

 private:
  std::vector<KindInfo> kinds_;
};

}  // namespace tessera::apiserver

// Storage: the versioned object store behind the API (Kubernetes' "storage.Interface").
//
// Every write gets a new resource version, unique and increasing across all kinds; a write
// succeeds atomically together with its audit record or not at all. Implementations must run
// blocking I/O off the calling thread: every method is an awaitable that resumes on the
// caller's executor.
//
// Consistency contract (what watch and pagination rely on):
//   - list() returns a consistent snapshot "as of" ListPage::rv: every change with a version
//     <= rv is reflected, no change with a version > rv is;
//   - a list without atRv reflects every write acknowledged before the call started;
//   - changesSince(n) returns every change with version > n, in version order, exactly once.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apiserver/selector.h"
#include "common/status.h"
#include "common/time_util.h"

namespace tessera::apiserver {

template <typename T>
using Awaitable = boost::asio::awaitable<T>;

struct ObjectKey {
  // A constructor (not an aggregate) on purpose: GCC 12 miscompiles a braced aggregate
  // initializer passed directly as a coroutine argument (see docs/architecture.md).
  ObjectKey() = default;
  ObjectKey(std::string k, std::string n, std::string nm)
      : kind(std::move(k)), ns(std::move(n)), name(std::move(nm)) {}
  std::string kind;  // "Cluster"
  std::string ns;    // "" for cluster-scoped kinds
  std::string name;
};

/// An object as stored: its JSON text (metadata.resourceVersion filled in) and version.
struct StoredObject {
  std::int64_t rv = 0;
  std::string json;
};

/// Who did what, and how it ended. One row per audited request.
struct AuditRecord {
  SystemTime received;
  std::string user;
  std::string role;
  std::string verb;         // create, update, patch, delete, get, list, watch
  std::string resource;     // plural
  std::string subresource;  // "status" or ""
  std::string ns;
  std::string name;
  int code = 0;         // HTTP status of the response
  std::string reason;   // Status reason for failures
  std::string message;  // short failure message
  std::string requestId;
  std::string sourceIp;
  std::string userAgent;
  bool dryRun = false;
  std::int64_t rvBefore = 0;  // filled by storage for writes
  std::int64_t rvAfter = 0;
};

enum class WriteOp { kCreate, kUpdate, kDelete };

struct WriteRequest {
  WriteOp op = WriteOp::kCreate;
  ObjectKey key;
  /// Update: required; the write fails with kConflict unless the stored version equals it.
  /// Delete: 0 means unconditional.
  std::int64_t expectedRv = 0;
  /// Create/update: the complete new object. Storage sets metadata.resourceVersion.
  std::string body;
  /// Create of a credential-issuing kind: the SHA-256 hex of the secret.
  std::string credentialHash;
  /// Recorded in the same transaction. `code` is the code to record on success; on failure
  /// storage records the failure's code and reason itself.
  AuditRecord audit;
};

struct WriteResult {
  StoredObject object;  // after the write; for delete, the last state with the deletion's rv
  std::int64_t prevRv = 0;
};

struct ListQuery {
  std::string kind;
  std::optional<std::string> ns;  // nullopt: all namespaces
  LabelSelector labels;
  FieldSelector fields;   // metadata.name / metadata.namespace only
  std::int64_t atRv = 0;  // 0: latest; otherwise a snapshot at that version (kGone if compacted)
  std::string afterNs, afterName;  // resume strictly after this key (pagination)
  std::size_t limit = 0;           // 0: everything
};

struct ListPage {
  std::int64_t rv = 0;  // the version the page is a snapshot of
  std::vector<StoredObject> items;
  bool more = false;  // another page exists after the last item
  std::string lastNs, lastName;
};

enum class EventType { kAdded, kModified, kDeleted };
const char* eventTypeName(EventType t);

struct ChangeEvent {
  std::int64_t rv = 0;
  EventType type = EventType::kAdded;
  ObjectKey key;
  std::string json;        // the object after the change (for DELETED: its last state)
  std::string prevLabels;  // JSON of the previous version's labels ("" if none)
};

struct AuditQuery {
  FieldSelector fields;  // fields of AuditEvent (see kinds/audit_event.cc)
  std::optional<SystemTime> since, until;
  std::int64_t afterId = 0;  // pagination: ids > afterId (ascending) ...
  std::size_t limit = 0;
};

struct AuditPage {
  std::vector<std::string> items;  // AuditEvent JSON objects
  bool more = false;
  std::int64_t lastId = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual Awaitable<Result<StoredObject>> get(ObjectKey key) = 0;
  virtual Awaitable<Result<ListPage>> list(ListQuery query) = 0;
  /// kAlreadyExists (create), kNotFound, kConflict (stale expectedRv), kUnavailable.
  virtual Awaitable<Result<WriteResult>> write(WriteRequest request) = 0;
  /// Audit of a request that did not reach write() (denied, invalid, ...).
  virtual Awaitable<Status> recordAudit(AuditRecord record) = 0;
  virtual Awaitable<Result<AuditPage>> listAudit(AuditQuery query) = 0;
  /// Changes with after < rv <= upTo, in order, at most `limit`. kGone if `after` is older
  /// than the retained history.
  virtual Awaitable<Result<std::vector<ChangeEvent>>> changesSince(std::int64_t after,
                                                                   std::int64_t upTo,
                                                                   std::size_t limit) = 0;
  /// The credential-issuing object whose secret hashes to `hash`; kNotFound if none.
  virtual Awaitable<Result<StoredObject>> lookupCredential(std::string hash) = 0;
  /// kOk when the database answers.
  virtual Awaitable<Status> ping() = 0;
};

}  // namespace tessera::apiserver

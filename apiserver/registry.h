// Registry: the semantics of objects, independent of HTTP (Kubernetes' "registry" strategies).
//
// Turns a client's intent (create this, replace that, patch, delete) into a checked, complete
// object and one storage write: envelope and metadata checks, unknown-field handling, schema
// defaults and validation, uid/generation/creationTimestamp, optimistic concurrency, the
// /status subresource rules, and an audit record for every outcome. The REST layer and
// in-process controllers both go through it, so the rules are the same for everyone.
//
// Thread-safety: all methods may be called concurrently from any executor.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/api_error.h"
#include "apiserver/kind.h"
#include "apiserver/storage.h"

namespace tessera::apiserver {

/// Who is asking, for audit and for the rules that depend on it.
struct RequestContext {
  std::string user;
  Role role = Role::kViewer;
  std::string requestId;
  std::string sourceIp;
  std::string userAgent;
  SystemTime received;
};

/// The identity of one of Tessera's own components ("system:scheduler"), with the admin role,
/// a fresh request id and the current time: for in-process writers (audited under that name).
RequestContext systemContext(const std::string& user);

enum class FieldValidation { kStrict, kWarn, kIgnore };
enum class PatchType { kMerge, kJson };

struct WriteOptions {
  bool dryRun = false;
  FieldValidation fieldValidation = FieldValidation::kStrict;
  bool statusSubresource = false;
};

/// The outcome of a registry call: an object (with the HTTP code to answer with) or an error.
struct Outcome {
  std::optional<ApiError> error;
  int code = 200;
  StoredObject object;
  std::vector<std::string> warnings;  // for Warning: 299 headers

  bool ok() const { return !error.has_value(); }
  static Outcome failure(ApiError e) {
    Outcome o;
    o.code = e.code;
    o.error = std::move(e);
    return o;
  }
};

class Registry {
 public:
  /// A check against other objects (e.g. a ShardMap may name only Active RZone cells), run
  /// before a create or spec write is stored; the causes it returns make it a 422.
  using Admission = std::function<Awaitable<std::vector<FieldCause>>(const boost::json::object&)>;

  Registry(const KindRegistry& kinds, Storage& storage);

  /// Installs the admission check of `kind` (one per kind; before serving).
  void setAdmission(const std::string& kind, Admission check);

  Awaitable<Outcome> get(const KindInfo& kind, std::string ns, std::string name);
  Awaitable<Outcome> create(const KindInfo& kind, std::string ns, std::string_view body,
                            const RequestContext& ctx, WriteOptions opts);
  Awaitable<Outcome> update(const KindInfo& kind, std::string ns, std::string name,
                            std::string_view body, const RequestContext& ctx, WriteOptions opts);
  Awaitable<Outcome> patch(const KindInfo& kind, std::string ns, std::string name, PatchType type,
                           std::string_view body, const RequestContext& ctx, WriteOptions opts);
  /// `body` is an optional DeleteOptions (preconditions: uid, resourceVersion).
  Awaitable<Outcome> remove(const KindInfo& kind, std::string ns, std::string name,
                            std::string_view body, const RequestContext& ctx, WriteOptions opts);

  /// Records a request that was refused before reaching the registry (401, 403, 400 ...).
  Awaitable<void> auditRefusal(AuditRecord record);

 private:
  struct Prepared;
  Awaitable<Outcome> replace(const KindInfo& kind, const std::string& ns, const std::string& name,
                             boost::json::value incoming, std::int64_t expectedRv,
                             bool explicitPrecondition, const StoredObject& current,
                             const RequestContext& ctx, const WriteOptions& opts,
                             std::string_view verb);
  Awaitable<Outcome> fail(ApiError e, const KindInfo& kind, const std::string& ns,
                          const std::string& name, const RequestContext& ctx, std::string_view verb,
                          const WriteOptions& opts);
  Awaitable<std::optional<ApiError>> admit(const KindInfo& kind, const std::string& name,
                                           const boost::json::object& next);
  AuditRecord auditFor(const KindInfo& kind, const std::string& ns, const std::string& name,
                       const RequestContext& ctx, std::string_view verb,
                       const WriteOptions& opts) const;

  const KindRegistry& kinds_;
  Storage& storage_;
  std::map<std::string, Admission> admissions_;  // by kind; written before serving only
};

/// Parses a resourceVersion string ("" → 0). nullopt when it is not a non-negative integer.
std::optional<std::int64_t> parseResourceVersion(std::string_view s);

}  // namespace tessera::apiserver

#include "apiserver/registry.h"

#include <algorithm>
#include <boost/json.hpp>

#include "apiserver/credential.h"
#include "apiserver/object_meta.h"
#include "apiserver/patch.h"
#include "common/crypto.h"
#include "common/logging.h"

namespace tessera::apiserver {
namespace json = boost::json;

std::optional<std::int64_t> parseResourceVersion(std::string_view s) {
  if (s.empty()) return 0;
  if (s.size() > 18 || s.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::stoll(std::string(s));
}

namespace {

constexpr int kPatchAttempts = 5;

std::optional<ApiError> parseObject(std::string_view body, json::value& out) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return ApiError::badRequest("the request body is empty: a JSON object is required");
  }
  boost::system::error_code ec;
  json::parse_options po;
  po.max_depth = 64;
  out = json::parse(body, ec, {}, po);
  if (ec) return ApiError::badRequest("the request body is not valid JSON: " + ec.message());
  if (!out.is_object()) return ApiError::badRequest("the request body must be a JSON object");
  return std::nullopt;
}

std::string stringAt(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

json::object& metadataOf(json::object& o) {
  auto* m = o.if_contains("metadata");
  if (!m || !m->is_object()) {
    o["metadata"] = json::object();
    m = o.if_contains("metadata");
  }
  return m->get_object();
}

std::optional<ApiError> checkEnvelope(const KindInfo& k, const json::object& o) {
  const json::value* av = o.if_contains("apiVersion");
  if (!av || !av->is_string() || av->get_string().empty()) {
    return ApiError::badRequest("Object 'apiVersion' is missing: expected \"" +
                                std::string(kApiVersion) + "\"");
  }
  if (av->get_string() != kApiVersion) {
    return ApiError::badRequest("the API version in the data (" + std::string(av->get_string()) +
                                ") does not match the expected API version (" + kApiVersion + ")");
  }
  const json::value* kv = o.if_contains("kind");
  if (!kv || !kv->is_string() || kv->get_string().empty()) {
    return ApiError::badRequest("Object 'Kind' is missing: expected \"" + k.kind + "\"");
  }
  if (kv->get_string() != k.kind) {
    return ApiError::badRequest("the kind in the data (" + std::string(kv->get_string()) +
                                ") does not match the expected kind (" + k.kind + ")");
  }
  return std::nullopt;
}

// Parses a request body and checks apiVersion/kind.
std::optional<ApiError> parseEnvelope(const KindInfo& k, std::string_view body, json::value& out) {
  if (auto e = parseObject(body, out)) return e;
  return checkEnvelope(k, out.get_object());
}

// The namespace in the body must be empty or the one of the path; it is then set (namespaced
// kinds) or removed (cluster-scoped kinds).
std::optional<ApiError> reconcileNamespace(const KindInfo& k, json::object& meta,
                                           const std::string& ns) {
  const std::string bodyNs = stringAt(meta, "namespace");
  if (!k.namespaced) {
    meta.erase("namespace");
    return std::nullopt;
  }
  if (!bodyNs.empty() && bodyNs != ns) {
    return ApiError::badRequest("the namespace of the provided object (" + bodyNs +
                                ") does not match the namespace sent on the request (" + ns + ")");
  }
  meta["namespace"] = ns;
  return std::nullopt;
}

enum class Part { kSpec, kStatus };

// Checks what the client sent for one part (spec or status) plus metadata and the envelope's
// top-level fields. Applies defaults to the checked part; drops unknown fields when asked to.
std::optional<ApiError> validateIncoming(const KindInfo& k, json::object& o, Part part,
                                         FieldValidation fv, std::vector<std::string>& warnings,
                                         const std::string& name) {
  std::vector<FieldCause> errors;
  std::vector<std::string> unknown;
  for (const auto& kv : o) {
    std::string key(kv.key());
    bool known = key == "apiVersion" || key == "kind" || key == "metadata" ||
                 (key == "spec" && k.spec) || (key == "status" && k.hasStatus());
    if (!known) unknown.push_back(key);
  }
  validateObjectMeta(o.contains("metadata") ? o.at("metadata") : json::value(json::object()),
                     part == Part::kSpec, errors, unknown);
  if (part == Part::kSpec && k.spec) {
    json::value* spec = o.if_contains("spec");
    if (!spec || spec->is_null()) {
      o["spec"] = json::object();
      spec = o.if_contains("spec");
    }
    k.spec->applyDefaults(*spec);
    k.spec->validate(*spec, "spec", errors, unknown);
  }
  if (part == Part::kStatus && k.status) {
    json::value* status = o.if_contains("status");
    if (status && !status->is_null()) {
      k.status->applyDefaults(*status);
      k.status->validate(*status, "status", errors, unknown);
    }
  }
  if (!unknown.empty()) {
    if (fv == FieldValidation::kStrict) return ApiError::unknownFields(unknown);
    for (const auto& path : unknown) {
      if (fv == FieldValidation::kWarn) warnings.push_back("unknown field \"" + path + "\"");
    }
    // Drop them: top level and metadata by name, the rest through the schema.
    for (auto it = o.begin(); it != o.end();) {
      std::string key(it->key());
      if (std::find(unknown.begin(), unknown.end(), key) != unknown.end())
        it = o.erase(it);
      else
        ++it;
    }
    if (auto* m = o.if_contains("metadata"); m && m->is_object()) {
      const auto& known = knownMetadataFields();
      auto& mo = m->get_object();
      for (auto it = mo.begin(); it != mo.end();) {
        if (std::find(known.begin(), known.end(), it->key()) == known.end())
          it = mo.erase(it);
        else
          ++it;
      }
    }
    if (auto* s = o.if_contains("spec"); s && k.spec) k.spec->dropUnknown(*s);
    if (auto* s = o.if_contains("status"); s && k.status) k.status->dropUnknown(*s);
  }
  if (errors.empty() && k.validateObject && part == Part::kSpec) k.validateObject(o, errors);
  if (!errors.empty()) return ApiError::invalid(k.kind, k.plural, name, std::move(errors));
  return std::nullopt;
}

// Copies labels and annotations from `from` metadata into `to` metadata (absent → removed).
void copyUserMetadata(const json::object& fromMeta, json::object& toMeta) {
  for (const char* key : {"labels", "annotations"}) {
    const auto* v = fromMeta.if_contains(key);
    if (v && v->is_object() && !v->get_object().empty())
      toMeta[key] = *v;
    else
      toMeta.erase(key);
  }
}

std::int64_t generationOf(const json::object& o) {
  const auto* m = o.if_contains("metadata");
  if (!m || !m->is_object()) return 0;
  const auto* g = m->get_object().if_contains("generation");
  return g && g->is_int64() ? g->get_int64() : 0;
}

std::string injectToken(const std::string& objectJson, const std::string& secret) {
  json::value v = json::parse(objectJson);
  v.as_object()["status"] = json::object{{"token", secret}};
  return json::serialize(v);
}

// (Built outside the coroutines: GCC 12 miscompiles brace-initialised aggregates of string
// literals inside coroutine bodies.)
ApiError missingResourceVersion(const KindInfo& kind, const std::string& name) {
  return ApiError::invalid(
      kind.kind, kind.plural, name,
      {{"FieldValueInvalid", "Invalid value: 0x0: must be specified for an update",
        "metadata.resourceVersion"}});
}

ApiError patchFailed(const KindInfo& kind, const std::string& name, const std::string& why) {
  return ApiError::invalid(kind.kind, kind.plural, name, {{"FieldValueInvalid", why, ""}});
}

}  // namespace

RequestContext systemContext(const std::string& user) {
  RequestContext ctx;
  ctx.user = user;
  ctx.role = Role::kAdmin;
  ctx.requestId = newUuid();
  ctx.received = std::chrono::system_clock::now();
  return ctx;
}

Registry::Registry(const KindRegistry& kinds, Storage& storage)
    : kinds_(kinds), storage_(storage) {}

void Registry::setAdmission(const std::string& kind, Admission check) {
  admissions_[kind] = std::move(check);
}

Awaitable<std::optional<ApiError>> Registry::admit(const KindInfo& kind, const std::string& name,
                                                   const json::object& next) {
  auto it = admissions_.find(kind.kind);
  if (it == admissions_.end()) co_return std::nullopt;
  std::vector<FieldCause> causes = co_await it->second(next);
  if (causes.empty()) co_return std::nullopt;
  co_return ApiError::invalid(kind.kind, kind.plural, name, std::move(causes));
}

AuditRecord Registry::auditFor(const KindInfo& kind, const std::string& ns, const std::string& name,
                               const RequestContext& ctx, std::string_view verb,
                               const WriteOptions& opts) const {
  AuditRecord a;
  a.received = ctx.received;
  a.user = ctx.user;
  a.role = std::string(roleName(ctx.role));
  a.verb = std::string(verb);
  a.resource = kind.plural;
  a.subresource = opts.statusSubresource ? "status" : "";
  a.ns = ns;
  a.name = name;
  a.requestId = ctx.requestId;
  a.sourceIp = ctx.sourceIp;
  a.userAgent = ctx.userAgent.substr(0, 256);
  a.dryRun = opts.dryRun;
  return a;
}

Awaitable<Outcome> Registry::fail(ApiError e, const KindInfo& kind, const std::string& ns,
                                  const std::string& name, const RequestContext& ctx,
                                  std::string_view verb, const WriteOptions& opts) {
  if (!opts.dryRun && e.code != 503) {
    AuditRecord a = auditFor(kind, ns, name, ctx, verb, opts);
    a.code = e.code;
    a.reason = e.reason;
    a.message = e.message;
    co_await auditRefusal(std::move(a));
  }
  co_return Outcome::failure(std::move(e));
}

Awaitable<void> Registry::auditRefusal(AuditRecord record) {
  Status s = co_await storage_.recordAudit(std::move(record));
  if (!s.isOk()) getLogger("audit")->error("audit record lost error=\"{}\"", s.message());
}

Awaitable<Outcome> Registry::get(const KindInfo& kind, std::string ns, std::string name) {
  auto r = co_await storage_.get(ObjectKey{kind.kind, ns, name});
  if (!r.isOk()) co_return Outcome::failure(ApiError::fromStatus(r.status(), kind.plural, name));
  Outcome o;
  o.object = std::move(r).value();
  co_return o;
}

Awaitable<Outcome> Registry::create(const KindInfo& kind, std::string ns, std::string_view body,
                                    const RequestContext& ctx, WriteOptions opts) {
  constexpr std::string_view verb = "create";
  json::value v;
  if (auto e = parseEnvelope(kind, body, v))
    co_return co_await fail(*e, kind, ns, "", ctx, verb, opts);
  auto& o = v.get_object();
  auto& meta = metadataOf(o);
  std::string name = stringAt(meta, "name");
  const std::string generateName = stringAt(meta, "generateName");
  if (auto e = reconcileNamespace(kind, meta, ns)) {
    co_return co_await fail(*e, kind, ns, name, ctx, verb, opts);
  }
  if (!stringAt(meta, "resourceVersion").empty()) {
    co_return co_await fail(
        ApiError::badRequest("metadata.resourceVersion must not be set on objects to be created"),
        kind, ns, name, ctx, verb, opts);
  }
  o.erase("status");  // status is written through the /status subresource only
  std::vector<std::string> warnings;
  if (auto e = validateIncoming(kind, o, Part::kSpec, opts.fieldValidation, warnings,
                                name.empty() ? generateName : name)) {
    co_return co_await fail(*e, kind, ns, name, ctx, verb, opts);
  }

  json::object out;
  out["apiVersion"] = kApiVersion;
  out["kind"] = kind.kind;
  json::object m;
  m["name"] = name;
  if (kind.namespaced) m["namespace"] = ns;
  m["uid"] = newUuid();
  m["resourceVersion"] = "";
  m["generation"] = 1;
  m["creationTimestamp"] = formatRfc3339(ctx.received);
  copyUserMetadata(meta, m);
  out["metadata"] = std::move(m);
  if (kind.spec) out["spec"] = o["spec"];
  if (kind.prepareCreate) kind.prepareCreate(out, ctx.received);
  if (kind.onSpecChange) kind.onSpecChange(nullptr, out, ctx.user, ctx.received);
  if (auto e = co_await admit(kind, name.empty() ? generateName : name, out)) {
    co_return co_await fail(*e, kind, ns, name, ctx, verb, opts);
  }

  std::string secret, hash;
  if (kind.issuesCredential) {
    secret = newTokenSecret();
    hash = hashTokenSecret(secret);
  }
  for (int attempt = 0;; ++attempt) {
    if (name.empty() || (!generateName.empty() && attempt > 0)) {
      name = generateName + randomSuffix(5);
    }
    out["metadata"].as_object()["name"] = name;
    if (opts.dryRun) {
      Outcome res;
      res.code = 201;
      res.object.json = json::serialize(out);
      res.warnings = std::move(warnings);
      co_return res;
    }
    WriteRequest req;
    req.op = WriteOp::kCreate;
    req.key = ObjectKey{kind.kind, ns, name};
    req.body = json::serialize(out);
    req.credentialHash = hash;
    req.audit = auditFor(kind, ns, name, ctx, verb, opts);
    req.audit.code = 201;
    auto r = co_await storage_.write(std::move(req));
    if (!r.isOk()) {
      if (r.status().code() == StatusCode::kAlreadyExists && !generateName.empty() &&
          stringAt(meta, "name").empty() && attempt < 3) {
        continue;  // generated name collided; try another suffix
      }
      co_return Outcome::failure(ApiError::fromStatus(r.status(), kind.plural, name));
    }
    Outcome res;
    res.code = 201;
    res.object = std::move(r).value().object;
    if (kind.issuesCredential) res.object.json = injectToken(res.object.json, secret);
    res.warnings = std::move(warnings);
    co_return res;
  }
}

Awaitable<Outcome> Registry::update(const KindInfo& kind, std::string ns, std::string name,
                                    std::string_view body, const RequestContext& ctx,
                                    WriteOptions opts) {
  constexpr std::string_view verb = "update";
  json::value v;
  if (auto e = parseEnvelope(kind, body, v))
    co_return co_await fail(*e, kind, ns, name, ctx, verb, opts);
  auto& o = v.get_object();
  auto& meta = metadataOf(o);
  const std::string bodyName = stringAt(meta, "name");
  if (!bodyName.empty() && bodyName != name) {
    co_return co_await fail(
        ApiError::badRequest("the name of the object (" + bodyName +
                             ") does not match the name on the URL (" + name + ")"),
        kind, ns, name, ctx, verb, opts);
  }
  meta["name"] = name;
  if (auto e = reconcileNamespace(kind, meta, ns)) {
    co_return co_await fail(*e, kind, ns, name, ctx, verb, opts);
  }
  const std::string rvText = stringAt(meta, "resourceVersion");
  auto expected = parseResourceVersion(rvText);
  if (!expected) {
    co_return co_await fail(ApiError::badRequest("metadata.resourceVersion \"" + rvText +
                                                 "\" is not a valid resource version"),
                            kind, ns, name, ctx, verb, opts);
  }
  if (*expected == 0) {
    co_return co_await fail(missingResourceVersion(kind, name), kind, ns, name, ctx, verb, opts);
  }
  auto current = co_await storage_.get(ObjectKey{kind.kind, ns, name});
  if (!current.isOk()) {
    co_return co_await fail(ApiError::fromStatus(current.status(), kind.plural, name), kind, ns,
                            name, ctx, verb, opts);
  }
  co_return co_await replace(kind, ns, name, std::move(v), *expected, true, *current, ctx, opts,
                             verb);
}

Awaitable<Outcome> Registry::replace(const KindInfo& kind, const std::string& ns,
                                     const std::string& name, json::value incoming,
                                     std::int64_t expectedRv, bool explicitPrecondition,
                                     const StoredObject& current, const RequestContext& ctx,
                                     const WriteOptions& opts, std::string_view verb) {
  json::value curVal = json::parse(current.json);
  json::object& cur = curVal.as_object();
  json::object& in = incoming.as_object();
  std::vector<std::string> warnings;
  if (kind.namespaced) metadataOf(in)["namespace"] = ns;
  if (auto e = validateIncoming(kind, in, opts.statusSubresource ? Part::kStatus : Part::kSpec,
                                opts.fieldValidation, warnings, name)) {
    co_return co_await fail(*e, kind, ns, name, ctx, verb, opts);
  }
  json::object next = cur;
  if (opts.statusSubresource) {
    const json::value* st = in.if_contains("status");
    if (st && !st->is_null())
      next["status"] = *st;
    else
      next.erase("status");
  } else {
    copyUserMetadata(metadataOf(in), metadataOf(next));
    if (kind.spec) {
      next["spec"] = in["spec"];
      if (next["spec"] != cur["spec"]) {
        metadataOf(next)["generation"] = generationOf(cur) + 1;
      }
    }
  }
  std::vector<FieldCause> errors;
  if (kind.validateUpdate) kind.validateUpdate(cur, next, errors);
  if (!errors.empty()) {
    co_return co_await fail(ApiError::invalid(kind.kind, kind.plural, name, std::move(errors)),
                            kind, ns, name, ctx, verb, opts);
  }
  const json::value* nextSpec = next.if_contains("spec");
  const json::value* curSpec = cur.if_contains("spec");
  const bool specChanged =
      (nextSpec ? *nextSpec : json::value()) != (curSpec ? *curSpec : json::value());
  if (!opts.statusSubresource && specChanged) {
    if (kind.onSpecChange) kind.onSpecChange(&cur, next, ctx.user, ctx.received);
    if (auto e = co_await admit(kind, name, next)) {
      co_return co_await fail(*e, kind, ns, name, ctx, verb, opts);
    }
  }
  if (explicitPrecondition && expectedRv != current.rv) {
    co_return co_await fail(ApiError::fromStatus(conflict(name), kind.plural, name), kind, ns, name,
                            ctx, verb, opts);
  }
  if (next == cur || opts.dryRun) {
    // Nothing changes (or nothing may): answer with the object as it would be, write nothing.
    if (!opts.dryRun) {
      AuditRecord a = auditFor(kind, ns, name, ctx, verb, opts);
      a.code = 200;
      a.rvBefore = a.rvAfter = current.rv;
      a.message = "no change";
      co_await auditRefusal(std::move(a));
    }
    Outcome res;
    res.object.rv = current.rv;
    res.object.json = json::serialize(next);
    res.warnings = std::move(warnings);
    co_return res;
  }
  WriteRequest req;
  req.op = WriteOp::kUpdate;
  req.key = ObjectKey{kind.kind, ns, name};
  req.expectedRv = expectedRv;
  req.body = json::serialize(next);
  req.audit = auditFor(kind, ns, name, ctx, verb, opts);
  req.audit.code = 200;
  auto r = co_await storage_.write(std::move(req));
  if (!r.isOk()) co_return Outcome::failure(ApiError::fromStatus(r.status(), kind.plural, name));
  Outcome res;
  res.object = std::move(r).value().object;
  res.warnings = std::move(warnings);
  co_return res;
}

Awaitable<Outcome> Registry::patch(const KindInfo& kind, std::string ns, std::string name,
                                   PatchType type, std::string_view body, const RequestContext& ctx,
                                   WriteOptions opts) {
  constexpr std::string_view verb = "patch";
  boost::system::error_code ec;
  json::value patchVal = json::parse(body, ec);
  if (ec) {
    co_return co_await fail(ApiError::badRequest("the patch is not valid JSON: " + ec.message()),
                            kind, ns, name, ctx, verb, opts);
  }
  if (type == PatchType::kMerge && !patchVal.is_object()) {
    co_return co_await fail(ApiError::badRequest("a merge patch must be a JSON object"), kind, ns,
                            name, ctx, verb, opts);
  }
  for (int attempt = 1;; ++attempt) {
    auto current = co_await storage_.get(ObjectKey{kind.kind, ns, name});
    if (!current.isOk()) {
      co_return co_await fail(ApiError::fromStatus(current.status(), kind.plural, name), kind, ns,
                              name, ctx, verb, opts);
    }
    json::value curVal = json::parse(current->json);
    json::value patched;
    if (type == PatchType::kMerge) {
      patched = applyMergePatch(curVal, patchVal);
    } else {
      auto r = applyJsonPatch(curVal, patchVal);
      if (!r.isOk()) {
        co_return co_await fail(patchFailed(kind, name, r.status().message()), kind, ns, name, ctx,
                                verb, opts);
      }
      patched = std::move(r).value();
    }
    if (!patched.is_object()) {
      co_return co_await fail(ApiError::badRequest("the patched document is not an object"), kind,
                              ns, name, ctx, verb, opts);
    }
    if (auto e = checkEnvelope(kind, patched.get_object())) {
      co_return co_await fail(*e, kind, ns, name, ctx, verb, opts);
    }
    auto& meta = metadataOf(patched.get_object());
    if (stringAt(meta, "name") != name) {
      co_return co_await fail(ApiError::badRequest("a patch cannot change metadata.name"), kind, ns,
                              name, ctx, verb, opts);
    }
    // A resourceVersion the patch itself sets is a precondition; otherwise the patch applies to
    // whatever is current, retrying when a concurrent writer wins.
    std::int64_t expected = current->rv;
    bool explicitPrecondition = false;
    const std::string rvText = stringAt(meta, "resourceVersion");
    if (rvText != std::to_string(current->rv)) {
      auto p = parseResourceVersion(rvText);
      if (!p || *p == 0) {
        co_return co_await fail(ApiError::badRequest("metadata.resourceVersion \"" + rvText +
                                                     "\" is not a valid resource version"),
                                kind, ns, name, ctx, verb, opts);
      }
      expected = *p;
      explicitPrecondition = true;
    }
    Outcome res = co_await replace(kind, ns, name, std::move(patched), expected,
                                   explicitPrecondition, *current, ctx, opts, verb);
    bool retry = !res.ok() && res.error->reason == "Conflict" && !explicitPrecondition &&
                 attempt < kPatchAttempts;
    if (!retry) co_return res;
  }
}

Awaitable<Outcome> Registry::remove(const KindInfo& kind, std::string ns, std::string name,
                                    std::string_view body, const RequestContext& ctx,
                                    WriteOptions opts) {
  constexpr std::string_view verb = "delete";
  std::string uidPrecondition;
  std::int64_t expected = 0;
  if (body.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    json::value v;
    if (auto e = parseObject(body, v)) co_return co_await fail(*e, kind, ns, name, ctx, verb, opts);
    const auto& o = v.get_object();
    if (const auto* pre = o.if_contains("preconditions"); pre && pre->is_object()) {
      uidPrecondition = stringAt(pre->get_object(), "uid");
      auto rv = parseResourceVersion(stringAt(pre->get_object(), "resourceVersion"));
      if (!rv) {
        co_return co_await fail(
            ApiError::badRequest("preconditions.resourceVersion is not a valid resource version"),
            kind, ns, name, ctx, verb, opts);
      }
      expected = *rv;
    }
    if (const auto* dr = o.if_contains("dryRun");
        dr && dr->is_array() && !dr->get_array().empty()) {
      opts.dryRun = true;
    }
  }
  auto current = co_await storage_.get(ObjectKey{kind.kind, ns, name});
  if (!current.isOk()) {
    co_return co_await fail(ApiError::fromStatus(current.status(), kind.plural, name), kind, ns,
                            name, ctx, verb, opts);
  }
  if (!uidPrecondition.empty()) {
    json::value cur = json::parse(current->json);
    std::string uid = stringAt(metadataOf(cur.as_object()), "uid");
    if (uid != uidPrecondition) {
      ApiError e = ApiError::fromStatus(conflict(name), kind.plural, name);
      e.message = "Precondition failed: UID in precondition: " + uidPrecondition +
                  ", UID in object meta: " + uid;
      co_return co_await fail(e, kind, ns, name, ctx, verb, opts);
    }
  }
  if (opts.dryRun) {
    Outcome res;
    res.object = std::move(current).value();
    co_return res;
  }
  WriteRequest req;
  req.op = WriteOp::kDelete;
  req.key = ObjectKey{kind.kind, ns, name};
  req.expectedRv = expected;
  req.audit = auditFor(kind, ns, name, ctx, verb, opts);
  req.audit.code = 200;
  auto r = co_await storage_.write(std::move(req));
  if (!r.isOk()) co_return Outcome::failure(ApiError::fromStatus(r.status(), kind.plural, name));
  Outcome res;
  res.object = std::move(r).value().object;
  co_return res;
}

}  // namespace tessera::apiserver

#include "apiserver/rest_api.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <map>
#include <random>

#include "apiserver/async_event.h"
#include "apiserver/object_meta.h"
#include "apiserver/request_options.h"
#include "apiserver/table.h"
#include "common/crypto.h"
#include "common/logging.h"
#include "common/metrics.h"

namespace tessera::apiserver {
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

struct ApiHandler::Call {
  explicit Call(HttpRequest& r) : req(r) {}
  HttpRequest& req;
  std::vector<std::string> segments;
  std::multimap<std::string, std::string> params;
  std::string verbLabel;
  std::string resourceLabel;
  Principal principal;
  RequestContext ctx;
  const KindInfo* kind = nullptr;
  std::string ns;
  bool nsInPath = false;
  std::string name;
  bool status = false;  // the /status subresource
  bool log = false;     // the /log subresource
  OutputFormat format = OutputFormat::kJson;

  bool has(const std::string& k) const { return params.count(k) > 0; }
  std::string param(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? std::string() : it->second;
  }
};

namespace {

HttpResponse errorResponse(const ApiError& e) {
  HttpResponse r;
  r.status = e.code;
  r.body = e.toJson();
  if (e.retryAfterSeconds)
    r.headers.emplace_back("Retry-After", std::to_string(*e.retryAfterSeconds));
  return r;
}

HttpResponse jsonResponse(int code, std::string body) {
  HttpResponse r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

HttpResponse textResponse(int code, std::string body) {
  HttpResponse r;
  r.status = code;
  r.contentType = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

bool isTrue(const std::string& v) {
  return v == "true" || v == "1";
}

std::string sanitizeRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return {};
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return {};
  }
  return std::string(id);
}

std::string contentTypeBase(std::string_view ct) {
  auto semi = ct.find(';');
  std::string base(ct.substr(0, semi));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  for (auto& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return base;
}

ApiError goneForContinue() {
  return ApiError::gone(
      "The provided continue parameter is too old to display a consistent list result. You can "
      "start a new list without the continue parameter.");
}

// Output of one object (get, create, update, ...) as JSON or a one-row Table.
HttpResponse objectResponse(int code, const KindInfo& kind, const std::string& objectJson,
                            OutputFormat format, const std::string& includeObject) {
  if (format == OutputFormat::kTable) {
    json::value v = json::parse(objectJson);
    IncludeObject inc = includeObject == "None"     ? IncludeObject::kNone
                        : includeObject == "Object" ? IncludeObject::kObject
                                                    : IncludeObject::kMetadata;
    return jsonResponse(code, json::serialize(makeTable(kind, {v.as_object()}, inc, "", "")));
  }
  return jsonResponse(code, objectJson);
}

IncludeObject includeOf(const std::string& v) {
  if (v == "None") return IncludeObject::kNone;
  if (v == "Object") return IncludeObject::kObject;
  return IncludeObject::kMetadata;
}

std::string joinSegments(const std::vector<std::string>& segs) {
  std::string out;
  for (const auto& x : segs) {
    if (!out.empty()) out += '/';
    out += x;
  }
  return out;
}

std::string verbLabel(Verb v) {
  static const char* kLabels[] = {"GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE"};
  return kLabels[static_cast<int>(v)];
}

ApiError tooLargeResourceVersion(const std::string& message) {
  ApiError e;
  e.code = 504;
  e.reason = "Timeout";
  e.message = message;
  e.causes.push_back({"ResourceVersionTooLarge", "Too large resource version", ""});
  return e;
}

Result<FieldSelector> nameSelector(const std::string& name) {
  return FieldSelector::parse("metadata.name=" + name, {"metadata.name"});
}

Headers requestIdHeader(const std::string& id) {
  return {{"X-Request-Id", id}};
}

const std::vector<std::string>& objectFieldSelectors() {
  static const std::vector<std::string> k = {"metadata.name", "metadata.namespace"};
  return k;
}

}  // namespace

ApiHandler::ApiHandler(const KindRegistry& kinds, Storage& storage, WatchHub& hub,
                       Registry& registry, Authenticator& authenticator,
                       prometheus::Registry& metrics, ApiHandlerOptions options)
    : kinds_(kinds),
      storage_(storage),
      hub_(hub),
      registry_(registry),
      auth_(authenticator),
      metricsRegistry_(metrics),
      options_(std::move(options)),
      docs_(kinds, options_.version) {
  requests_ = &prometheus::BuildCounter()
                   .Name("tessera_apiserver_requests_total")
                   .Help("API requests by verb, resource and HTTP code")
                   .Register(metrics);
  latency_ = &prometheus::BuildHistogram()
                  .Name("tessera_apiserver_request_duration_seconds")
                  .Help("API request latency by verb and resource (watches excluded)")
                  .Register(metrics);
  watchEvents_ = &prometheus::BuildCounter()
                      .Name("tessera_apiserver_watch_events_total")
                      .Help("Events sent on watch streams, by resource")
                      .Register(metrics);
}

Awaitable<std::optional<HttpResponse>> ApiHandler::handle(HttpRequest& req,
                                                          ResponseStream& stream) {
  const auto started = Clock::now();
  Call call(req);
  call.ctx.received = std::chrono::system_clock::now();
  call.ctx.requestId = sanitizeRequestId(req.header("x-request-id"));
  if (call.ctx.requestId.empty()) call.ctx.requestId = newUuid();
  call.ctx.sourceIp = req.remoteAddress;
  call.ctx.userAgent = std::string(req.header("user-agent"));
  call.verbLabel = req.method;

  std::optional<HttpResponse> out;
  auto parsed = boost::urls::parse_origin_form(req.target);
  if (!parsed) {
    out = errorResponse(ApiError::badRequest("malformed request target"));
  } else {
    for (auto seg : parsed->segments()) {
      if (!seg.empty()) call.segments.emplace_back(seg);
    }
    for (auto p : parsed->params()) call.params.emplace(std::string(p.key), std::string(p.value));
  }
  const auto& s = call.segments;
  auto is = [&](const char* path) { return joinSegments(s) == path; };

  if (!out && staticFiles_ && (req.method == "GET" || req.method == "HEAD") &&
      StaticFiles::isConsolePath(s)) {
    call.resourceLabel = "console";  // the web console's files: no authentication
    out = staticFiles_->serve(s, req.header("if-none-match"));
  } else if (!out && req.method == "GET" && (is("healthz") || is("livez"))) {
    out = textResponse(200, "ok");
  } else if (!out && req.method == "GET" && is("readyz")) {
    if (shuttingDown_) {
      out = textResponse(503, "shutting down");
    } else {
      Status st = co_await storage_.ping();
      out = st.isOk() ? textResponse(200, "ok")
                      : textResponse(503, "database unreachable: " + st.message());
    }
  } else if (!out && req.method == "GET" && is("version")) {
    out = jsonResponse(200, docs_.version());
  } else if (!out) {
    auto who = co_await auth_.authenticate(req.header("authorization"));
    if (!who.isOk()) {
      ApiError e = who.status().code() == StatusCode::kUnauthenticated
                       ? ApiError::unauthorized("Unauthorized: " + who.status().message())
                       : ApiError::fromStatus(who.status(), "", "");
      if (e.code == 401) {
        AuditRecord a;
        a.received = call.ctx.received;
        a.user = "system:anonymous";
        a.verb = req.method;
        a.resource = req.target.substr(0, req.target.find('?')).substr(0, 256);
        a.code = 401;
        a.reason = "Unauthorized";
        a.message = who.status().message();
        a.requestId = call.ctx.requestId;
        a.sourceIp = call.ctx.sourceIp;
        a.userAgent = call.ctx.userAgent.substr(0, 256);
        co_await registry_.auditRefusal(std::move(a));
      }
      out = errorResponse(e);
    } else {
      call.principal = std::move(who).value();
      call.ctx.user = call.principal.user;
      call.ctx.role = call.principal.role;
      if (req.method != "GET" && !(s.size() >= 3 && s[0] == "apis")) {
        out = errorResponse(ApiError::methodNotAllowed("method " + req.method +
                                                       " is not allowed on " + req.target));
      } else if (is("metrics")) {
        HttpResponse r;
        r.contentType = "text/plain; version=0.0.4; charset=utf-8";
        r.body = renderPrometheusText(metricsRegistry_);
        out = std::move(r);
      } else if (is("api")) {
        out = jsonResponse(200, docs_.apiVersions());
      } else if (is("api/v1")) {
        out = jsonResponse(200, docs_.coreV1());
      } else if (is("apis")) {
        out = jsonResponse(200, docs_.groupList());
      } else if (is("apis/tessera.io")) {
        out = jsonResponse(200, docs_.group());
      } else if (is("apis/tessera.io/v1")) {
        out = jsonResponse(200, docs_.resources());
      } else if (is("openapi/v3")) {
        out = jsonResponse(200, docs_.openApiIndex());
      } else if (is("openapi/v3/apis/tessera.io/v1")) {
        out = jsonResponse(200, docs_.openApiGroup());
        out->headers.emplace_back("Cache-Control", "public, immutable");
      } else if (s.empty()) {
        out = jsonResponse(200,
                           "{\"paths\":[\"/api\",\"/apis\",\"/apis/tessera.io/v1\",\"/healthz\","
                           "\"/livez\",\"/metrics\",\"/openapi/v3\",\"/readyz\",\"/version\"]}");
      } else if (is("apis/authentication.k8s.io")) {
        out = jsonResponse(200, docs_.authGroup());
      } else if (is("apis/authentication.k8s.io/v1")) {
        out = jsonResponse(200, docs_.authResources());
      } else if (is("apis/authentication.k8s.io/v1/selfsubjectreviews")) {
        out = selfSubjectReview(call);
      } else if (is("apis/traffic.tessera.io/v1/stats")) {
        out = trafficStats(call);
      } else if (s.size() >= 4 && s[0] == "apis" && s[1] == "tessera.io" && s[2] == "v1") {
        // Resource request: resolve kind, namespace, name, subresource.
        std::size_t i = 3;
        if (s[i] == "namespaces" && s.size() >= 6) {
          call.ns = s[4];
          call.nsInPath = true;
          i = 5;
        }
        call.kind = kinds_.byPlural(s[i]);
        if (s.size() > i + 1) call.name = s[i + 1];
        if (s.size() > i + 2) {
          call.status = s[i + 2] == "status";
          call.log = s[i + 2] == "log";
        }
        bool shapeOk =
            call.kind && s.size() <= i + 3 && (s.size() <= i + 2 || call.status || call.log);
        if (shapeOk && call.status && !call.kind->hasStatus()) shapeOk = false;
        if (shapeOk && call.log && !call.kind->hasLog) shapeOk = false;
        if (shapeOk && call.nsInPath && !call.kind->namespaced) shapeOk = false;
        if (shapeOk && !call.nsInPath && call.kind->namespaced && !call.name.empty())
          shapeOk = false;
        if (!shapeOk) {
          out =
              errorResponse(ApiError::notFound("the server could not find the requested resource"));
        } else if (call.nsInPath && !isDns1123Label(call.ns)) {
          out = errorResponse(ApiError::badRequest("invalid namespace \"" + call.ns + "\""));
        } else {
          call.resourceLabel = call.kind->plural + (call.status ? "/status"
                                                    : call.log  ? "/log"
                                                                : "");
          if (call.log) {
            out = co_await serveLog(call);
          } else if (req.method == "GET" && (isTrue(call.param("watch")))) {
            call.verbLabel = "WATCH";
            auto negotiated = negotiateOutput(req.header("accept"));
            if (!negotiated) {
              out = errorResponse(
                  ApiError::notAcceptable("only application/json (optionally as=Table) is served"));
            } else if (!authorize(call.principal.role, *call.kind, Verb::kWatch, false)) {
              out = errorResponse(ApiError::forbidden(
                  call.kind->plural + "." + kGroup + " is forbidden: User \"" + call.ctx.user +
                  "\" (role " + std::string(roleName(call.ctx.role)) +
                  ") cannot watch resource \"" + call.kind->plural + "\" in API group \"" + kGroup +
                  "\""));
            } else {
              call.format = *negotiated;
              out = co_await watch(call, stream);
            }
          } else {
            out = co_await serveResource(call);
          }
        }
      } else {
        out = errorResponse(ApiError::notFound("the server could not find the requested resource"));
      }
    }
  }

  finish(call, out ? out->status : 200, started);
  if (out) out->headers.emplace_back("X-Request-Id", call.ctx.requestId);
  co_return out;
}

// Who am I: what `kubectl auth whoami` asks (authentication.k8s.io/v1 SelfSubjectReview).
HttpResponse ApiHandler::selfSubjectReview(Call& c) {
  c.resourceLabel = "selfsubjectreviews";
  if (c.req.method != "POST") {
    return errorResponse(
        ApiError::methodNotAllowed("selfsubjectreviews are only created (POST): the answer is in "
                                   "the response's status"));
  }
  c.verbLabel = "POST";
  const Role role = c.principal.role;
  if (role == Role::kAgent || role == Role::kProxy) {
    return errorResponse(ApiError::forbidden(
        "selfsubjectreviews.authentication.k8s.io is forbidden: User \"" + c.ctx.user +
        "\" (role " + std::string(roleName(role)) + ") may not use the REST API"));
  }
  // The review asks nothing: a JSON body is checked for its kind, any other (kubectl sends
  // protobuf) is not read.
  const std::string bodyType = contentTypeBase(c.req.header("content-type"));
  if (!c.req.body.empty() && (bodyType.empty() || bodyType == "application/json")) {
    boost::system::error_code ec;
    json::value v = json::parse(c.req.body, ec);
    if (ec || !v.is_object()) {
      return errorResponse(ApiError::badRequest("the body must be a SelfSubjectReview object"));
    }
    const auto& o = v.get_object();
    const auto* kind = o.if_contains("kind");
    const auto* apiVersion = o.if_contains("apiVersion");
    if ((kind && *kind != json::value("SelfSubjectReview")) ||
        (apiVersion && *apiVersion != json::value("authentication.k8s.io/v1"))) {
      return errorResponse(ApiError::badRequest(
          "expected kind SelfSubjectReview of apiVersion authentication.k8s.io/v1"));
    }
  }
  json::object userInfo{
      {"username", c.principal.user},
      {"groups", json::array{json::value("tessera:role:" + std::string(roleName(role))),
                             json::value("system:authenticated")}}};
  if (!c.principal.tokenName.empty()) {
    userInfo["extra"] =
        json::object{{"tessera.io/token", json::array{json::value(c.principal.tokenName)}}};
  }
  json::object review{{"kind", "SelfSubjectReview"},
                      {"apiVersion", "authentication.k8s.io/v1"},
                      {"metadata", json::object{{"creationTimestamp", nullptr}}},
                      {"status", json::object{{"userInfo", std::move(userInfo)}}}};
  return jsonResponse(201, json::serialize(review));
}

// Live traffic from the proxies' counters (traffic/metrics/proxy_stats_scraper.h).
HttpResponse ApiHandler::trafficStats(Call& c) {
  c.resourceLabel = "traffic/stats";
  if (c.req.method != "GET") {
    return errorResponse(ApiError::methodNotAllowed("traffic stats are only read (GET)"));
  }
  const Role role = c.principal.role;
  if (role == Role::kAgent || role == Role::kProxy) {
    return errorResponse(ApiError::forbidden(
        "stats.traffic.tessera.io is forbidden: User \"" + c.ctx.user + "\" (role " +
        std::string(roleName(role)) + ") may not use the REST API"));
  }
  if (!trafficStats_) {
    return errorResponse(ApiError::serviceUnavailable(
        "this server does not collect traffic statistics (started with --no-traffic-stats)", 60));
  }
  std::int64_t window = 600;
  if (c.has("window")) {
    auto w = parseResourceVersion(c.param("window"));
    if (!w || *w == 0) {
      return errorResponse(ApiError::badRequest("window must be a positive number of seconds"));
    }
    window = std::min<std::int64_t>(*w, 600);
  }
  return jsonResponse(200, trafficStats_(std::chrono::seconds(window)));
}

void ApiHandler::finish(const Call& call, int status, Clock::time_point started) {
  const std::string code = std::to_string(status);
  requests_->Add({{"verb", call.verbLabel}, {"resource", call.resourceLabel}, {"code", code}})
      .Increment();
  if (call.verbLabel != "WATCH") {
    latency_->Add({{"verb", call.verbLabel}, {"resource", call.resourceLabel}}, latencyBuckets())
        .Observe(std::chrono::duration<double>(Clock::now() - started).count());
  }
  static auto log = getLogger("api");
  if (log->should_log(spdlog::level::debug)) {
    log->debug("request id={} user={} verb={} path={} code={} ms={:.2f}", call.ctx.requestId,
               call.ctx.user, call.verbLabel, call.req.target.substr(0, call.req.target.find('?')),
               code, std::chrono::duration<double, std::milli>(Clock::now() - started).count());
  }
}

prometheus::Counter& ApiHandler::watchCounter(const std::string& plural) {
  return watchEvents_->Add({{"resource", plural}});
}

Awaitable<HttpResponse> ApiHandler::serveResource(Call& c) {
  const KindInfo& kind = *c.kind;
  const std::string& method = c.req.method;
  Verb verb;
  if (method == "GET")
    verb = c.name.empty() ? Verb::kList : Verb::kGet;
  else if (method == "POST" && c.name.empty())
    verb = Verb::kCreate;
  else if (method == "PUT" && !c.name.empty())
    verb = Verb::kUpdate;
  else if (method == "PATCH" && !c.name.empty())
    verb = Verb::kPatch;
  else if (method == "DELETE" && !c.name.empty())
    verb = Verb::kDelete;
  else {
    co_return errorResponse(ApiError::methodNotAllowed(
        "the server does not allow this method on the requested resource"));
  }
  c.verbLabel = verbLabel(verb);
  if (kind.readOnly() && !isReadVerb(verb)) {
    co_return errorResponse(ApiError::methodNotAllowed(kind.plural + " are read-only"));
  }
  if (kind.review && verb != Verb::kCreate) {
    co_return errorResponse(ApiError::methodNotAllowed(
        kind.plural +
        " are only created (POST): they are questions, answered in the response "
        "and never stored"));
  }
  if (kind.systemManaged && !isReadVerb(verb)) {
    co_return errorResponse(ApiError::methodNotAllowed(
        kind.plural + " are written by Tessera itself and are read-only through the API"));
  }
  if (c.kind->namespaced && !c.nsInPath && verb == Verb::kCreate) {
    co_return errorResponse(
        ApiError::notFound("the server could not find the requested resource (create " +
                           kind.plural + " needs /namespaces/<namespace>/)"));
  }
  if (!authorize(c.principal.role, kind, verb, c.status)) {
    ApiError e = ApiError::forbidden(
        kind.plural + (c.status ? "/status" : "") + "." + kGroup +
        (c.name.empty() ? "" : " \"" + c.name + "\"") + " is forbidden: User \"" + c.ctx.user +
        "\" (role " + std::string(roleName(c.ctx.role)) + ") cannot " +
        std::string(verbName(verb)) + " resource \"" + kind.plural + (c.status ? "/status" : "") +
        "\" in API group \"" + kGroup + "\"" +
        (c.nsInPath ? " in the namespace \"" + c.ns + "\"" : ""));
    AuditRecord a;
    a.received = c.ctx.received;
    a.user = c.ctx.user;
    a.role = std::string(roleName(c.ctx.role));
    a.verb = std::string(verbName(verb));
    a.resource = kind.plural;
    a.subresource = c.status ? "status" : "";
    a.ns = c.ns;
    a.name = c.name;
    a.code = 403;
    a.reason = "Forbidden";
    a.message = e.message;
    a.requestId = c.ctx.requestId;
    a.sourceIp = c.ctx.sourceIp;
    a.userAgent = c.ctx.userAgent.substr(0, 256);
    co_await registry_.auditRefusal(std::move(a));
    co_return errorResponse(e);
  }
  if (isReadVerb(verb)) {
    auto negotiated = negotiateOutput(c.req.header("accept"));
    if (!negotiated) {
      co_return errorResponse(
          ApiError::notAcceptable("only application/json (optionally as=Table) is served"));
    }
    c.format = *negotiated;
  }

  WriteOptions opts;
  opts.statusSubresource = c.status;
  if (c.has("dryRun")) {
    std::string d = c.param("dryRun");
    if (d != "All") {
      co_return errorResponse(ApiError::badRequest("dryRun: unsupported value \"" + d +
                                                   "\": supported values: \"All\""));
    }
    opts.dryRun = true;
  }
  if (c.has("fieldValidation")) {
    std::string fv = c.param("fieldValidation");
    if (fv == "Strict")
      opts.fieldValidation = FieldValidation::kStrict;
    else if (fv == "Warn")
      opts.fieldValidation = FieldValidation::kWarn;
    else if (fv == "Ignore")
      opts.fieldValidation = FieldValidation::kIgnore;
    else {
      co_return errorResponse(
          ApiError::badRequest("fieldValidation: unsupported value \"" + fv +
                               "\": supported values: \"Strict\", \"Warn\", \"Ignore\""));
    }
  }
  if (verb == Verb::kCreate || verb == Verb::kUpdate) {
    std::string ct = contentTypeBase(c.req.header("content-type"));
    if (!ct.empty() && ct != "application/json") {
      co_return errorResponse(ApiError::unsupportedMediaType("unsupported media type \"" + ct +
                                                             "\": send application/json"));
    }
  }

  Outcome o;
  switch (verb) {
    case Verb::kList:
      // (No co_await inside ?: — GCC 12 miscompiles it.)
      if (kind.readOnly()) co_return co_await listAudit(c);
      co_return co_await list(c);
    case Verb::kGet:
      if (kind.readOnly()) {
        AuditQuery q;
        auto fs = nameSelector(c.name);
        if (!fs.isOk() || c.name.find_first_not_of("0123456789") != std::string::npos ||
            c.name.size() > 18) {
          co_return errorResponse(ApiError::fromStatus(notFound(c.name), kind.plural, c.name));
        }
        q.fields = std::move(fs).value();
        q.limit = 1;
        auto page = co_await storage_.listAudit(std::move(q));
        if (!page.isOk())
          co_return errorResponse(ApiError::fromStatus(page.status(), kind.plural, c.name));
        if (page->items.empty())
          co_return errorResponse(ApiError::fromStatus(notFound(c.name), kind.plural, c.name));
        co_return objectResponse(200, kind, page->items[0], c.format, c.param("includeObject"));
      }
      o = co_await registry_.get(kind, c.ns, c.name);
      break;
    case Verb::kCreate:
      if (kind.review) co_return co_await serveReview(c, opts);
      o = co_await registry_.create(kind, c.ns, c.req.body, c.ctx, opts);
      break;
    case Verb::kUpdate:
      o = co_await registry_.update(kind, c.ns, c.name, c.req.body, c.ctx, opts);
      break;
    case Verb::kPatch: {
      std::string ct = contentTypeBase(c.req.header("content-type"));
      PatchType pt;
      if (ct == "application/merge-patch+json") {
        pt = PatchType::kMerge;
      } else if (ct == "application/json-patch+json") {
        pt = PatchType::kJson;
      } else if (ct == "application/strategic-merge-patch+json") {
        co_return errorResponse(ApiError::unsupportedMediaType(
            "strategic merge patch is not supported for tessera.io resources: use "
            "application/merge-patch+json (kubectl patch --type=merge) or "
            "application/json-patch+json (--type=json)"));
      } else if (ct == "application/apply-patch+yaml") {
        co_return errorResponse(ApiError::unsupportedMediaType(
            "server-side apply is not supported: use kubectl apply without --server-side"));
      } else {
        co_return errorResponse(ApiError::unsupportedMediaType(
            "unsupported patch type \"" + ct +
            "\": use application/merge-patch+json or application/json-patch+json"));
      }
      o = co_await registry_.patch(kind, c.ns, c.name, pt, c.req.body, c.ctx, opts);
      break;
    }
    case Verb::kDelete:
      o = co_await registry_.remove(kind, c.ns, c.name, c.req.body, c.ctx, opts);
      break;
    case Verb::kWatch:
      break;
  }
  if (!o.ok()) co_return errorResponse(*o.error);
  HttpResponse r = objectResponse(o.code, kind, o.object.json, c.format, c.param("includeObject"));
  for (const auto& w : o.warnings) {
    std::string esc;
    for (char ch : w) {
      if (ch == '"' || ch == '\\') esc += '\\';
      esc += ch;
    }
    r.headers.emplace_back("Warning", "299 - \"" + esc + "\"");
  }
  co_return r;
}

Awaitable<HttpResponse> ApiHandler::serveLog(Call& c) {
  const KindInfo& kind = *c.kind;
  c.verbLabel = "GET";
  if (c.req.method != "GET") {
    co_return errorResponse(ApiError::methodNotAllowed("logs are read with GET"));
  }
  if (!authorize(c.principal.role, kind, Verb::kGet, false)) {
    co_return errorResponse(ApiError::forbidden(
        "User \"" + c.ctx.user + "\" (role " + std::string(roleName(c.ctx.role)) +
        ") cannot get resource \"" + kind.plural + "/log\" in API group \"" + kGroup + "\""));
  }
  int tail = 100;
  if (c.has("tailLines")) {
    auto t = parseResourceVersion(c.param("tailLines"));
    if (!t || *t < 1 || *t > 10000) {
      co_return errorResponse(ApiError::badRequest("tailLines must be between 1 and 10000"));
    }
    tail = static_cast<int>(*t);
  }
  if (!logProvider_) {
    co_return errorResponse(ApiError::serviceUnavailable("logs are not available on this server"));
  }
  auto exists = co_await registry_.get(kind, c.ns, c.name);
  if (!exists.ok()) co_return errorResponse(*exists.error);
  auto lines = co_await logProvider_(c.ns, c.name, tail);
  if (!lines.isOk()) {
    co_return errorResponse(ApiError::fromStatus(lines.status(), kind.plural, c.name));
  }
  co_return textResponse(200, std::move(lines).value());
}

Awaitable<HttpResponse> ApiHandler::serveReview(Call& c, const WriteOptions& opts) {
  const KindInfo& kind = *c.kind;
  // Checked and defaulted like any object, and never written (a dry run).
  WriteOptions check = opts;
  check.dryRun = true;
  // A question needs no name of its own.
  std::string body = c.req.body;
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (!ec && parsed.is_object()) {
    json::object& meta = parsed.as_object()["metadata"].is_object()
                             ? parsed.as_object()["metadata"].as_object()
                             : parsed.as_object()["metadata"].emplace_object();
    if (!meta.contains("name") && !meta.contains("generateName")) meta["generateName"] = "review-";
    body = json::serialize(parsed);
  }
  Outcome o = co_await registry_.create(kind, c.ns, body, c.ctx, check);
  if (!o.ok()) co_return errorResponse(*o.error);
  if (!reviewProvider_) {
    co_return errorResponse(ApiError::serviceUnavailable(kind.plural + " are not served here"));
  }
  auto answer = co_await reviewProvider_(kind, o.object.json);
  if (!answer.isOk()) {
    if (answer.status().code() == StatusCode::kInvalidArgument) {
      co_return errorResponse(ApiError::invalid(
          kind.kind, kind.plural, "", {{"FieldValueInvalid", answer.status().message(), "spec"}}));
    }
    co_return errorResponse(ApiError::fromStatus(answer.status(), kind.plural, ""));
  }
  json::value v = json::parse(o.object.json);
  v.as_object()["status"] = std::move(answer).value();
  co_return objectResponse(201, kind, json::serialize(v), c.format, c.param("includeObject"));
}

Awaitable<HttpResponse> ApiHandler::list(Call& c) {
  const KindInfo& kind = *c.kind;
  ListQuery q;
  q.kind = kind.kind;
  if (c.nsInPath) q.ns = c.ns;
  auto labels = LabelSelector::parse(c.param("labelSelector"));
  if (!labels.isOk()) co_return errorResponse(ApiError::badRequest(labels.status().message()));
  q.labels = std::move(labels).value();
  auto fields = FieldSelector::parse(c.param("fieldSelector"), objectFieldSelectors());
  if (!fields.isOk()) co_return errorResponse(ApiError::badRequest(fields.status().message()));
  q.fields = std::move(fields).value();
  if (c.has("limit")) {
    auto lim = parseResourceVersion(c.param("limit"));
    if (!lim) co_return errorResponse(ApiError::badRequest("limit must be a non-negative integer"));
    q.limit = static_cast<std::size_t>(std::min<std::int64_t>(*lim, 1 << 20));
  }
  const std::string rvParam = c.param("resourceVersion");
  const std::string match = c.param("resourceVersionMatch");
  const std::string cont = c.param("continue");
  if (!cont.empty()) {
    if (!rvParam.empty() && rvParam != "0") {
      co_return errorResponse(
          ApiError::badRequest("specifying resource version is not allowed when using continue"));
    }
    auto t = decodeContinue(cont);
    if (!t.isOk() || t->auditId)
      co_return errorResponse(
          ApiError::badRequest(t.isOk() ? "invalid continue token" : t.status().message()));
    q.atRv = t->rv;
    q.afterNs = t->ns;
    q.afterName = t->name;
  } else if (match == "Exact") {
    auto rv = parseResourceVersion(rvParam);
    if (!rv || *rv == 0) {
      co_return errorResponse(
          ApiError::badRequest("resourceVersionMatch=Exact needs a resourceVersion"));
    }
    q.atRv = *rv;
  } else if (!match.empty() && match != "NotOlderThan") {
    co_return errorResponse(
        ApiError::badRequest("resourceVersionMatch: unsupported value \"" + match + "\""));
  } else if (!rvParam.empty() && !parseResourceVersion(rvParam)) {
    co_return errorResponse(ApiError::badRequest("invalid resourceVersion \"" + rvParam + "\""));
  }
  auto page = co_await storage_.list(q);
  if (!page.isOk()) {
    if (page.status().code() == StatusCode::kGone && !cont.empty())
      co_return errorResponse(goneForContinue());
    if (page.status().code() == StatusCode::kDeadlineExceeded &&
        page.status().message().rfind("Too large resource version", 0) == 0) {
      co_return errorResponse(tooLargeResourceVersion(page.status().message()));
    }
    co_return errorResponse(ApiError::fromStatus(page.status(), kind.plural, ""));
  }
  std::string token;
  if (page->more) token = encodeContinue({page->rv, page->lastNs, page->lastName, 0});
  const std::string rv = std::to_string(page->rv);
  if (c.format == OutputFormat::kTable) {
    std::vector<json::object> objs;
    objs.reserve(page->items.size());
    for (const auto& it : page->items) objs.push_back(json::parse(it.json).as_object());
    co_return jsonResponse(200, json::serialize(makeTable(
                                    kind, objs, includeOf(c.param("includeObject")), rv, token)));
  }
  std::string body;
  std::size_t size = 160;
  for (const auto& it : page->items) size += it.json.size() + 1;
  body.reserve(size);
  body += "{\"apiVersion\":\"";
  body += kApiVersion;
  body +=
      "\",\"kind\":\"" + kind.listKind() + "\",\"metadata\":{\"resourceVersion\":\"" + rv + "\"";
  if (!token.empty()) body += ",\"continue\":\"" + token + "\"";
  body += "},\"items\":[";
  for (std::size_t i = 0; i < page->items.size(); ++i) {
    if (i) body += ',';
    body += page->items[i].json;
  }
  body += "]}";
  co_return jsonResponse(200, std::move(body));
}

Awaitable<HttpResponse> ApiHandler::listAudit(Call& c) {
  const KindInfo& kind = *c.kind;
  AuditQuery q;
  std::vector<std::string> supported(1, "metadata.name");
  supported.insert(supported.end(), kind.extraFieldSelectors.begin(),
                   kind.extraFieldSelectors.end());
  auto fields = FieldSelector::parse(c.param("fieldSelector"), supported);
  if (!fields.isOk()) co_return errorResponse(ApiError::badRequest(fields.status().message()));
  q.fields = std::move(fields).value();
  if (!c.param("labelSelector").empty()) {
    co_return errorResponse(
        ApiError::badRequest("auditevents have no labels: use fieldSelector, since and until"));
  }
  for (int i = 0; i < 2; ++i) {
    const std::string key = i == 0 ? "since" : "until";
    if (!c.has(key)) continue;
    auto t = parseRfc3339(c.param(key));
    if (!t)
      co_return errorResponse(
          ApiError::badRequest(key + " must be an RFC 3339 time, e.g. 2026-11-27T07:00:00Z"));
    (i == 0 ? q.since : q.until) = *t;
  }
  if (c.has("limit")) {
    auto lim = parseResourceVersion(c.param("limit"));
    if (!lim) co_return errorResponse(ApiError::badRequest("limit must be a non-negative integer"));
    q.limit = static_cast<std::size_t>(std::min<std::int64_t>(*lim, 1 << 20));
  }
  if (c.has("continue")) {
    auto t = decodeContinue(c.param("continue"));
    if (!t.isOk() || !t->auditId)
      co_return errorResponse(ApiError::badRequest("invalid continue token"));
    q.afterId = t->auditId;
  }
  auto page = co_await storage_.listAudit(std::move(q));
  if (!page.isOk()) co_return errorResponse(ApiError::fromStatus(page.status(), kind.plural, ""));
  std::string token;
  if (page->more) token = encodeContinue({0, "", "", page->lastId});
  if (c.format == OutputFormat::kTable) {
    std::vector<json::object> objs;
    for (const auto& it : page->items) objs.push_back(json::parse(it).as_object());
    co_return jsonResponse(200, json::serialize(makeTable(
                                    kind, objs, includeOf(c.param("includeObject")), "", token)));
  }
  std::string body = "{\"apiVersion\":\"" + std::string(kApiVersion) + "\",\"kind\":\"" +
                     kind.listKind() + "\",\"metadata\":{";
  if (!token.empty()) body += "\"continue\":\"" + token + "\"";
  body += "},\"items\":[";
  for (std::size_t i = 0; i < page->items.size(); ++i) {
    if (i) body += ',';
    body += page->items[i];
  }
  body += "]}";
  co_return jsonResponse(200, std::move(body));
}

// ---- watch ----

namespace {

struct WatchFilter {
  std::optional<std::string> ns;
  LabelSelector labels;
  FieldSelector fields;

  // What to send for this event: nullptr (nothing), or the event type to use.
  const char* decide(const WatchEvent& ev) const {
    if (ns && ev.key.ns != *ns) return nullptr;
    if (!fields.empty() && !fields.matches(ev.object)) return nullptr;
    if (labels.empty()) return eventTypeName(ev.type);
    auto labelsOf = [](const json::object& o) -> const json::object* {
      const auto* m = o.if_contains("metadata");
      if (!m || !m->is_object()) return nullptr;
      const auto* l = m->get_object().if_contains("labels");
      return l && l->is_object() ? &l->get_object() : nullptr;
    };
    bool now = labels.matches(labelsOf(ev.object));
    if (ev.type != EventType::kModified) return now ? eventTypeName(ev.type) : nullptr;
    bool before = ev.prevLabels ? labels.matches(&*ev.prevLabels) : false;
    if (now && before) return "MODIFIED";
    if (now) return "ADDED";
    if (before) return "DELETED";
    return nullptr;
  }
};

}  // namespace

Awaitable<std::optional<HttpResponse>> ApiHandler::watch(Call& c, ResponseStream& stream) {
  const KindInfo& kind = *c.kind;
  if (kind.readOnly()) {
    co_return errorResponse(
        ApiError::methodNotAllowed(kind.plural + " cannot be watched; list them with since/until"));
  }
  WatchFilter filter;
  if (c.nsInPath) filter.ns = c.ns;
  auto labels = LabelSelector::parse(c.param("labelSelector"));
  if (!labels.isOk()) co_return errorResponse(ApiError::badRequest(labels.status().message()));
  filter.labels = std::move(labels).value();
  std::string fs = c.param("fieldSelector");
  if (!c.name.empty()) fs = "metadata.name=" + c.name + (fs.empty() ? "" : "," + fs);
  auto fields = FieldSelector::parse(fs, objectFieldSelectors());
  if (!fields.isOk()) co_return errorResponse(ApiError::badRequest(fields.status().message()));
  filter.fields = std::move(fields).value();

  std::chrono::seconds timeout;
  if (c.has("timeoutSeconds")) {
    auto t = parseResourceVersion(c.param("timeoutSeconds"));
    if (!t)
      co_return errorResponse(
          ApiError::badRequest("timeoutSeconds must be a non-negative integer"));
    timeout = std::chrono::seconds(std::min<std::int64_t>(*t, 24 * 3600));
  } else {
    thread_local std::mt19937 rng{std::random_device{}()};
    auto min = options_.watchMinTimeout.count();
    timeout = std::chrono::seconds(min + std::uniform_int_distribution<long long>(0, min)(rng));
  }
  const bool bookmarks = isTrue(c.param("allowWatchBookmarks"));
  const IncludeObject include = includeOf(c.param("includeObject"));
  const std::string rvParam = c.param("resourceVersion");
  std::optional<std::int64_t> from;
  if (!rvParam.empty() && rvParam != "0") {
    from = parseResourceVersion(rvParam);
    if (!from)
      co_return errorResponse(ApiError::badRequest("invalid resourceVersion \"" + rvParam + "\""));
  }

  auto ex = co_await boost::asio::this_coro::executor;
  AsyncEvent wake(ex);
  auto sub = hub_.subscribe(kind.kind, wake.notifier());
  stream.onInterrupt(wake.notifier());
  const std::int64_t start = sub->startRv();
  std::int64_t lastSent = start;

  // What happened before the subscription started: the initial state (no resourceVersion) or
  // the changes since the client's version.
  std::vector<WatchEventPtr> backlog;
  std::optional<ListPage> firstPage;
  ListQuery initial;
  if (!from) {
    initial.kind = kind.kind;
    initial.ns = filter.ns;
    initial.labels = filter.labels;
    initial.fields = filter.fields;
    initial.atRv = start;
    initial.limit = options_.watchInitialPage;
    auto page = co_await storage_.list(initial);
    if (!page.isOk()) co_return errorResponse(ApiError::fromStatus(page.status(), kind.plural, ""));
    firstPage = std::move(page).value();
  } else if (*from < start) {
    if (!hub_.replay(kind.kind, *from, start, backlog)) {
      std::int64_t after = *from;
      while (after < start) {
        auto changes = co_await storage_.changesSince(after, start, 1000);
        if (!changes.isOk()) {
          if (changes.status().code() == StatusCode::kGone) {
            co_return errorResponse(ApiError::gone(changes.status().message()));
          }
          co_return errorResponse(ApiError::fromStatus(changes.status(), kind.plural, ""));
        }
        if (changes->empty()) break;
        after = changes->back().rv;
        for (auto& ch : *changes) {
          if (ch.key.kind != kind.kind) continue;
          auto ev = makeWatchEvent(std::move(ch));
          if (ev.isOk()) backlog.push_back(std::move(ev).value());
        }
        if (changes->size() < 1000) break;
      }
    }
    lastSent = *from;
  } else {
    lastSent = *from;  // events up to the client's version are not sent again
  }

  if (!co_await stream.begin(200, "application/json", requestIdHeader(c.ctx.requestId))) {
    co_return std::nullopt;
  }
  auto& sentCounter = watchCounter(kind.plural);
  auto line = [&](const char* type, const std::string& objectJson, const json::object* parsed) {
    std::string out = "{\"type\":\"";
    out += type;
    out += "\",\"object\":";
    if (c.format == OutputFormat::kTable && parsed) {
      out += json::serialize(makeTable(kind, {*parsed}, include, "", ""));
    } else {
      out += objectJson;
    }
    out += "}\n";
    return out;
  };

  bool alive = true;
  if (firstPage) {
    // Initial state as ADDED events, page by page, all at version `start`.
    while (alive) {
      std::string batch;
      for (const auto& it : firstPage->items) {
        json::object o = json::parse(it.json).as_object();
        batch += line("ADDED", it.json, &o);
      }
      if (!batch.empty()) {
        alive = co_await stream.write(std::move(batch));
        sentCounter.Increment(static_cast<double>(firstPage->items.size()));
      }
      if (!firstPage->more || !alive) break;
      initial.afterNs = firstPage->lastNs;
      initial.afterName = firstPage->lastName;
      auto page = co_await storage_.list(initial);
      if (!page.isOk()) {
        ApiError e = ApiError::fromStatus(page.status(), kind.plural, "");
        co_await stream.write("{\"type\":\"ERROR\",\"object\":" + e.toJson() + "}\n");
        alive = false;
        break;
      }
      firstPage = std::move(page).value();
    }
  }
  auto sendEvents = [&](const std::vector<WatchEventPtr>& events) -> Awaitable<bool> {
    std::string batch;
    std::size_t n = 0;
    for (const auto& ev : events) {
      if (ev->rv <= lastSent) continue;
      lastSent = ev->rv;
      if (const char* type = filter.decide(*ev)) {
        batch += line(type, ev->json, &ev->object);
        ++n;
      }
    }
    if (batch.empty()) co_return true;
    sentCounter.Increment(static_cast<double>(n));
    co_return co_await stream.write(std::move(batch));
  };
  if (alive) alive = co_await sendEvents(backlog);

  const auto deadline = Clock::now() + timeout;
  auto nextBookmark = Clock::now() + options_.bookmarkInterval;
  while (alive) {
    const std::int64_t watermark = hub_.watermark();
    bool overflowed = false, closed = false;
    auto events = sub->drain(overflowed, closed);
    alive = co_await sendEvents(events);
    if (!alive || overflowed || closed || stream.interrupted()) break;
    const auto now = Clock::now();
    if (now >= deadline) break;
    if (bookmarks && now >= nextBookmark) {
      lastSent = std::max(lastSent, watermark);
      std::string bm = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"" + kind.kind +
                       "\",\"apiVersion\":\"" + kApiVersion +
                       "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(lastSent) +
                       "\"}}}\n";
      alive = co_await stream.write(std::move(bm));
      nextBookmark = now + options_.bookmarkInterval;
    }
    auto wakeAt = std::min(deadline, bookmarks ? nextBookmark : deadline);
    co_await wake.wait(wakeAt);
  }
  co_await stream.end();
  co_return std::nullopt;
}

}  // namespace tessera::apiserver

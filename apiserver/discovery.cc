#include "apiserver/discovery.h"

#include <boost/json.hpp>

#include "common/crypto.h"

namespace tessera::apiserver {
namespace json = boost::json;

namespace {

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::value(s));
  return a;
}

json::array verbNames(const std::vector<Verb>& verbs) {
  json::array a;
  for (Verb v : verbs) a.push_back(json::value(verbName(v)));
  return a;
}

json::object gvk(const std::string& kind) {
  return json::object{{"group", kGroup}, {"version", kVersion}, {"kind", kind}};
}

json::object ref(const std::string& name) {
  return json::object{{"$ref", "#/components/schemas/" + name}};
}

json::object queryParam(const char* name, const char* description) {
  return json::object{{"name", name},
                      {"in", "query"},
                      {"description", description},
                      {"schema", json::object{{"type", "string"}}},
                      {"uniqueItems", true}};
}

json::object response(const std::string& schemaName) {
  return json::object{
      {"200",
       json::object{{"description", "OK"},
                    {"content", json::object{{"application/json",
                                              json::object{{"schema", ref(schemaName)}}}}}}}};
}

json::object objectMetaSchema() {
  auto str = [](const char* d) { return json::object{{"type", "string"}, {"description", d}}; };
  json::object props;
  props["name"] = str("Name, unique per kind (and namespace). RFC 1123 subdomain.");
  props["generateName"] = str("Prefix for a server-generated name, used when name is empty.");
  props["namespace"] = str("Namespace of namespaced kinds. RFC 1123 label.");
  props["uid"] = str("Unique id of this incarnation of the object. Set by the server.");
  props["resourceVersion"] = str("Opaque version for optimistic concurrency and watches.");
  props["generation"] = json::object{{"type", "integer"},
                                     {"format", "int64"},
                                     {"description", "Incremented on every change to spec."}};
  props["creationTimestamp"] = json::object{
      {"type", "string"}, {"format", "date-time"}, {"description", "When the object was created."}};
  json::object strMap{{"type", "object"},
                      {"additionalProperties", json::object{{"type", "string"}}}};
  props["labels"] = strMap;
  props["labels"].as_object()["description"] = "Key/value pairs for selection (labelSelector).";
  props["annotations"] = strMap;
  props["annotations"].as_object()["description"] = "Non-identifying key/value metadata.";
  return json::object{{"type", "object"},
                      {"description", "Standard object metadata."},
                      {"properties", std::move(props)}};
}

}  // namespace

DiscoveryDocs::DiscoveryDocs(const KindRegistry& kinds, std::string serverVersion) {
  version_ = json::serialize(json::object{{"major", "1"},
                                          {"minor", "32"},
                                          {"gitVersion", "v1.32.0-tessera-" + serverVersion},
                                          {"platform", "linux/amd64"},
                                          {"tesseraVersion", serverVersion}});
  apiVersions_ = json::serialize(json::object{{"kind", "APIVersions"},
                                              {"versions", json::array{}},
                                              {"serverAddressByClientCIDRs", json::array{}}});
  coreV1_ = json::serialize(json::object{
      {"kind", "APIResourceList"}, {"groupVersion", "v1"}, {"resources", json::array{}}});
  json::object gv{{"groupVersion", kApiVersion}, {"version", kVersion}};
  json::object groupObj{{"kind", "APIGroup"},
                        {"apiVersion", "v1"},
                        {"name", kGroup},
                        {"versions", json::array{gv}},
                        {"preferredVersion", gv}};
  group_ = json::serialize(groupObj);
  json::object groupEntry = groupObj;
  groupEntry.erase("kind");
  groupEntry.erase("apiVersion");
  // authentication.k8s.io/v1: only SelfSubjectReview ("who am I"), answered from the token.
  json::object authGv{{"groupVersion", "authentication.k8s.io/v1"}, {"version", "v1"}};
  json::object authGroupObj{{"kind", "APIGroup"},
                            {"apiVersion", "v1"},
                            {"name", "authentication.k8s.io"},
                            {"versions", json::array{authGv}},
                            {"preferredVersion", authGv}};
  authGroup_ = json::serialize(authGroupObj);
  json::object authEntry = authGroupObj;
  authEntry.erase("kind");
  authEntry.erase("apiVersion");
  authResources_ = json::serialize(
      json::object{{"kind", "APIResourceList"},
                   {"apiVersion", "v1"},
                   {"groupVersion", "authentication.k8s.io/v1"},
                   {"resources", json::array{json::object{{"name", "selfsubjectreviews"},
                                                          {"singularName", "selfsubjectreview"},
                                                          {"namespaced", false},
                                                          {"kind", "SelfSubjectReview"},
                                                          {"verbs", json::array{"create"}}}}}});
  groupList_ = json::serialize(json::object{{"kind", "APIGroupList"},
                                            {"apiVersion", "v1"},
                                            {"groups", json::array{groupEntry, authEntry}}});

  json::array resources;
  for (const auto& k : kinds.all()) {
    json::object r;
    r["name"] = k.plural;
    r["singularName"] = k.singular;
    r["namespaced"] = k.namespaced;
    r["kind"] = k.kind;
    r["verbs"] = verbNames(k.verbs());
    if (!k.shortNames.empty()) r["shortNames"] = strings(k.shortNames);
    if (!k.categories.empty()) r["categories"] = strings(k.categories);
    resources.push_back(std::move(r));
    if (k.hasLog) {
      resources.push_back(json::object{{"name", k.plural + "/log"},
                                       {"singularName", ""},
                                       {"namespaced", k.namespaced},
                                       {"kind", k.kind},
                                       {"verbs", json::array{"get"}}});
    }
    if (k.hasStatus() && !k.systemManaged) {
      resources.push_back(json::object{{"name", k.plural + "/status"},
                                       {"singularName", ""},
                                       {"namespaced", k.namespaced},
                                       {"kind", k.kind},
                                       {"verbs", json::array{"get", "patch", "update"}}});
    }
  }
  resources_ = json::serialize(json::object{{"kind", "APIResourceList"},
                                            {"apiVersion", "v1"},
                                            {"groupVersion", kApiVersion},
                                            {"resources", std::move(resources)}});

  // ---- OpenAPI v3 for the group ----
  json::object schemas;
  schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"] = objectMetaSchema();
  schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"] = json::object{
      {"type", "object"},
      {"properties", json::object{{"resourceVersion", json::object{{"type", "string"}}},
                                  {"continue", json::object{{"type", "string"}}}}}};
  schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Status"] = json::object{
      {"type", "object"},
      {"description", "Status is the return value of calls that don't return other objects."},
      {"x-kubernetes-group-version-kind",
       json::array{json::object{{"group", ""}, {"version", "v1"}, {"kind", "Status"}}}}};
  json::object paths;
  for (const auto& k : kinds.all()) {
    const std::string name = std::string("io.tessera.v1.") + k.kind;
    json::object props;
    props["apiVersion"] = json::object{{"type", "string"}, {"description", "tessera.io/v1"}};
    props["kind"] = json::object{{"type", "string"}, {"description", k.kind}};
    props["metadata"] = ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    if (k.spec) props["spec"] = k.spec->openApi();
    if (k.status) props["status"] = k.status->openApi();
    if (k.readOnly()) {
      // AuditEvent: top-level fields, see kinds/audit_event.cc.
      for (const char* f : {"auditID", "requestID", "verb", "userAgent", "requestReceivedTimestamp",
                            "resourceVersionBefore", "resourceVersionAfter"}) {
        props[f] = json::object{{"type", "string"}};
      }
      props["dryRun"] = json::object{{"type", "boolean"}};
      props["sourceIPs"] =
          json::object{{"type", "array"}, {"items", json::object{{"type", "string"}}}};
      json::object obj{{"type", "object"}};
      props["user"] =
          json::object{{"type", "object"},
                       {"properties", json::object{{"username", json::object{{"type", "string"}}},
                                                   {"role", json::object{{"type", "string"}}}}}};
      props["objectRef"] = json::object{
          {"type", "object"},
          {"properties", json::object{{"resource", json::object{{"type", "string"}}},
                                      {"namespace", json::object{{"type", "string"}}},
                                      {"name", json::object{{"type", "string"}}},
                                      {"subresource", json::object{{"type", "string"}}},
                                      {"apiGroup", json::object{{"type", "string"}}},
                                      {"apiVersion", json::object{{"type", "string"}}}}}};
      props["responseStatus"] =
          json::object{{"type", "object"},
                       {"properties", json::object{{"code", json::object{{"type", "integer"}}},
                                                   {"reason", json::object{{"type", "string"}}},
                                                   {"message", json::object{{"type", "string"}}}}}};
    }
    schemas[name] = json::object{{"type", "object"},
                                 {"description", k.description},
                                 {"properties", std::move(props)},
                                 {"x-kubernetes-group-version-kind", json::array{gvk(k.kind)}}};
    schemas[name + "List"] = json::object{
        {"type", "object"},
        {"required", json::array{"items"}},
        {"properties",
         json::object{{"apiVersion", json::object{{"type", "string"}}},
                      {"kind", json::object{{"type", "string"}}},
                      {"metadata", ref("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")},
                      {"items", json::object{{"type", "array"}, {"items", ref(name)}}}}},
        {"x-kubernetes-group-version-kind", json::array{gvk(k.kind + "List")}}};

    auto op = [&](const char* action, const std::string& opName) {
      json::object o;
      o["operationId"] = opName;
      o["description"] = std::string(action) + " " + k.kind;
      o["x-kubernetes-action"] = action;
      o["x-kubernetes-group-version-kind"] = gvk(k.kind);
      o["responses"] = response(name);
      return o;
    };
    auto body = [&](std::initializer_list<const char*> types) {
      json::object content;
      for (const char* t : types) content[t] = json::object{{"schema", ref(name)}};
      return json::object{{"required", true}, {"content", std::move(content)}};
    };
    auto writeParams = [] {
      return json::array{
          queryParam("dryRun", "When present (All), the change is validated but not persisted."),
          queryParam("fieldManager", "Name of the actor making the change (accepted, not stored)."),
          queryParam("fieldValidation",
                     "Strict (default): unknown fields are an error; Warn: dropped with a "
                     "warning; Ignore: dropped.")};
    };
    std::vector<std::string> collections;
    if (k.namespaced) {
      collections.push_back(std::string("/apis/") + kApiVersion + "/namespaces/{namespace}/" +
                            k.plural);
      collections.push_back(std::string("/apis/") + kApiVersion + "/" + k.plural);
    } else {
      collections.push_back(std::string("/apis/") + kApiVersion + "/" + k.plural);
    }
    json::object nsParam{{"name", "namespace"},
                         {"in", "path"},
                         {"required", true},
                         {"schema", json::object{{"type", "string"}}}};
    json::object nameParam{{"name", "name"},
                           {"in", "path"},
                           {"required", true},
                           {"schema", json::object{{"type", "string"}}}};
    for (std::size_t i = 0; i < collections.size(); ++i) {
      bool scoped = k.namespaced && i == 0;
      json::object coll;
      if (!k.review) {
        auto list = op("list", "list" + k.kind);
        list["responses"] = response(name + "List");
        coll["get"] = std::move(list);
      }
      if (!k.readOnly() && !k.systemManaged && (scoped || !k.namespaced)) {
        auto post = op("post", "create" + k.kind);
        post["parameters"] = writeParams();
        post["requestBody"] = body({"application/json"});
        coll["post"] = std::move(post);
      }
      if (scoped) coll["parameters"] = json::array{nsParam};
      paths[collections[i]] = std::move(coll);
      if ((k.namespaced && !scoped) || k.review) continue;
      json::object item;
      item["get"] = op("get", "read" + k.kind);
      if (!k.readOnly() && !k.systemManaged) {
        auto put = op("put", "replace" + k.kind);
        put["parameters"] = writeParams();
        put["requestBody"] = body({"application/json"});
        item["put"] = std::move(put);
        auto patch = op("patch", "patch" + k.kind);
        patch["parameters"] = writeParams();
        patch["requestBody"] =
            body({"application/merge-patch+json", "application/json-patch+json"});
        item["patch"] = std::move(patch);
        auto del = op("delete", "delete" + k.kind);
        del["parameters"] = json::array{queryParam("dryRun", "Validate only.")};
        item["delete"] = std::move(del);
      }
      item["parameters"] = scoped ? json::array{nameParam, nsParam} : json::array{nameParam};
      paths[collections[i] + "/{name}"] = item;
      if (k.hasStatus() && !k.systemManaged) {
        json::object st;
        st["get"] = op("get", "read" + k.kind + "Status");
        auto put = op("put", "replace" + k.kind + "Status");
        put["parameters"] = writeParams();
        put["requestBody"] = body({"application/json"});
        st["put"] = std::move(put);
        auto patch = op("patch", "patch" + k.kind + "Status");
        patch["parameters"] = writeParams();
        patch["requestBody"] =
            body({"application/merge-patch+json", "application/json-patch+json"});
        st["patch"] = std::move(patch);
        st["parameters"] = item["parameters"];
        paths[collections[i] + "/{name}/status"] = std::move(st);
      }
    }
  }
  json::object doc{{"openapi", "3.0.0"},
                   {"info", json::object{{"title", "Tessera"}, {"version", kVersion}}},
                   {"paths", std::move(paths)},
                   {"components", json::object{{"schemas", std::move(schemas)}}}};
  openApiGroup_ = json::serialize(doc);
  const std::string hash = sha256Hex(openApiGroup_).substr(0, 32);
  openApiIndex_ = json::serialize(json::object{
      {"paths",
       json::object{{std::string("apis/") + kApiVersion,
                     json::object{{"serverRelativeURL", std::string("/openapi/v3/apis/") +
                                                            kApiVersion + "?hash=" + hash}}}}}});
}

}  // namespace tessera::apiserver

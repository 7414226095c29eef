// tessctl apply, delete and logs: writing objects the way `kubectl apply` reads (create or
// update, say which), removing them, and reading a replica's recent log.
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"

namespace tessera::cli {
namespace json = boost::json;

namespace {

Result<std::string> readInput(const std::string& file) {
  std::ostringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return invalidArgument("cannot read " + file);
  ss << in.rdbuf();
  return ss.str();
}

/// Fields a `get -o yaml` output carries that a write must not send.
void stripServerFields(json::object& obj) {
  if (auto* m = obj.if_contains("metadata"); m && m->is_object()) {
    for (const char* f : {"resourceVersion", "uid", "creationTimestamp", "generation",
                          "managedFields", "selfLink"}) {
      m->as_object().erase(f);
    }
  }
}

std::string resourceVersionOf(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  return ec ? std::string() : text(v, "metadata.resourceVersion");
}

/// Applies one document; prints "kind/name created|configured|unchanged".
ExitCode applyOne(Session& s, json::value doc, bool dryRun) {
  if (!doc.is_object()) return s.fail(invalidArgument("a document is not an object"));
  auto& obj = doc.as_object();
  const std::string kind = text(doc, "kind");
  if (kind.empty()) return s.fail(invalidArgument("a document has no kind"));
  auto catalog = s.catalog();
  if (!catalog.isOk()) return s.fail(catalog.status());
  const Resource* res = (*catalog)->byKind(kind);
  if (res == nullptr) {
    return s.fail(notFound("the server has no kind \"" + kind + "\" (apiVersion " +
                           text(doc, "apiVersion") + ")"));
  }
  stripServerFields(obj);
  if (!obj["metadata"].is_object()) obj["metadata"] = json::object();
  auto& meta = obj["metadata"].as_object();
  std::string ns;
  if (res->namespaced) {
    ns = text(doc, "metadata.namespace");
    if (ns.empty()) {
      ns = s.ns();
      meta["namespace"] = ns;
    }
  }
  const std::string name = text(doc, "metadata.name");
  const std::string suffix = dryRun ? " (dry run)" : "";
  const std::string dry = dryRun ? "?dryRun=All" : "";
  if (name.empty()) {
    if (text(doc, "metadata.generateName").empty())
      return s.fail(invalidArgument(res->singular + ": a document has no metadata.name"));
    auto r = s.api().request("POST", res->collectionPath(ns) + dry, json::serialize(doc),
                             "application/json");
    if (!r.isOk()) return s.fail(r.status());
    if (!r->ok()) return s.failHttp(*r);
    boost::system::error_code ec;
    json::value created = json::parse(r->body, ec);
    s.out() << res->singular << "/" << (ec ? "" : text(created, "metadata.name")) << " created"
            << suffix << "\n";
    return ExitCode::kOk;
  }
  const std::string label = res->singular + "/" + name;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto current = s.api().get(res->itemPath(ns, name));
    if (!current.isOk()) return s.fail(current.status());
    if (current->status == 404) {
      auto r = s.api().request("POST", res->collectionPath(ns) + dry, json::serialize(doc),
                               "application/json");
      if (!r.isOk()) return s.fail(r.status());
      if (r->status == 409 && attempt == 0) continue;  // created meanwhile: update it
      if (!r->ok()) return s.failHttp(*r);
      s.out() << label << " created" << suffix << "\n";
      return ExitCode::kOk;
    }
    if (!current->ok()) return s.failHttp(*current);
    const std::string before = resourceVersionOf(current->body);
    meta["resourceVersion"] = before;
    auto r = s.api().request("PUT", res->itemPath(ns, name) + dry, json::serialize(doc),
                             "application/json");
    if (!r.isOk()) return s.fail(r.status());
    if (r->status == 409 && attempt == 0) continue;  // changed meanwhile: read again, once
    if (!r->ok()) return s.failHttp(*r);
    const bool unchanged = resourceVersionOf(r->body) == before;
    s.out() << label << (unchanged ? " unchanged" : " configured") << suffix << "\n";
    return ExitCode::kOk;
  }
  return ExitCode::kRefused;  // not reached: the second 409 is reported above
}

}  // namespace

ExitCode runApply(Session& s, const ApplyOptions& o) {
  if (o.files.empty()) return s.fail(invalidArgument("apply needs -f FILE (or -f - for stdin)"));
  std::vector<json::value> docs;
  for (const auto& f : o.files) {
    auto textIn = readInput(f);
    if (!textIn.isOk()) return s.fail(textIn.status());
    auto parsed = parseDocuments(*textIn);
    if (!parsed.isOk()) return s.fail(invalidArgument(f + ": " + parsed.status().message()));
    for (auto& d : *parsed) {
      // A List (as `get -o json` prints) applies its items.
      const auto* items = at(d, "items");
      const std::string kind = text(d, "kind");
      if (items && items->is_array() && kind.size() >= 4 &&
          kind.compare(kind.size() - 4, 4, "List") == 0) {
        for (const auto& it : items->get_array()) docs.push_back(it);
      } else {
        docs.push_back(std::move(d));
      }
    }
  }
  if (docs.empty()) return s.fail(invalidArgument("no objects to apply"));
  ExitCode code = ExitCode::kOk;
  for (auto& d : docs) {
    ExitCode c = applyOne(s, std::move(d), o.dryRun);
    if (code == ExitCode::kOk) code = c;
  }
  return code;
}

ExitCode runDelete(Session& s, const DeleteOptions& o) {
  auto res = s.resolve(o.kind);
  if (!res.isOk()) return s.fail(res.status());
  if (o.names.empty()) return s.fail(invalidArgument("delete needs the names to delete"));
  const std::string ns = res->namespaced ? s.ns() : "";
  ExitCode code = ExitCode::kOk;
  for (const auto& name : o.names) {
    auto r = s.api().request("DELETE", res->itemPath(ns, name));
    if (!r.isOk()) return s.fail(r.status());
    ExitCode c = ExitCode::kOk;
    if (r->ok()) {
      s.out() << res->singular << " \"" << name << "\" deleted\n";
    } else if (r->status == 404 && o.ignoreNotFound) {
      continue;
    } else {
      c = s.failHttp(*r);
    }
    if (code == ExitCode::kOk) code = c;
  }
  return code;
}

ExitCode runLogs(Session& s, const LogsOptions& o) {
  auto res = s.resolve("replicas");
  if (!res.isOk()) return s.fail(res.status());
  if (!res->hasLog) return s.fail(notFound("the server serves no replica logs"));
  if (o.tail < 1 || o.tail > 10000) return s.fail(invalidArgument("--tail must be 1-10000"));
  auto r = s.api().request(
      "GET", res->itemPath(s.ns(), o.replica) + "/log?tailLines=" + std::to_string(o.tail), "", "",
      "*/*");
  if (!r.isOk()) return s.fail(r.status());
  if (!r->ok()) return s.failHttp(*r);
  s.out() << r->body;
  if (!r->body.empty() && r->body.back() != '\n') s.out() << "\n";
  return ExitCode::kOk;
}

}  // namespace tessera::cli

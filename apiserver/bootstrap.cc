#include "apiserver/bootstrap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "apiserver/credential.h"
#include "apiserver/kinds/kinds.h"
#include "common/crypto.h"
#include "common/kubeconfig.h"
#include "common/logging.h"

namespace tessera::apiserver {
namespace json = boost::json;

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status writeAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp." + randomSuffix(6);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return internalError("cannot create " + tmp + ": " + std::strerror(errno));
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      return internalError("cannot write " + tmp);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ::fchmod(fd, 0600);
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return internalError("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
  return Status::ok();
}

}  // namespace

std::string renderKubeconfig(const KubeconfigOptions& opts, const std::string& token) {
  std::string cluster = "    server: " + opts.serverUrl + "\n";
  if (opts.serverUrl.rfind("https://", 0) == 0) {
    std::string ca = opts.caFile.empty() ? std::string() : readFile(opts.caFile);
    if (!ca.empty()) cluster += "    certificate-authority-data: " + base64Encode(ca) + "\n";
  }
  return "# Written by tessera-server: an admin credential. Keep it private (mode 0600).\n"
         "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: tessera\n"
         "  cluster:\n" +
         cluster +
         "users:\n"
         "- name: tessera-admin\n"
         "  user:\n"
         "    token: " +
         token +
         "\n"
         "contexts:\n"
         "- name: tessera\n"
         "  context:\n"
         "    cluster: tessera\n"
         "    user: tessera-admin\n"
         "    namespace: default\n"
         "current-context: tessera\n";
}

Awaitable<Status> ensureAdminKubeconfig(Registry& registry, Storage& storage,
                                        const KindRegistry& kinds, KubeconfigOptions opts) {
  auto log = getLogger("bootstrap");
  const std::string existing = kubeconfigToken(readFile(opts.path));
  if (!existing.empty() && looksLikeTokenSecret(existing)) {
    auto stored = co_await storage.lookupCredential(hashTokenSecret(existing));
    if (stored.isOk()) {
      json::value v = json::parse(stored->json);
      if (schemas::at(v.as_object(), "spec.role") == json::value("admin") &&
          schemas::at(v.as_object(), "spec.expirationTimestamp").is_null()) {
        co_return writeAtomically(opts.path, renderKubeconfig(opts, existing));
      }
    } else if (stored.status().code() != StatusCode::kNotFound) {
      co_return stored.status();
    }
  }
  const KindInfo* kind = kinds.byKind(apiTokenKind().kind);
  RequestContext ctx = systemContext("system:tessera-server");
  json::object token{
      {"apiVersion", kApiVersion},
      {"kind", kind->kind},
      {"metadata", json::object{{"generateName", "bootstrap-admin-"},
                                {"labels", json::object{{"tessera.io/bootstrap", "true"}}}}},
      {"spec", json::object{{"user", "admin"},
                            {"role", "admin"},
                            {"description", "Created at first start for " + opts.path}}}};
  Outcome o = co_await registry.create(*kind, "", json::serialize(token), ctx, WriteOptions{});
  if (!o.ok()) co_return internalError("cannot create the admin token: " + o.error->message);
  json::value created = json::parse(o.object.json);
  json::value secret = schemas::at(created.as_object(), "status.token");
  json::value name = schemas::at(created.as_object(), "metadata.name");
  Status s = writeAtomically(opts.path, renderKubeconfig(opts, std::string(secret.as_string())));
  if (s.isOk()) {
    log->info("admin token created apitoken={} kubeconfig={} (the token is only in that file)",
              std::string(name.as_string()), opts.path);
  }
  co_return s;
}

}  // namespace tessera::apiserver

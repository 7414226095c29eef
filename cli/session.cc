#include "cli/session.h"

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "cli/output.h"
#include "common/kubeconfig.h"
#include "common/time_util.h"

namespace tessera::cli {
namespace json = boost::json;

std::string defaultKubeconfigPath() {
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string v(env);
    return v.substr(0, v.find(':'));  // the first file of a list
  }
  std::error_code ec;
  if (std::filesystem::exists(".tessera/kubeconfig", ec)) return ".tessera/kubeconfig";
  if (const char* home = std::getenv("HOME"); home && *home) {
    std::string p = std::string(home) + "/.kube/config";
    if (std::filesystem::exists(p, ec)) return p;
  }
  return "";
}

Result<std::unique_ptr<Session>> Session::open(const GlobalOptions& o, std::ostream& out,
                                               std::ostream& err) {
  std::unique_ptr<Session> s(new Session(out, err));
  ClientConfig cfg;
  const std::string path = o.kubeconfig.empty() ? defaultKubeconfigPath() : o.kubeconfig;
  KubeconfigContext kc;
  if (!path.empty()) {
    auto loaded = loadKubeconfig(path, o.context);
    // Without --server a kubeconfig is required; with it, an unreadable one is still an error
    // only when it was named explicitly.
    if (!loaded.isOk() && (o.server.empty() || !o.kubeconfig.empty())) {
      return invalidArgument(loaded.status().message());
    }
    if (loaded.isOk()) kc = std::move(loaded).value();
  } else if (o.server.empty()) {
    return invalidArgument(
        "no kubeconfig: give --kubeconfig or --server, set KUBECONFIG, or run from the folder "
        "where deploy/up.sh wrote .tessera/kubeconfig");
  }
  cfg.server = o.server.empty() ? kc.server : o.server;
  cfg.token = o.token.empty() ? kc.token : o.token;
  cfg.caPem = kc.caPem;
  cfg.insecureSkipTlsVerify = kc.insecureSkipTlsVerify || o.insecureSkipTlsVerify;
  if (!o.certificateAuthority.empty()) {
    std::ifstream in(o.certificateAuthority);
    if (!in) return invalidArgument("cannot read " + o.certificateAuthority);
    std::ostringstream ss;
    ss << in.rdbuf();
    cfg.caPem = ss.str();
  }
  auto timeout = parseDuration(o.requestTimeout);
  if (!timeout || timeout->count() <= 0) {
    return invalidArgument("--request-timeout: \"" + o.requestTimeout + "\" is not a duration");
  }
  cfg.requestTimeout = *timeout;
  auto api = ApiClient::create(std::move(cfg));
  if (!api.isOk()) return api.status();
  s->api_ = std::move(api).value();
  s->ns_ = !o.ns.empty() ? o.ns : (!kc.namespace_.empty() ? kc.namespace_ : "default");
  return s;
}

Result<const ResourceCatalog*> Session::catalog() {
  if (catalog_) return &*catalog_;
  auto r = api_->get(kApiPrefix);
  if (!r.isOk()) return r.status();
  if (!r->ok()) {
    // 401/403 and friends: keep the server's words.
    std::string msg = describeHttpError(r->status, r->body);
    if (!msg.empty() && msg.back() == '\n') msg.pop_back();
    const StatusCode code = r->status == 401   ? StatusCode::kUnauthenticated
                            : r->status == 403 ? StatusCode::kPermissionDenied
                            : r->status == 404 ? StatusCode::kNotFound
                                               : StatusCode::kUnavailable;
    return Status(code, msg);
  }
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec) return Status(StatusCode::kInternal, "discovery: the server's answer is not JSON");
  auto c = ResourceCatalog::fromDiscovery(v);
  if (!c.isOk()) return c.status();
  catalog_ = std::move(c).value();
  return &*catalog_;
}

Result<Resource> Session::resolve(const std::string& name) {
  auto c = catalog();
  if (!c.isOk()) return c.status();
  return (*c)->resolve(name);
}

ExitCode Session::fail(const Status& s, bool timedOutIsTimeout) {
  const std::string& m = s.message();
  // Messages that already are the server's words ("Error from server ...") are printed as is.
  err_ << (m.rfind("Error from server", 0) == 0 ? "" : "error: ") << m << "\n";
  switch (s.code()) {
    case StatusCode::kNotFound:
      return ExitCode::kNotFound;
    case StatusCode::kInvalidArgument:
      return ExitCode::kUsage;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
    case StatusCode::kConflict:
    case StatusCode::kAlreadyExists:
      return ExitCode::kRefused;
    case StatusCode::kDeadlineExceeded:
      return timedOutIsTimeout ? ExitCode::kTimedOut : ExitCode::kFailed;
    default:
      return ExitCode::kFailed;
  }
}

ExitCode Session::failHttp(const ApiResponse& r) {
  err_ << describeHttpError(r.status, r.body);
  return exitCodeForHttp(r.status);
}

void Session::note(const std::string& message) {
  err_ << "note: " << message << "\n";
}

}  // namespace tessera::cli

// Session: what every tessctl command works with — the resolved connection settings, the API
// client, the server's kinds (discovered once, on first use), the namespace, and the output
// streams; plus the one place that turns failures into messages and exit codes.
#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "cli/api_client.h"
#include "cli/exit_code.h"
#include "cli/resources.h"
#include "common/status.h"

namespace tessera::cli {

/// Flags every command accepts.
struct GlobalOptions {
  std::string
      kubeconfig;       // --kubeconfig; default: $KUBECONFIG, ./.tessera/kubeconfig, ~/.kube/config
  std::string context;  // --context
  std::string server;   // --server (overrides the context's)
  std::string token;    // --token (overrides the context's user)
  std::string certificateAuthority;  // --certificate-authority (a PEM file)
  bool insecureSkipTlsVerify = false;
  std::string ns;  // -n/--namespace (default: the context's, else "default")
  std::string requestTimeout = "30s";
};

/// The kubeconfig tessctl reads when --kubeconfig is not given ("" if none exists).
std::string defaultKubeconfigPath();

class Session {
 public:
  /// Resolves kubeconfig and overrides. Fails (with a message for stderr) when there is no
  /// server to talk to or the kubeconfig is unusable.
  static Result<std::unique_ptr<Session>> open(const GlobalOptions& options, std::ostream& out,
                                               std::ostream& err);

  ApiClient& api() { return *api_; }
  /// The namespace for namespaced kinds (flag, else context, else "default").
  const std::string& ns() const { return ns_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  /// The server's kinds (GET /apis/tessera.io/v1 on first use).
  Result<const ResourceCatalog*> catalog();
  /// catalog()->resolve(name), with discovery failures passed through.
  Result<Resource> resolve(const std::string& name);

  /// Prints `s` ("error: ...") and returns its exit code: NotFound → 4, InvalidArgument → 2,
  /// FailedPrecondition/PermissionDenied/Unauthenticated/Conflict → 3, DeadlineExceeded → 5
  /// only where the caller passes it (`timedOutIsTimeout`), everything else → 1.
  ExitCode fail(const Status& s, bool timedOutIsTimeout = false);
  /// Prints a non-2xx response as the server's Status (message and causes) and returns the
  /// exit code for its HTTP status.
  ExitCode failHttp(const ApiResponse& r);
  /// Prints a note to stderr ("note: ...").
  void note(const std::string& message);

 private:
  Session(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}
  std::unique_ptr<ApiClient> api_;
  std::optional<ResourceCatalog> catalog_;
  std::string ns_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace tessera::cli

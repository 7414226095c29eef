// Kubeconfig files, as kubectl reads them: the current context, its cluster (server URL, CA,
// insecure-skip-tls-verify) and its user (bearer token). Tessera's tools read nothing else.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace tessera {

/// The value of the first "token:" entry in kubeconfig text ("" if there is none). A quick
/// line scan, kept for the server's bootstrap and the tests; tools use loadKubeconfig().
std::string kubeconfigToken(std::string_view kubeconfigText);

/// What one context of a kubeconfig resolves to.
struct KubeconfigContext {
  std::string context;  // its name
  std::string server;   // "https://127.0.0.1:8443"
  std::string caPem;    // PEM of certificate-authority-data, or of certificate-authority
  bool insecureSkipTlsVerify = false;
  std::string token;       // the user's bearer token ("" when the user has none)
  std::string namespace_;  // the context's namespace ("" when it names none)
};

/// Parses kubeconfig YAML and resolves `context` (empty: current-context). A
/// certificate-authority given as a file is read (a relative path is relative to `baseDir`,
/// the kubeconfig's folder). InvalidArgument names what is missing or malformed; the
/// message never contains the token.
Result<KubeconfigContext> parseKubeconfig(std::string_view text, std::string_view context = "",
                                          std::string_view baseDir = "");

/// Reads and parses the file at `path` (see parseKubeconfig). NotFound when it does not exist.
Result<KubeconfigContext> loadKubeconfig(const std::string& path, std::string_view context = "");

}  // namespace tessera

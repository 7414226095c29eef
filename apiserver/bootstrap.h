// First-start bootstrap: an admin token, written only to a kubeconfig file (mode 0600).
#pragma once

#include <string>

#include "apiserver/registry.h"
#include "apiserver/storage.h"

namespace tessera::apiserver {

struct KubeconfigOptions {
  std::string path;       // where to write it
  std::string serverUrl;  // "http://127.0.0.1:8080" or "https://..."
  std::string caFile;     // PEM to embed as certificate-authority-data (https only)
};

/// Ensures `opts.path` holds a kubeconfig with a working admin token: keeps the file when its
/// token still authenticates as an admin (only the server URL is refreshed), otherwise mints
/// a new APIToken and writes the file atomically with mode 0600. The secret is never logged.
Awaitable<Status> ensureAdminKubeconfig(Registry& registry, Storage& storage,
                                        const KindRegistry& kinds, KubeconfigOptions opts);

/// The kubeconfig text for `token`.
std::string renderKubeconfig(const KubeconfigOptions& opts, const std::string& token);

}  // namespace tessera::apiserver

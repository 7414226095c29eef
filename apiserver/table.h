// Server-side printing: objects as a meta.k8s.io/v1 Table, so that `kubectl get` shows each
// kind's own columns (REGION, TYPE, READY, ...) instead of just NAME and AGE.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "apiserver/kind.h"

namespace tessera::apiserver {

enum class IncludeObject { kNone, kMetadata, kObject };

/// A Table of `objects` (parsed), with list metadata (resourceVersion, continue).
boost::json::object makeTable(const KindInfo& kind, const std::vector<boost::json::object>& objects,
                              IncludeObject include, const std::string& resourceVersion,
                              const std::string& continueToken);

}  // namespace tessera::apiserver

// Discovery and OpenAPI documents: what stock kubectl reads before any command.
//
// All documents are computed once from the KindRegistry at start-up; they are immutable.
#pragma once

#include <string>

#include "apiserver/kind.h"

namespace tessera::apiserver {

class DiscoveryDocs {
 public:
  DiscoveryDocs(const KindRegistry& kinds, std::string serverVersion);

  const std::string& version() const { return version_; }            // GET /version
  const std::string& apiVersions() const { return apiVersions_; }    // GET /api
  const std::string& coreV1() const { return coreV1_; }              // GET /api/v1
  const std::string& groupList() const { return groupList_; }        // GET /apis
  const std::string& group() const { return group_; }                // GET /apis/tessera.io
  const std::string& resources() const { return resources_; }        // GET /apis/tessera.io/v1
  const std::string& openApiIndex() const { return openApiIndex_; }  // GET /openapi/v3
  const std::string& openApiGroup() const {
    return openApiGroup_;
  }  // GET /openapi/v3/apis/tessera.io/v1
  /// GET /apis/authentication.k8s.io and .../v1: SelfSubjectReview (kubectl auth whoami).
  const std::string& authGroup() const { return authGroup_; }
  const std::string& authResources() const { return authResources_; }

 private:
  std::string version_, apiVersions_, coreV1_, groupList_, group_, resources_, openApiIndex_,
      openApiGroup_, authGroup_, authResources_;
};

}  // namespace tessera::apiserver

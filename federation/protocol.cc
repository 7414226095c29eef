#include "federation/protocol.h"

namespace tessera::federation {

bool compatibleAgentVersion(unsigned major, unsigned minor) {
  return major == kProtocolMajor && minor + 1 >= kProtocolMinor;
}

std::string workloadKey(std::string_view ns, std::string_view application,
                        std::string_view revision, std::string_view cell) {
  std::string k;
  k.reserve(ns.size() + application.size() + revision.size() + cell.size() + 3);
  k.append(ns)
      .append("/")
      .append(application)
      .append("/")
      .append(revision)
      .append("/")
      .append(cell);
  return k;
}

std::string replicaObjectName(std::string_view replica, std::string_view cluster) {
  return std::string(replica) + "." + std::string(cluster);
}

std::string clusterUser(std::string_view cluster) {
  return std::string(kClusterUserPrefix) + std::string(cluster);
}

}  // namespace tessera::federation

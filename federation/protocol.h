// Names and constants of the agent protocol shared by the server and the agent (no protobuf
// here: include "federation/proto/agent.pb.h" where the messages are needed).
#pragma once

#include <string>
#include <string_view>

namespace tessera::federation {

/// This build speaks protocol 1.0. The server accepts agents of the same major version and a
/// minor version at most one below its own.
inline constexpr unsigned kProtocolMajor = 1;
inline constexpr unsigned kProtocolMinor = 0;
inline constexpr char kAgentVersion[] = "0.1.0";

/// Whether a server of version kProtocolMajor.kProtocolMinor talks to an agent of this version.
bool compatibleAgentVersion(unsigned major, unsigned minor);

/// "<namespace>/<application>/<revision>/<cell>": a workload, unique within a cluster.
std::string workloadKey(std::string_view ns, std::string_view application,
                        std::string_view revision, std::string_view cell);

/// The API name of a replica: the runtime's name (unique within its cluster) plus the
/// cluster: "<application>-<revision>-<cell>-<ordinal>.<cluster>".
std::string replicaObjectName(std::string_view replica, std::string_view cluster);

/// The user an agent's credential authenticates as.
std::string clusterUser(std::string_view cluster);
inline constexpr char kClusterUserPrefix[] = "system:cluster:";

/// Labels on objects the federation writes.
inline constexpr char kLabelCluster[] = "tessera.io/cluster";
inline constexpr char kLabelApplication[] = "tessera.io/application";
inline constexpr char kLabelCell[] = "tessera.io/cell";
inline constexpr char kLabelRevision[] = "tessera.io/revision";
inline constexpr char kLabelZone[] = "tessera.io/zone";
inline constexpr char kLabelRegion[] = "tessera.io/region";

}  // namespace tessera::federation

// Internal to mesh/config: the per-resource readers (JSON → struct, type and range errors) and
// checks (one resource's own fields; validate() adds the cross references).
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>

#include "mesh/config/config.h"

namespace tessera::mesh::detail {

// Readers: errors carry the path inside the resource ("endpoints[0].port: ..."); the caller
// prefixes the resource.
Status readCluster(const boost::json::value& v, Cluster& out);
Status readShardMap(const boost::json::value& v, ShardMap& out);
Status readRouteTable(const boost::json::value& v, RouteTable& out);
Status readListener(const boost::json::value& v, Listener& out);

// Checks of one resource's own fields (also for Configs built in code), same error form.
Status checkCluster(const Cluster& c);
Status checkShardMap(const ShardMap& m);
Status checkRouteTable(const RouteTable& t);
Status checkListener(const Listener& l);

/// `clusters[2] "api"` (indexed, the document form) or `cluster "api"` (a streamed resource).
std::string resourceLabel(ResourceType type, std::size_t index, std::string_view name,
                          bool indexed);

/// validate() with either label form (ResourceSet names resources the way the stream does).
Status validateConfig(const Config& config, bool indexed);

/// "localhost" → "127.0.0.1"; anything else unchanged.
std::string normalizeAddress(std::string address);
bool isIpLiteral(const std::string& address);

}  // namespace tessera::mesh::detail

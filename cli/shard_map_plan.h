// What `tessctl shardmap move` changes in a ShardMap, computed locally from the object read
// from the server (pure: no I/O), so that the diff can be printed, dry-run or sent.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tessera::cli {

/// The assignments of a ShardMap's spec as (cell, sorted buckets), in the object's order.
/// InvalidArgument when an assignment's ranges do not parse.
Result<std::vector<std::pair<std::string, std::vector<int>>>> shardMapOwners(
    const boost::json::value& shardMap);

struct BucketMove {
  std::string from;  // the current owner ("" for buckets no cell owned)
  std::vector<int> buckets;
};

struct MovePlan {
  boost::json::value updated;     // the ShardMap to PUT (metadata kept, assignments changed)
  std::string to;                 // the target cell
  std::vector<BucketMove> moves;  // by current owner, in assignment order
  std::vector<int> alreadyOwned;  // buckets the target owns already (nothing to do)
  int moved() const;
};

/// One datacenter of a ShardMap's status.rollout (as strings, for printing).
struct DatacenterAck {
  std::string name, acked, total, time;
};
/// status.rollout.datacenters, as the array [{name, acked, total, time}] the mesh control
/// plane writes, or as a map {name: {acked, total, time}}.
std::vector<DatacenterAck> rolloutDatacenters(const boost::json::value& rollout);

/// The version of ShardMap `name` a Proxy object acknowledged (status.shardMaps, as the
/// array [{name, version}] or a map {name: version}); -1 when none.
std::int64_t proxyShardMapVersion(const boost::json::value& proxy, const std::string& name);

/// Moves `buckets` (from parseBuckets) to `toCell`: removed from every other assignment (an
/// assignment left empty is dropped), added to the target's (created when it has none).
/// `reason`, when not empty, becomes spec.reason. FailedPrecondition when a bucket is not
/// below the map's bucketCount.
Result<MovePlan> planMove(const boost::json::value& shardMap, const std::vector<int>& buckets,
                          const std::string& toCell, const std::string& reason);

}  // namespace tessera::cli

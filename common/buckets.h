// User-id buckets: the unit of ownership of a ShardMap. A bucket set is written as ranges,
// "0-49,60,70-79" (ascending or not, no overlaps needed), the way SREs say it in runbooks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera {

/// Buckets named by `text`, sorted and unique; every one must be below `count`.
/// InvalidArgument with the offending part ("\"7-3\": a range must go upwards").
Result<std::vector<int>> parseBuckets(std::string_view text, int count);

/// The shortest range form of `buckets` (any order, duplicates ignored): {0,1,2,5} → "0-2,5".
std::string formatBuckets(std::vector<int> buckets);

}  // namespace tessera

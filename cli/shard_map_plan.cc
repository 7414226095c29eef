#include "cli/shard_map_plan.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "cli/output.h"
#include "common/buckets.h"

namespace tessera::cli {
namespace json = boost::json;

namespace {

int bucketCountOf(const json::value& shardMap) {
  const auto* c = at(shardMap, "spec.bucketCount");
  return c && c->is_int64() ? static_cast<int>(c->get_int64()) : 100;
}

}  // namespace

int MovePlan::moved() const {
  int n = 0;
  for (const auto& m : moves) n += static_cast<int>(m.buckets.size());
  return n;
}

Result<std::vector<std::pair<std::string, std::vector<int>>>> shardMapOwners(
    const json::value& shardMap) {
  std::vector<std::pair<std::string, std::vector<int>>> out;
  const int count = bucketCountOf(shardMap);
  const auto* as = at(shardMap, "spec.assignments");
  if (as == nullptr || !as->is_array()) return out;
  for (const auto& a : as->get_array()) {
    auto b = parseBuckets(text(a, "buckets"), count);
    if (!b.isOk()) {
      return invalidArgument("assignment of cell \"" + text(a, "cell") +
                             "\": " + b.status().message());
    }
    out.emplace_back(text(a, "cell"), std::move(b).value());
  }
  return out;
}

std::vector<DatacenterAck> rolloutDatacenters(const json::value& rollout) {
  std::vector<DatacenterAck> out;
  const auto* dcs = at(rollout, "datacenters");
  if (dcs && dcs->is_array()) {
    for (const auto& d : dcs->get_array()) {
      out.push_back({text(d, "name"), text(d, "acked"), text(d, "total"), text(d, "time")});
    }
  } else if (dcs && dcs->is_object()) {
    for (const auto& [name, d] : dcs->get_object()) {
      out.push_back({std::string(name), text(d, "acked"), text(d, "total"), text(d, "time")});
    }
  }
  return out;
}

std::int64_t proxyShardMapVersion(const json::value& proxy, const std::string& name) {
  const auto* maps = at(proxy, "status.shardMaps");
  const json::value* v = nullptr;
  if (maps && maps->is_array()) {
    for (const auto& m : maps->get_array()) {
      if (text(m, "name") == name) v = at(m, "version");
    }
  } else if (maps && maps->is_object()) {
    v = maps->get_object().if_contains(name);
  }
  if (v && v->is_int64()) return v->get_int64();
  if (v && v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return -1;
}

Result<MovePlan> planMove(const json::value& shardMap, const std::vector<int>& buckets,
                          const std::string& toCell, const std::string& reason) {
  const int count = bucketCountOf(shardMap);
  std::vector<int> outOfRange;
  for (int b : buckets) {
    if (b < 0 || b >= count) outOfRange.push_back(b);
  }
  if (!outOfRange.empty()) {
    return Status(StatusCode::kFailedPrecondition,
                  "buckets " + formatBuckets(outOfRange) + " do not exist: the ShardMap has " +
                      std::to_string(count) + " buckets (0-" + std::to_string(count - 1) + ")");
  }
  auto owners = shardMapOwners(shardMap);
  if (!owners.isOk()) return owners.status();
  const std::set<int> moving(buckets.begin(), buckets.end());

  MovePlan plan;
  plan.to = toCell;
  std::set<int> owned;  // of the moving buckets, those some cell owns
  std::vector<std::pair<std::string, std::vector<int>>> next;
  bool targetSeen = false;
  for (auto& [cell, bs] : *owners) {
    std::vector<int> keep, leaving;
    for (int b : bs) {
      if (moving.count(b) == 0) {
        keep.push_back(b);
        continue;
      }
      owned.insert(b);
      if (cell == toCell) {
        plan.alreadyOwned.push_back(b);
        keep.push_back(b);
      } else {
        leaving.push_back(b);
      }
    }
    if (!leaving.empty()) plan.moves.push_back({cell, leaving});
    if (cell == toCell) {
      targetSeen = true;
      for (int b : moving) {
        if (std::find(keep.begin(), keep.end(), b) == keep.end()) keep.push_back(b);
      }
      std::sort(keep.begin(), keep.end());
    }
    if (!keep.empty()) next.emplace_back(cell, std::move(keep));
  }
  std::vector<int> unowned;
  for (int b : moving) {
    if (owned.count(b) == 0) unowned.push_back(b);
  }
  if (!unowned.empty()) plan.moves.push_back({"", unowned});
  if (!targetSeen) next.emplace_back(toCell, std::vector<int>(moving.begin(), moving.end()));

  json::array assignments;
  for (const auto& [cell, bs] : next) {
    assignments.push_back(json::object{{"cell", cell}, {"buckets", formatBuckets(bs)}});
  }
  plan.updated = shardMap;
  auto& obj = plan.updated.as_object();
  if (!obj["spec"].is_object()) obj["spec"] = json::object();
  auto& spec = obj["spec"].as_object();
  spec["assignments"] = std::move(assignments);
  if (!reason.empty()) {
    spec["reason"] = reason;
  } else {
    std::string summary;
    for (const auto& m : plan.moves) {
      summary += (summary.empty() ? "" : "; ") + formatBuckets(m.buckets) + " " +
                 (m.from.empty() ? "(unowned)" : m.from) + " → " + toCell;
    }
    spec["reason"] = "tessctl shardmap move: " + summary;
  }
  return plan;
}

}  // namespace tessera::cli

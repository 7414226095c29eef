// ResourceSet: one type's whole set replaced at a time, committed only when the Config it
// makes validates.
#include <set>

#include "mesh/config/config.h"
#include "mesh/config/config_internal.h"
#include "mesh/config/json_reader.h"

namespace tessera::mesh {
namespace {

// Parses every resource of one type into `out`; errors name the resource.
template <typename T>
Status parseSet(ResourceType type, const std::vector<ResourceSet::Named>& resources,
                Result<T> (*parse)(std::string_view), std::vector<T>& out) {
  std::set<std::string_view> names;
  out.reserve(resources.size());
  for (const ResourceSet::Named& r : resources) {
    const std::string label = detail::resourceLabel(type, 0, r.name, false);
    if (!names.insert(r.name).second) {
      return invalidArgument(label + ": sent twice in one update");
    }
    Result<T> item = parse(r.json);
    if (!item) return item.status();
    if (item->name != r.name) {
      return invalidArgument(label + ": name: is \"" + item->name +
                             "\" inside, but the resource is named \"" + r.name + "\"");
    }
    out.push_back(std::move(item).value());
  }
  return Status::ok();
}

}  // namespace

Status ResourceSet::apply(ResourceType type, const std::string& version,
                          const std::vector<Named>& resources) {
  Config candidate = *current_;
  Status parsed;
  switch (type) {
    case ResourceType::kCluster:
      candidate.clusters.clear();
      parsed = parseSet(type, resources, &parseCluster, candidate.clusters);
      break;
    case ResourceType::kShardMap:
      candidate.shardMaps.clear();
      parsed = parseSet(type, resources, &parseShardMap, candidate.shardMaps);
      break;
    case ResourceType::kRouteTable:
      candidate.routeTables.clear();
      parsed = parseSet(type, resources, &parseRouteTable, candidate.routeTables);
      break;
    case ResourceType::kListener:
      candidate.listeners.clear();
      parsed = parseSet(type, resources, &parseListener, candidate.listeners);
      break;
  }
  if (!parsed.isOk()) return parsed;
  if (Status s = detail::validateConfig(candidate, false); !s.isOk()) return s;

  versions_[static_cast<std::size_t>(type)] = version;
  candidate.version = versions_[0] + "/" + versions_[1] + "/" + versions_[2] + "/" + versions_[3];
  current_ = std::make_shared<const Config>(std::move(candidate));
  return Status::ok();
}

const std::string& ResourceSet::version(ResourceType type) const {
  return versions_[static_cast<std::size_t>(type)];
}

}  // namespace tessera::mesh

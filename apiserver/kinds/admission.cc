#include "apiserver/kinds/admission.h"

#include <boost/json.hpp>
#include <map>

#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;

namespace {

Awaitable<std::vector<FieldCause>> checkShardMap(Storage& storage, json::object next) {
  std::vector<FieldCause> causes;
  ListQuery q;
  q.kind = "Cell";
  auto cells = co_await storage.list(q);
  if (!cells.isOk()) {
    causes.push_back({"InternalError", "cannot read the cells: " + cells.status().message(),
                      "spec.assignments"});
    co_return causes;
  }
  std::map<std::string, json::object> byName;
  for (const auto& item : cells->items) {
    json::object c = json::parse(item.json).as_object();
    json::value name = schemas::at(c, "metadata.name");
    if (name.is_string()) byName.emplace(std::string(name.get_string()), std::move(c));
  }
  json::value assignments = schemas::at(next, "spec.assignments");
  if (!assignments.is_array()) co_return causes;
  const auto& arr = assignments.get_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    json::value cellName =
        arr[i].is_object() ? schemas::at(arr[i].get_object(), "cell") : json::value();
    if (!cellName.is_string()) continue;
    const std::string name(cellName.get_string());
    const std::string path = "spec.assignments[" + std::to_string(i) + "].cell";
    auto it = byName.find(name);
    if (it == byName.end()) {
      causes.push_back({"FieldValueNotFound", "Not found: \"" + name + "\": no such cell", path});
      continue;
    }
    json::value type = schemas::at(it->second, "spec.type");
    if (!type.is_string() || type.get_string() != "RZone") {
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: \"" + name + "\": only RZone cells own buckets (it is " +
                            (type.is_string() ? std::string(type.get_string()) : "untyped") + ")",
                        path});
      continue;
    }
    json::value phase = schemas::at(it->second, "status.phase");
    if (phase.is_string() && phase.get_string() != "Active") {
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: \"" + name + "\": the cell is " +
                            std::string(phase.get_string()) + "; only Active cells own buckets",
                        path});
    }
  }
  co_return causes;
}

Awaitable<std::vector<FieldCause>> checkCell(Storage& storage, json::object next) {
  std::vector<FieldCause> causes;
  json::value members = schemas::at(next, "spec.clusters");
  if (!members.is_array() || members.get_array().size() < 2) co_return causes;
  ListQuery q;
  q.kind = "Cluster";
  auto clusters = co_await storage.list(q);
  if (!clusters.isOk()) {
    causes.push_back(
        {"InternalError", "cannot read the clusters: " + clusters.status().message(), "spec.clusters"});
    co_return causes;
  }
  std::map<std::string, std::string> zoneOf;
  for (const auto& item : clusters->items) {
    json::object c = json::parse(item.json).as_object();
    json::value name = schemas::at(c, "metadata.name");
    json::value zone = schemas::at(c, "spec.zone");
    if (name.is_string() && zone.is_string()) {
      zoneOf.emplace(std::string(name.get_string()), std::string(zone.get_string()));
    }
  }
  std::string firstCluster, firstZone;
  const auto& arr = members.get_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_string()) continue;
    const std::string name(arr[i].get_string());
    auto it = zoneOf.find(name);
    if (it == zoneOf.end()) continue;
    if (firstCluster.empty()) {
      firstCluster = name;
      firstZone = it->second;
    } else if (it->second != firstZone) {
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: \"" + name + "\": it is in datacenter " + it->second +
                            " and " + firstCluster + " in " + firstZone +
                            "; a cell lives in one datacenter",
                        "spec.clusters[" + std::to_string(i) + "]"});
    }
  }
  co_return causes;
}

}  // namespace

Registry::Admission cellAdmission(Storage& storage) {
  return [&storage](const json::object& next) { return checkCell(storage, next); };
}

Registry::Admission shardMapAdmission(Storage& storage) {
  return [&storage](const json::object& next) { return checkShardMap(storage, next); };
}

}  // namespace tessera::apiserver

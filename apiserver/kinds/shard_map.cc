#include <boost/json.hpp>
#include <map>
#include <set>

#include "apiserver/kinds/kinds.h"
#include "common/buckets.h"

namespace tessera::apiserver {
namespace json = boost::json;
using namespace schemas;

namespace {

constexpr std::size_t kHistoryLimit = 50;

std::string text(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

/// cell → its buckets, from a ShardMap's spec (assignments that do not parse are skipped:
/// validation reports them).
std::map<std::string, std::vector<int>> ownersOf(const json::object& obj) {
  std::map<std::string, std::vector<int>> out;
  json::value count = at(obj, "spec.bucketCount");
  json::value assignments = at(obj, "spec.assignments");
  if (!count.is_int64() || !assignments.is_array()) return out;
  for (const auto& a : assignments.get_array()) {
    if (!a.is_object()) continue;
    auto buckets =
        parseBuckets(text(a.get_object(), "buckets"), static_cast<int>(count.get_int64()));
    if (buckets.isOk()) out[text(a.get_object(), "cell")] = std::move(buckets).value();
  }
  return out;
}

/// "rz-b +40-49; rz-a -40-49": what moved between two versions.
std::string describeChange(const json::object* before, const json::object& after) {
  auto was = before ? ownersOf(*before) : std::map<std::string, std::vector<int>>();
  auto now = ownersOf(after);
  std::set<std::string> cells;
  for (const auto& [c, b] : was) cells.insert(c);
  for (const auto& [c, b] : now) cells.insert(c);
  std::string out;
  for (const auto& cell : cells) {
    std::vector<int> gained, lost;
    const auto& w = was[cell];
    const auto& n = now[cell];
    std::set_difference(n.begin(), n.end(), w.begin(), w.end(), std::back_inserter(gained));
    std::set_difference(w.begin(), w.end(), n.begin(), n.end(), std::back_inserter(lost));
    if (!gained.empty()) out += (out.empty() ? "" : "; ") + cell + " +" + formatBuckets(gained);
    if (!lost.empty()) out += (out.empty() ? "" : "; ") + cell + " -" + formatBuckets(lost);
  }
  json::value count = at(after, "spec.bucketCount");
  json::value oldCount = before ? at(*before, "spec.bucketCount") : json::value();
  if (before && count != oldCount) {
    out += (out.empty() ? "" : "; ") + std::string("bucketCount ") + json::serialize(oldCount) +
           " → " + json::serialize(count);
  }
  return out.empty() ? "no bucket moved" : out;
}

}  // namespace

KindInfo shardMapKind() {
  KindInfo k;
  k.kind = "ShardMap";
  k.plural = "shardmaps";
  k.singular = "shardmap";
  k.shortNames = {"sm"};
  k.categories = {"tessera"};
  k.description =
      "Which RZone cell owns which user-id buckets. Every bucket is owned by exactly one Active "
      "RZone cell; every change gets a new status.version and a line in status.history (who, "
      "when, why, what moved).";
  k.namespaced = false;
  Schema assignment = Schema::object({
      requiredField("cell", dnsSubdomain().describe("An Active RZone cell.")),
      requiredField("buckets", Schema::string().maxLength(65536).describe(
                                   "Buckets it owns, as ranges: \"0-49,60\".")),
  });
  k.spec = Schema::object({
      field("bucketCount", Schema::integer().min(1).max(100000).defaultsTo(100).describe(
                               "User ids hash into this many buckets.")),
      requiredField("assignments",
                    Schema::arrayOf(assignment).uniqueBy("cell").describe("Buckets per cell.")),
      field("reason", Schema::string().maxLength(1024).describe(
                          "Why this change (recorded in status.history).")),
  });
  k.status = Schema::object({
      field("version", Schema::integer().min(0).describe("Increases with every change.")),
      field("history", Schema::arrayOf(Schema::object({
                                           requiredField("version", Schema::integer().min(0)),
                                           field("time", dateTime()),
                                           field("user", Schema::string()),
                                           field("reason", Schema::string()),
                                           field("change", Schema::string()),
                                       }))
                           .describe("The latest changes, newest last (at most 50).")),
      field("conditions", conditions()),
      field("rollout",
            Schema::object(
                {
                    field("version", Schema::integer().min(0).describe(
                                         "The version (status.version) being rolled out.")),
                    field("proxiesAcked", Schema::integer().min(0).describe(
                                              "Connected proxies that acknowledged it.")),
                    field("proxiesTotal", Schema::integer().min(0).describe("Connected proxies.")),
                    field("done", Schema::boolean().describe(
                                      "Every connected (reachable) proxy acknowledged it.")),
                    field("datacenters",
                          Schema::arrayOf(Schema::object({
                                              requiredField("name", Schema::string()),
                                              field("acked", Schema::integer().min(0)),
                                              field("total", Schema::integer().min(0)),
                                              field("time", dateTime().describe(
                                                                "When its last proxy acknowledged "
                                                                "(set once acked == total).")),
                                          }))
                              .uniqueBy("name")
                              .describe("Per datacenter.")),
                    field("updateTime", dateTime()),
                })
                .describe("How far the mesh proxies are with this version (written by the mesh "
                          "control plane).")),
  });
  k.validateObject = [](const json::object& obj, std::vector<FieldCause>& errs) {
    json::value countValue = at(obj, "spec.bucketCount");
    json::value assignments = at(obj, "spec.assignments");
    if (!countValue.is_int64() || !assignments.is_array()) return;
    const int count = static_cast<int>(countValue.get_int64());
    std::vector<std::vector<std::string>> owners(static_cast<std::size_t>(count));
    const auto& arr = assignments.get_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_object()) continue;
      const std::string cell = text(arr[i].get_object(), "cell");
      auto buckets = parseBuckets(text(arr[i].get_object(), "buckets"), count);
      if (!buckets.isOk()) {
        errs.push_back({"FieldValueInvalid", "Invalid value: " + buckets.status().message(),
                        "spec.assignments[" + std::to_string(i) + "].buckets"});
        continue;
      }
      for (int b : *buckets) owners[static_cast<std::size_t>(b)].push_back(cell);
    }
    if (!errs.empty()) return;
    std::vector<int> unowned;
    std::map<std::string, std::vector<int>> shared;  // "rz-a, rz-b" → buckets
    for (int b = 0; b < count; ++b) {
      const auto& o = owners[static_cast<std::size_t>(b)];
      if (o.empty()) {
        unowned.push_back(b);
      } else if (o.size() > 1) {
        std::string who;
        for (const auto& c : o) who += (who.empty() ? "" : ", ") + c;
        shared[who].push_back(b);
      }
    }
    if (!unowned.empty()) {
      errs.push_back({"FieldValueRequired",
                      "Required value: buckets " + formatBuckets(unowned) +
                          " are owned by no cell (every bucket needs exactly one owner)",
                      "spec.assignments"});
    }
    for (const auto& [who, buckets] : shared) {
      errs.push_back({"FieldValueDuplicate",
                      "Duplicate value: buckets " + formatBuckets(buckets) +
                          " are owned by more than one cell (" + who + ")",
                      "spec.assignments"});
    }
  };
  k.onSpecChange = [](const json::object* before, json::object& next, const std::string& user,
                      SystemTime now) {
    json::object status = next.contains("status") && next["status"].is_object()
                              ? next["status"].as_object()
                              : json::object();
    std::int64_t version = status.contains("version") && status["version"].is_int64()
                               ? status["version"].as_int64()
                               : 0;
    ++version;
    json::array history = status.contains("history") && status["history"].is_array()
                              ? status["history"].as_array()
                              : json::array();
    json::value reason = at(next, "spec.reason");
    history.push_back(json::object{
        {"version", version},
        {"time", formatRfc3339(now)},
        {"user", user},
        {"reason", reason.is_string() ? reason : json::value("(no reason given)")},
        {"change", describeChange(before, next)},
    });
    while (history.size() > kHistoryLimit) history.erase(history.begin());
    status["version"] = version;
    status["history"] = std::move(history);
    next["status"] = std::move(status);
  };
  k.columns = {
      {"Buckets", "integer", "Bucket count", 0,
       [](const json::object& o) { return at(o, "spec.bucketCount"); }},
      {"Cells", "string", "Cells and their buckets", 0,
       [](const json::object& o) -> json::value {
         std::string s;
         json::value a = at(o, "spec.assignments");
         if (a.is_array()) {
           for (const auto& v : a.get_array()) {
             if (!v.is_object()) continue;
             s += (s.empty() ? "" : " ") + text(v.get_object(), "cell") + "=" +
                  text(v.get_object(), "buckets");
           }
         }
         return json::value(s);
       }},
      {"Version", "integer", "Version", 0,
       [](const json::object& o) { return at(o, "status.version"); }},
      {"Rollout", "string", "Proxies that acknowledged the version / connected proxies", 0,
       [](const json::object& o) -> json::value {
         json::value v = at(o, "status.rollout.version");
         json::value a = at(o, "status.rollout.proxiesAcked");
         json::value t = at(o, "status.rollout.proxiesTotal");
         if (!v.is_int64() || v != at(o, "status.version") || !a.is_int64() || !t.is_int64())
           return json::value("-");
         std::string s = std::to_string(a.get_int64()) + "/" + std::to_string(t.get_int64());
         json::value done = at(o, "status.rollout.done");
         if (done.is_bool() && done.get_bool()) s += " done";
         return json::value(s);
       }},
  };
  return k;
}

}  // namespace tessera::apiserver

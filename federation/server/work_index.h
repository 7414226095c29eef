// WorkIndex: what every member cluster should run, from the Binding objects.
//
// A Binding places replicas of an application's revisions into (cluster, cell) pairs; the
// index turns each into per-cluster Workloads (the protocol's unit of work, keyed
// "<namespace>/<application>/<revision>/<cell>") and reports, for every change, exactly which
// clusters gain, change or lose which workloads — the incremental WorkSets sent to agents.
//
// Not thread-safe: owned by the federation's single thread.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "federation/proto/agent.pb.h"

namespace tessera::federation {

namespace pb = ::tessera::federation::v1;

class WorkIndex {
 public:
  struct Delta {
    std::vector<pb::Workload> upserts;
    std::vector<std::string> removals;  // workload keys
  };
  /// cluster → its changes.
  using Changes = std::map<std::string, Delta>;

  /// A Binding was added or modified. `warnings` receives problems that were skipped
  /// (e.g. an unparseable quantity, a workload another Binding already claims).
  Changes upsert(const boost::json::object& binding, std::vector<std::string>& warnings);
  /// A Binding was deleted.
  Changes remove(const std::string& ns, const std::string& name);
  /// Forgets everything (before a full re-list).
  void clear();

  /// Everything `cluster` should run.
  std::vector<pb::Workload> workloadsOf(const std::string& cluster) const;

  /// Desired replicas of one application: (cell, cluster) → replicas, over all revisions.
  std::map<std::pair<std::string, std::string>, int> desiredOf(
      const std::string& ns, const std::string& application) const;

  /// The application (namespace, name) a Binding binds, if the index holds it.
  std::pair<std::string, std::string> applicationOf(const std::string& ns,
                                                    const std::string& bindingName) const;

  std::size_t clusterCount() const { return clusters_.size(); }

 private:
  using Workloads = std::map<std::string, pb::Workload>;  // key → workload
  struct Binding {
    std::string ns, application;
    std::map<std::string, Workloads> byCluster;
  };
  Changes replace(const std::string& id, Binding next);

  std::map<std::string, Binding> bindings_;    // "<ns>/<name>" → what it places
  std::map<std::string, Workloads> clusters_;  // merged, per cluster
  std::map<std::string, std::string> owner_;   // "<cluster>|<key>" → binding id
};

/// Converts an Application/Binding template (JSON, as the API stores it) to the protocol's.
/// Quantities become millicores and bytes. Returns an error message on unparseable input.
std::string convertTemplate(const boost::json::object& templ, pb::Template& out);

}  // namespace tessera::federation

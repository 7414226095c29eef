// The kinds the server serves, from discovery (GET /apis/tessera.io/v1), and the paths of
// their objects. tessctl hard-codes no kind: what `kubectl api-resources` lists, it accepts.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera::cli {

inline constexpr char kApiPrefix[] = "/apis/tessera.io/v1";

struct Resource {
  std::string kind;      // "Cell"
  std::string plural;    // "cells"
  std::string singular;  // "cell"
  std::vector<std::string> shortNames;
  bool namespaced = false;
  std::vector<std::string> verbs;
  bool hasLog = false;

  bool can(std::string_view verb) const;
  /// The collection: "/apis/tessera.io/v1/cells", or ".../namespaces/NS/apps" (all
  /// namespaces when `ns` is empty).
  std::string collectionPath(const std::string& ns) const;
  /// One object: collectionPath(ns) + "/" + name (name percent-encoded when needed).
  std::string itemPath(const std::string& ns, const std::string& name) const;
};

class ResourceCatalog {
 public:
  /// From an APIResourceList (the discovery document); subresources ("replicas/log") mark
  /// their kind.
  static Result<ResourceCatalog> fromDiscovery(const boost::json::value& list);

  /// By plural, singular, short name or kind, case-insensitively ("sm", "ShardMap",
  /// "shardmaps", "shardmap"). NotFound names what the server has.
  Result<Resource> resolve(std::string_view name) const;
  /// By kind exactly ("Cell"), for documents being applied.
  const Resource* byKind(std::string_view kind) const;
  const std::vector<Resource>& all() const { return resources_; }

 private:
  std::vector<Resource> resources_;
};

/// Percent-encodes a query-parameter value or a path segment (RFC 3986 unreserved kept).
std::string urlEncode(std::string_view s);

}  // namespace tessera::cli

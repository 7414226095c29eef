// Label and field selectors, with Kubernetes syntax:
//   labelSelector:  "tier=web,env!=prod,zone in (dc-a,dc-b),!legacy,canary"
//   fieldSelector:  "metadata.name=c1", "metadata.namespace!=kube-system"
//
// A parsed selector is matched in memory (watch streams) and translated to SQL by the storage
// (lists), so both paths agree by construction on what matches.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera::apiserver {

struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op;
  std::vector<std::string> values;  // one for =/!=, several for in/notin, none otherwise
};

class LabelSelector {
 public:
  LabelSelector() = default;
  /// Parses the Kubernetes label selector syntax; an empty string selects everything.
  static Result<LabelSelector> parse(std::string_view text);

  bool empty() const { return reqs_.empty(); }
  const std::vector<LabelRequirement>& requirements() const { return reqs_; }
  /// `labels` may be null (no labels). Kubernetes semantics: != and notin match when the key
  /// is absent.
  bool matches(const boost::json::object* labels) const;

 private:
  std::vector<LabelRequirement> reqs_;
};

struct FieldRequirement {
  std::string field;  // "metadata.name"
  bool negate = false;
  std::string value;
};

class FieldSelector {
 public:
  FieldSelector() = default;
  /// Parses "a=b,c!=d"; every field must be in `supported`.
  static Result<FieldSelector> parse(std::string_view text,
                                     const std::vector<std::string>& supported);

  bool empty() const { return reqs_.empty(); }
  const std::vector<FieldRequirement>& requirements() const { return reqs_; }
  /// Evaluates against an object by following the dotted path through JSON objects.
  bool matches(const boost::json::object& obj) const;

 private:
  std::vector<FieldRequirement> reqs_;
};

}  // namespace tessera::apiserver

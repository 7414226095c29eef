// Rendering for tessctl: aligned text tables (kubectl's layout), JSON and YAML, the server's
// Table objects, Status errors, and parsing of the documents `apply -f` reads.
//
// Pure functions; yaml-cpp's exceptions do not leave output.cc.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera::cli {

/// Columns separated by three spaces, each as wide as its widest cell (kubectl's layout).
/// Header cells are printed as given. Every line ends with '\n'.
std::string renderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

struct TableOptions {
  bool wide = false;           // also columns of priority > 0
  bool withNamespace = false;  // a NAMESPACE column first (from each row's object metadata)
  bool headers = true;
};

/// Header and rows of a meta.k8s.io/v1 Table the server returned (headers upper-cased).
/// InvalidArgument when `table` is not a Table.
Status tableRows(const boost::json::value& table, const TableOptions& options,
                 std::vector<std::string>& headers, std::vector<std::vector<std::string>>& rows);

/// A JSON cell as text: strings bare, numbers and booleans as JSON, null as "<none>".
std::string cellText(const boost::json::value& v);

/// Indented JSON (4 spaces, as kubectl prints it), ending with '\n'.
std::string prettyJson(const boost::json::value& v);

/// Block-style YAML, keys in the object's order; strings that would read back as another
/// type are quoted. Ends with '\n'.
std::string toYaml(const boost::json::value& v);

/// The documents of a YAML stream (several, separated by "---") or of a JSON text, as JSON
/// values; empty documents are skipped. InvalidArgument with the position when malformed.
Result<std::vector<boost::json::value>> parseDocuments(std::string_view text);

/// A readable error for a non-2xx response: "Error from server (Invalid): <message>" and,
/// on following lines, each cause ("  - spec.region: Required value"). Ends with '\n'.
std::string describeHttpError(int status, std::string_view body);

/// The value at a dotted path ("status.rollout.version") or nullptr.
const boost::json::value* at(const boost::json::value& v, std::string_view dottedPath);
/// The string at a dotted path, or numbers/booleans as JSON, or "" when absent or null.
std::string text(const boost::json::value& v, std::string_view dottedPath);

}  // namespace tessera::cli

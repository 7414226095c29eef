// tessctl get: lists and objects as the server's Table (kubectl's columns), JSON, YAML or
// names; --watch follows the watch stream.
#include <algorithm>
#include <boost/json.hpp>
#include <ostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "common/time_util.h"

namespace tessera::cli {
namespace json = boost::json;

namespace {

constexpr int kPageSize = 500;

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool isTableOutput(const std::string& o) {
  return o == "table" || o == "wide";
}

std::string query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    q += (q.empty() ? "?" : "&") + k + "=" + urlEncode(v);
  }
  return q;
}

Result<json::value> parseBody(const ApiResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec) return Status(StatusCode::kInternal, "the server's answer is not JSON");
  return v;
}

void printObjects(Session& s, const std::string& output, const Resource& res,
                  const json::value& v) {
  if (output == "json") {
    s.out() << prettyJson(v);
  } else if (output == "yaml") {
    s.out() << toYaml(v);
  } else if (output == "name") {
    const auto* items = at(v, "items");
    if (items && items->is_array()) {
      for (const auto& it : items->get_array()) {
        s.out() << res.singular << "/" << text(it, "metadata.name") << "\n";
      }
    } else {
      s.out() << res.singular << "/" << text(v, "metadata.name") << "\n";
    }
  }
}

/// Rows printed with the column widths of the first batch (later, wider cells just push
/// their line out), as `kubectl get -w` does.
class StreamingTable {
 public:
  explicit StreamingTable(std::ostream& out) : out_(out) {}
  void print(const std::vector<std::string>& headers,
             const std::vector<std::vector<std::string>>& rows) {
    if (!started_) {
      started_ = true;
      widths_.assign(headers.size(), 0);
      for (std::size_t i = 0; i < headers.size(); ++i) widths_[i] = headers[i].size();
      for (const auto& r : rows) {
        for (std::size_t i = 0; i < r.size() && i < widths_.size(); ++i)
          widths_[i] = std::max(widths_[i], r[i].size());
      }
      if (!headers.empty()) line(headers);
    }
    for (const auto& r : rows) line(r);
    out_.flush();
  }

 private:
  void line(const std::vector<std::string>& r) {
    std::string l;
    for (std::size_t i = 0; i < r.size(); ++i) {
      l += r[i];
      const std::size_t w = i < widths_.size() ? widths_[i] : 0;
      if (i + 1 < r.size()) l.append(w > r[i].size() ? w - r[i].size() + 3 : 3, ' ');
    }
    out_ << l << "\n";
  }
  std::ostream& out_;
  bool started_ = false;
  std::vector<std::size_t> widths_;
};

ExitCode watch(Session& s, const GetOptions& o, const Resource& res, const std::string& ns) {
  if (o.names.size() > 1) {
    return s.fail(invalidArgument("--watch follows one object or the whole list, not several"));
  }
  std::optional<std::chrono::milliseconds> limit;
  if (!o.watchTimeout.empty()) {
    limit = parseDuration(o.watchTimeout);
    if (!limit) return s.fail(invalidArgument("--watch-timeout: not a duration"));
  }
  std::string fields = o.fieldSelector;
  if (!o.names.empty()) {
    fields += (fields.empty() ? "" : ",") + std::string("metadata.name=") + o.names[0];
  }
  std::string seconds;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (limit) {
    seconds = std::to_string(std::max<long long>(1, (limit->count() + 999) / 1000));
    // The server ends the stream; the deadline only guards against one that does not.
    deadline = std::chrono::steady_clock::now() + *limit + std::chrono::seconds(10);
  }
  const std::string target = res.collectionPath(ns) + query({{"watch", "true"},
                                                             {"labelSelector", o.selector},
                                                             {"fieldSelector", fields},
                                                             {"timeoutSeconds", seconds}});
  const bool table = isTableOutput(o.output);
  StreamingTable printer(s.out());
  TableOptions topts;
  topts.wide = o.output == "wide";
  topts.withNamespace = res.namespaced && ns.empty();
  topts.headers = !o.noHeaders;
  std::optional<ExitCode> failed;
  auto r = s.api().stream(
      target, table ? kAcceptTable : "application/json",
      [&](std::string_view line) {
        boost::system::error_code ec;
        json::value ev = json::parse(line, ec);
        if (ec) return true;
        const std::string type = text(ev, "type");
        const json::value* obj = at(ev, "object");
        if (type == "BOOKMARK" || obj == nullptr) return true;
        if (type == "ERROR") {
          s.err() << describeHttpError(static_cast<int>(std::stoi("0" + text(*obj, "code"))),
                                       json::serialize(*obj));
          failed = ExitCode::kFailed;
          return false;
        }
        if (table) {
          std::vector<std::string> headers;
          std::vector<std::vector<std::string>> rows;
          if (tableRows(*obj, topts, headers, rows).isOk()) printer.print(headers, rows);
        } else if (o.output == "yaml") {
          s.out() << "---\n" << toYaml(*obj);
        } else {
          printObjects(s, o.output, res, *obj);
        }
        s.out().flush();
        return true;
      },
      deadline);
  if (!r.isOk()) {
    // --watch-timeout passed: the watch ended as asked.
    if (r.status().code() == StatusCode::kDeadlineExceeded && limit) return ExitCode::kOk;
    return s.fail(r.status());
  }
  if (!r->ok()) return s.failHttp(*r);
  return failed.value_or(ExitCode::kOk);
}

/// One kind: its list (all pages) or the named objects.
ExitCode getOne(Session& s, const GetOptions& o, const Resource& res, bool first) {
  const std::string ns = res.namespaced && !o.allNamespaces ? s.ns() : "";
  if (o.watch) return watch(s, o, res, ns);
  const bool table = isTableOutput(o.output);
  const char* accept = table ? kAcceptTable : "application/json";
  TableOptions topts;
  topts.wide = o.output == "wide";
  topts.withNamespace = res.namespaced && ns.empty();
  topts.headers = !o.noHeaders;
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  ExitCode code = ExitCode::kOk;

  if (!o.names.empty()) {
    std::vector<json::value> objects;
    for (const auto& name : o.names) {
      auto r = s.api().get(res.itemPath(ns, name), accept);
      if (!r.isOk()) return s.fail(r.status());
      if (!r->ok()) {
        if (r->status == 404) {
          s.err() << "Error from server (NotFound): " << res.singular << " \"" << name
                  << "\" not found" << (res.namespaced ? " in namespace \"" + ns + "\"" : "")
                  << "\n";
        } else {
          s.failHttp(*r);
        }
        if (code == ExitCode::kOk) code = exitCodeForHttp(r->status);
        continue;
      }
      auto v = parseBody(*r);
      if (!v.isOk()) return s.fail(v.status());
      if (table) {
        std::vector<std::vector<std::string>> one;
        if (Status st = tableRows(*v, topts, headers, one); !st.isOk()) return s.fail(st);
        rows.insert(rows.end(), one.begin(), one.end());
      } else {
        objects.push_back(std::move(v).value());
      }
    }
    if (table) {
      if (!rows.empty()) s.out() << (first ? "" : "\n") << renderTable(headers, rows);
    } else if (objects.size() == 1) {
      printObjects(s, o.output, res, objects[0]);
    } else if (!objects.empty()) {
      json::array items;
      for (auto& obj : objects) items.push_back(std::move(obj));
      printObjects(s, o.output, res,
                   json::object{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}});
    }
    return code;
  }

  json::value list;
  std::string cont;
  do {
    const std::string target = res.collectionPath(ns) + query({{"labelSelector", o.selector},
                                                               {"fieldSelector", o.fieldSelector},
                                                               {"limit", std::to_string(kPageSize)},
                                                               {"continue", cont}});
    auto r = s.api().get(target, accept);
    if (!r.isOk()) return s.fail(r.status());
    if (!r->ok()) return s.failHttp(*r);
    auto v = parseBody(*r);
    if (!v.isOk()) return s.fail(v.status());
    cont = text(*v, "metadata.continue");
    if (table) {
      std::vector<std::vector<std::string>> page;
      if (Status st = tableRows(*v, topts, headers, page); !st.isOk()) return s.fail(st);
      rows.insert(rows.end(), page.begin(), page.end());
    } else if (list.is_null()) {
      list = std::move(v).value();
    } else {
      auto* items = list.as_object().if_contains("items");
      const auto* more = at(*v, "items");
      if (items && items->is_array() && more && more->is_array()) {
        for (const auto& it : more->get_array()) items->as_array().push_back(it);
      }
    }
  } while (!cont.empty());
  if (!table) {
    if (auto* m = list.is_object() ? list.as_object().if_contains("metadata") : nullptr;
        m && m->is_object()) {
      m->as_object().erase("continue");
    }
    printObjects(s, o.output, res, list);
    return ExitCode::kOk;
  }
  if (rows.empty()) {
    s.err() << "No " << res.plural << " found"
            << (res.namespaced && !ns.empty() ? " in namespace \"" + ns + "\"" : "") << ".\n";
    return ExitCode::kOk;
  }
  s.out() << (first ? "" : "\n") << renderTable(headers, rows);
  return ExitCode::kOk;
}

}  // namespace

ExitCode runGet(Session& s, const GetOptions& o) {
  static const std::vector<std::string> kOutputs = {"table", "wide", "json", "yaml", "name"};
  if (std::find(kOutputs.begin(), kOutputs.end(), o.output) == kOutputs.end()) {
    return s.fail(invalidArgument("-o: \"" + o.output + "\" is not one of table, wide, json, " +
                                  "yaml, name"));
  }
  auto kinds = splitComma(o.kinds);
  if (kinds.empty()) return s.fail(invalidArgument("name a resource type, e.g. tessctl get cells"));
  if (kinds.size() > 1 && (!o.names.empty() || o.watch)) {
    return s.fail(invalidArgument("names and --watch need exactly one resource type"));
  }
  ExitCode code = ExitCode::kOk;
  bool first = true;
  for (const auto& k : kinds) {
    auto res = s.resolve(k);
    if (!res.isOk()) return s.fail(res.status());
    ExitCode c = getOne(s, o, *res, first);
    first = false;
    if (code == ExitCode::kOk) code = c;
  }
  return code;
}

}  // namespace tessera::cli

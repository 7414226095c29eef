#include "apiserver/table.h"

#include <boost/json.hpp>

#include "common/time_util.h"

namespace tessera::apiserver {
namespace json = boost::json;

namespace {

json::object column(const std::string& name, const std::string& type, const std::string& format,
                    const std::string& description, int priority) {
  return json::object{{"name", name},
                      {"type", type},
                      {"format", format},
                      {"description", description},
                      {"priority", priority}};
}

json::value cell(const json::value& v) {
  if (v.is_null()) return json::value("<none>");
  if (v.is_string() && v.get_string().empty()) return json::value("<none>");
  return v;
}

}  // namespace

json::object makeTable(const KindInfo& kind, const std::vector<json::object>& objects,
                       IncludeObject include, const std::string& resourceVersion,
                       const std::string& continueToken) {
  json::object t;
  t["kind"] = "Table";
  t["apiVersion"] = "meta.k8s.io/v1";
  json::object meta;
  if (!resourceVersion.empty()) meta["resourceVersion"] = resourceVersion;
  if (!continueToken.empty()) meta["continue"] = continueToken;
  t["metadata"] = std::move(meta);
  json::array cols;
  cols.push_back(column("Name", "string", "name", "Name of the object", 0));
  for (const auto& c : kind.columns)
    cols.push_back(column(c.name, c.type, "", c.description, c.priority));
  cols.push_back(column("Age", "string", "", "Time since the object was created", 0));
  t["columnDefinitions"] = std::move(cols);
  json::array rows;
  const auto now = std::chrono::system_clock::now();
  for (const auto& o : objects) {
    json::array cells;
    const json::object* m = nullptr;
    if (const auto* mv = o.if_contains("metadata"); mv && mv->is_object()) m = &mv->get_object();
    cells.push_back(m && m->contains("name") ? m->at("name") : json::value(""));
    for (const auto& c : kind.columns) cells.push_back(cell(c.value(o)));
    std::string age = "<unknown>";
    if (m) {
      if (const auto* ts = m->if_contains("creationTimestamp"); ts && ts->is_string()) {
        if (auto t0 = parseRfc3339(ts->get_string())) {
          age = humanAge(std::chrono::duration_cast<std::chrono::seconds>(now - *t0));
        }
      }
    }
    cells.push_back(json::value(age));
    json::object row;
    row["cells"] = std::move(cells);
    if (include == IncludeObject::kObject) {
      row["object"] = o;
    } else if (include == IncludeObject::kMetadata) {
      json::object pom;
      pom["kind"] = "PartialObjectMetadata";
      pom["apiVersion"] = "meta.k8s.io/v1";
      pom["metadata"] = m ? json::value(*m) : json::value(json::object());
      row["object"] = std::move(pom);
    }
    rows.push_back(std::move(row));
  }
  t["rows"] = std::move(rows);
  return t;
}

}  // namespace tessera::apiserver

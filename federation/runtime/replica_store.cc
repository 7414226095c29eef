#include "federation/runtime/replica_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "common/crypto.h"

namespace tessera::runtime {

namespace json = boost::json;

namespace {

constexpr int kFormatVersion = 1;

json::array stringArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::object specToJson(const WorkloadSpec& s, bool withReplicas) {
  json::object o;
  o["key"] = s.key;
  o["namespace"] = s.ns;
  o["application"] = s.application;
  o["revision"] = s.revision;
  o["cell"] = s.cell;
  if (withReplicas) o["replicas"] = s.replicas;
  o["command"] = stringArray(s.command);
  o["args"] = stringArray(s.args);
  json::array env;
  for (const auto& [k, v] : s.env) env.push_back(json::array{json::string(k), json::string(v)});
  o["env"] = std::move(env);
  json::array ports;
  for (const auto& p : s.ports) {
    ports.push_back(json::object{{"name", p.name}, {"port", p.port}});
  }
  o["ports"] = std::move(ports);
  if (s.readiness) {
    o["readiness"] = json::object{{"path", s.readiness->path},
                                  {"portName", s.readiness->portName},
                                  {"periodSeconds", s.readiness->periodSeconds},
                                  {"timeoutSeconds", s.readiness->timeoutSeconds}};
  } else {
    o["readiness"] = nullptr;
  }
  o["cpuMillis"] = s.cpuMillis;
  o["memoryBytes"] = s.memoryBytes;
  return o;
}

// The accessors below throw (std::invalid_argument, boost::system::system_error) on a value
// of the wrong type; decodeStoredState() turns that into a Status.
std::string str(const json::object& o, std::string_view key) {
  return std::string(o.at(key).as_string());
}

std::int64_t num(const json::object& o, std::string_view key) {
  return o.at(key).to_number<std::int64_t>();
}

std::vector<std::string> strings(const json::value& v) {
  std::vector<std::string> out;
  for (const auto& e : v.as_array()) out.emplace_back(e.as_string());
  return out;
}

std::uint16_t portNumber(const json::value& v) {
  auto n = v.to_number<std::int64_t>();
  if (n < 0 || n > 65535) throw std::invalid_argument("port out of range");
  return static_cast<std::uint16_t>(n);
}

WorkloadSpec specFromJson(const json::object& o) {
  WorkloadSpec s;
  s.key = str(o, "key");
  s.ns = str(o, "namespace");
  s.application = str(o, "application");
  s.revision = str(o, "revision");
  s.cell = str(o, "cell");
  s.replicas = static_cast<int>(num(o, "replicas"));
  s.command = strings(o.at("command"));
  s.args = strings(o.at("args"));
  for (const auto& e : o.at("env").as_array()) {
    const auto& pair = e.as_array();
    s.env.emplace_back(std::string(pair.at(0).as_string()), std::string(pair.at(1).as_string()));
  }
  for (const auto& p : o.at("ports").as_array()) {
    const auto& po = p.as_object();
    s.ports.push_back(PortSpec{str(po, "name"), portNumber(po.at("port"))});
  }
  if (const auto& r = o.at("readiness"); !r.is_null()) {
    const auto& ro = r.as_object();
    ProbeSpec probe;
    probe.path = str(ro, "path");
    probe.portName = str(ro, "portName");
    probe.periodSeconds = static_cast<int>(num(ro, "periodSeconds"));
    probe.timeoutSeconds = static_cast<int>(num(ro, "timeoutSeconds"));
    s.readiness = probe;
  }
  s.cpuMillis = num(o, "cpuMillis");
  s.memoryBytes = num(o, "memoryBytes");
  return s;
}

StoredState decodeOrThrow(std::string_view text) {
  json::value root = json::parse(text);
  const auto& o = root.as_object();
  if (num(o, "version") != kFormatVersion) throw std::invalid_argument("unknown format version");
  StoredState st;
  st.bootId = str(o, "bootId");
  for (const auto& [hash, spec] : o.at("specs").as_object()) {
    st.specs.emplace(std::string(hash), specFromJson(spec.as_object()));
  }
  for (const auto& rv : o.at("replicas").as_array()) {
    const auto& ro = rv.as_object();
    StoredReplica r;
    r.name = str(ro, "name");
    r.workloadKey = str(ro, "workloadKey");
    r.specHash = str(ro, "specHash");
    r.ordinal = static_cast<int>(num(ro, "ordinal"));
    r.pid = num(ro, "pid");
    r.startTicks = ro.at("startTime").to_number<std::uint64_t>();
    for (const auto& p : ro.at("ports").as_array()) {
      const auto& po = p.as_object();
      r.ports.emplace_back(str(po, "name"), portNumber(po.at("port")));
    }
    r.restarts = static_cast<int>(num(ro, "restarts"));
    if (const auto& s = ro.at("startedAt"); !s.is_null()) {
      r.startedAt = parseRfc3339(s.as_string());
    }
    st.replicas.push_back(std::move(r));
  }
  return st;
}

}  // namespace

std::string specHash(const WorkloadSpec& spec) {
  return sha256Hex(json::serialize(specToJson(spec, /*withReplicas=*/false)));
}

std::string encodeStoredState(const StoredState& state) {
  json::object root;
  root["version"] = kFormatVersion;
  root["bootId"] = state.bootId;
  json::object specs;
  for (const auto& [hash, spec] : state.specs) specs[hash] = specToJson(spec, true);
  root["specs"] = std::move(specs);
  json::array replicas;
  for (const auto& r : state.replicas) {
    json::object o;
    o["name"] = r.name;
    o["workloadKey"] = r.workloadKey;
    o["specHash"] = r.specHash;
    o["ordinal"] = r.ordinal;
    o["pid"] = r.pid;
    o["startTime"] = r.startTicks;
    json::array ports;
    for (const auto& [name, port] : r.ports) {
      ports.push_back(json::object{{"name", name}, {"port", port}});
    }
    o["ports"] = std::move(ports);
    o["restarts"] = r.restarts;
    if (r.startedAt) {
      o["startedAt"] = formatRfc3339Micro(*r.startedAt);
    } else {
      o["startedAt"] = nullptr;
    }
    replicas.push_back(std::move(o));
  }
  root["replicas"] = std::move(replicas);
  return json::serialize(root) + "\n";
}

Result<StoredState> decodeStoredState(std::string_view text) {
  try {
    return decodeOrThrow(text);
  } catch (const std::exception& e) {
    return invalidArgument(std::string("malformed replica state: ") + e.what());
  }
}

Status writeFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return unavailable("cannot write " + tmp + ": " + std::strerror(err));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return unavailable("cannot replace " + path + ": " + std::strerror(err));
  }
  return Status::ok();
}

}  // namespace tessera::runtime

#include "common/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "common/crypto.h"

namespace tessera {

std::string kubeconfigToken(std::string_view text) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    auto pos = line.find("token:");
    if (pos == std::string_view::npos) continue;
    std::string t(line.substr(pos + 6));
    t.erase(0, t.find_first_not_of(" \t\"'"));
    t.erase(t.find_last_not_of(" \t\r\"'") + 1);
    if (!t.empty()) return t;
  }
  return {};
}

namespace {

bool readWholeFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string scalar(const YAML::Node& n, const char* key) {
  const YAML::Node v = n[key];
  return v && v.IsScalar() ? v.Scalar() : std::string();
}

/// The entry named `name` of the list `section` ("clusters", "users", "contexts"), or an
/// undefined node.
YAML::Node entry(const YAML::Node& root, const char* section, const std::string& name) {
  const YAML::Node list = root[section];
  if (!list || !list.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& e : list) {
    if (e.IsMap() && scalar(e, "name") == name) return e;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

Result<KubeconfigContext> resolve(const YAML::Node& root, std::string_view wanted,
                                  std::string_view baseDir) {
  if (!root.IsMap()) return invalidArgument("not a kubeconfig (expected a YAML mapping)");
  KubeconfigContext out;
  out.context = wanted.empty() ? scalar(root, "current-context") : std::string(wanted);
  if (out.context.empty()) return invalidArgument("no current-context (give --context)");
  const YAML::Node ctx = entry(root, "contexts", out.context);
  if (!ctx.IsDefined() || !ctx["context"].IsMap()) {
    return invalidArgument("context \"" + out.context + "\" not found");
  }
  const YAML::Node c = ctx["context"];
  out.namespace_ = scalar(c, "namespace");
  const std::string clusterName = scalar(c, "cluster");
  const YAML::Node cluster = entry(root, "clusters", clusterName);
  if (!cluster.IsDefined() || !cluster["cluster"].IsMap()) {
    return invalidArgument("cluster \"" + clusterName + "\" of context \"" + out.context +
                           "\" not found");
  }
  const YAML::Node cl = cluster["cluster"];
  out.server = scalar(cl, "server");
  if (out.server.empty()) return invalidArgument("cluster \"" + clusterName + "\" has no server");
  const YAML::Node skip = cl["insecure-skip-tls-verify"];
  out.insecureSkipTlsVerify = skip && skip.IsScalar() && skip.as<bool>(false);
  if (std::string data = scalar(cl, "certificate-authority-data"); !data.empty()) {
    if (!base64Decode(data, out.caPem)) {
      return invalidArgument("cluster \"" + clusterName +
                             "\": certificate-authority-data is not base64");
    }
  } else if (std::string file = scalar(cl, "certificate-authority"); !file.empty()) {
    if (file.front() != '/' && !baseDir.empty()) file = std::string(baseDir) + "/" + file;
    if (!readWholeFile(file, out.caPem)) {
      return invalidArgument("cluster \"" + clusterName + "\": cannot read certificate-authority " +
                             file);
    }
  }
  const std::string userName = scalar(c, "user");
  if (!userName.empty()) {
    const YAML::Node user = entry(root, "users", userName);
    if (!user.IsDefined()) {
      return invalidArgument("user \"" + userName + "\" of context \"" + out.context +
                             "\" not found");
    }
    if (user["user"].IsMap()) out.token = scalar(user["user"], "token");
  }
  return out;
}

}  // namespace

Result<KubeconfigContext> parseKubeconfig(std::string_view text, std::string_view context,
                                          std::string_view baseDir) {
  try {
    return resolve(YAML::Load(std::string(text)), context, baseDir);
  } catch (const YAML::Exception& e) {
    // The mark and message name a position, never the content (which holds a token).
    return invalidArgument("malformed kubeconfig: " + e.msg + " (line " +
                           std::to_string(e.mark.line + 1) + ")");
  }
}

Result<KubeconfigContext> loadKubeconfig(const std::string& path, std::string_view context) {
  std::string text;
  if (!readWholeFile(path, text)) return notFound("cannot read kubeconfig " + path);
  const auto slash = path.rfind('/');
  auto r = parseKubeconfig(text, context, slash == std::string::npos ? "." : path.substr(0, slash));
  if (!r.isOk()) return invalidArgument(path + ": " + r.status().message());
  return r;
}

}  // namespace tessera

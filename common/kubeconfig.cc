#include "common/kubeconfig.h"

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

}  // namespace tessera

// The one thing Tessera's own tools read from a kubeconfig today: the bearer token of its
// user. (tessctl will read kubeconfigs fully, with a YAML parser.)
#pragma once

#include <string>
#include <string_view>

namespace tessera {

/// The value of the first "token:" entry in kubeconfig text ("" if there is none).
std::string kubeconfigToken(std::string_view kubeconfigText);

}  // namespace tessera

// Kubernetes-style resource quantities: "500m", "2", "1.5", "128Mi", "1G", "2e3".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

/// The quantity times 1000, rounded up (CPU in millicores: "250m" → 250, "2" → 2000).
std::optional<std::int64_t> parseQuantityMilli(std::string_view q);
/// The quantity, rounded up (memory in bytes: "128Mi" → 134217728, "1k" → 1000).
std::optional<std::int64_t> parseQuantity(std::string_view q);

/// Millicores as Kubernetes prints them: 2000 → "2", 250 → "250m".
std::string formatMilli(std::int64_t millis);
/// Bytes in the largest binary unit that divides them: 1073741824 → "1Gi", 1536 → "1536".
std::string formatBytes(std::int64_t bytes);

}  // namespace tessera

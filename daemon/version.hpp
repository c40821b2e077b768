#pragma once
#include <string_view>

namespace aiopsd::daemon {
inline constexpr std::string_view kVersion = AIOPSD_VERSION;
inline constexpr std::string_view kRevision = AIOPSD_REVISION;
}  // namespace aiopsd::daemon

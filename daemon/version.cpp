#include "daemon/version.hpp"

namespace aiopsd::daemon {
const std::string_view kVersion = AIOPSD_VERSION;
const std::string_view kRevision = AIOPSD_REVISION;
}  // namespace aiopsd::daemon

#pragma once
// Defined in version.cpp, the one file compiled with the revision: a commit
// then recompiles one file, not every file that includes this.
#include <string_view>

namespace aiopsd::daemon {
extern const std::string_view kVersion;
extern const std::string_view kRevision;
}  // namespace aiopsd::daemon

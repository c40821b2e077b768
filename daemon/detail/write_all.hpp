#pragma once
// Writes to a file descriptor until all of it is written (short writes and
// EINTR retried). Used by the append-only files: audit log and state store.

#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace aiopsd::daemon::detail {

inline bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace aiopsd::daemon::detail

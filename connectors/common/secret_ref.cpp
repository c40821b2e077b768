#include "connectors/common/secret_ref.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace aiopsd::secrets {

std::string describe(const SecretRef& ref) {
  if (!ref.env.empty()) return fmt::format("environment variable {}", ref.env);
  return fmt::format("file {}", ref.file);
}

std::optional<std::string> read_secret(const SecretRef& ref, std::string& why) {
  std::string value;
  if (!ref.env.empty()) {
    const char* v = std::getenv(ref.env.c_str());
    if (v == nullptr) {
      why = fmt::format("environment variable {} is not set", ref.env);
      return std::nullopt;
    }
    value = v;
  } else if (!ref.file.empty()) {
    std::ifstream in(ref.file, std::ios::binary);
    if (!in) {
      why = fmt::format("cannot read {}: {}", ref.file, std::strerror(errno));
      return std::nullopt;
    }
    value.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    why = "no env or file given";
    return std::nullopt;
  }
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!value.empty() && blank(value.back())) value.pop_back();
  std::size_t lead = 0;
  while (lead < value.size() && blank(value[lead])) ++lead;
  value.erase(0, lead);
  if (value.empty()) {
    why = fmt::format("{} is empty", describe(ref));
    return std::nullopt;
  }
  return value;
}

}  // namespace aiopsd::secrets

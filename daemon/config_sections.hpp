#pragma once
// Sections of the daemon config parsed in files of their own (config_*.cpp),
// composed by load_config. Internal to daemon/config.

#include <filesystem>
#include <string>

#include "daemon/config.hpp"
#include "rules/config_error.hpp"

namespace aiopsd::daemon {

// Relative paths in the config are relative to the config file's folder.
std::string resolve(const std::filesystem::path& base, const std::string& p);

// server.auth: bearer tokens (read and hashed now) and OIDC.
void parse_auth(const rules::YamlMap& server, const std::filesystem::path& base, AuthConfig& auth,
                rules::ConfigErrors& errors);

}  // namespace aiopsd::daemon

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "daemon/config_sections.hpp"
#include "daemon/http/auth.hpp"

// server.auth: static bearer tokens and OIDC access tokens.

namespace aiopsd::daemon {

namespace fs = std::filesystem;
using rules::ConfigErrors;
using rules::YamlMap;

namespace {

constexpr std::size_t kMinTokenLength = 16;

bool valid_token_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  }
  return true;
}

// Reads a token from its reference; nullopt (and a located error) when it
// cannot. The value never appears in an error.
std::optional<std::string> read_token(const YamlMap& rm, const ApiToken& t, ConfigErrors& errors) {
  const char* field = t.ref.env.empty() ? "file" : "env";
  std::string why;
  std::optional<std::string> read = secrets::read_secret(t.ref, why);
  if (!read) {
    errors.add(rm.node(field), rm.child_path(field), why);
    return std::nullopt;
  }
  std::string& value = *read;
  const std::string& where = rm.path();
  const YAML::Node at = rm.node(field);
  auto fail = [&](std::string message) {
    errors.add(at, where, std::move(message));
    OPENSSL_cleanse(value.data(), value.size());
    return std::nullopt;
  };
  if (value.size() < kMinTokenLength) {
    return fail(fmt::format("token is shorter than {} characters", kMinTokenLength));
  }
  for (char c : value) {
    if (std::iscntrl(static_cast<unsigned char>(c)) || c == ' ') {
      return fail("token contains whitespace or control characters");
    }
  }
  return value;
}

// Each token is read and hashed now, so `aiopsd check` and a reload report a
// missing, weak or duplicated token at its place in the file.
void parse_tokens(const YamlMap& am, const YAML::Node& auth_node, const fs::path& base,
                  AuthConfig& auth, ConfigErrors& errors) {
  const YAML::Node list = am.node("tokens");
  if (!am.has("tokens") && am.has("oidc")) return;
  if (!am.has("tokens") || !list.IsSequence() || list.size() == 0) {
    errors.add(am.has("tokens") ? list : auth_node, am.child_path("tokens"),
               "expected a non-empty list of tokens (or server.auth.oidc)");
    return;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string tpath = fmt::format("server.auth.tokens[{}]", i);
    const YAML::Node tn = list[i];
    YamlMap tm(tn, tpath, errors, {"name", "token", "scopes"});
    if (!tm.valid()) continue;
    ApiToken t;
    bool ok = true;
    if (auto name = tm.string("name", true)) {
      t.name = *name;
      if (!valid_token_name(t.name)) {
        errors.add(tm.node("name"), tm.child_path("name"),
                   fmt::format("invalid token name '{}' (1 to 64 letters, digits, '.', '_', '-')",
                               t.name));
        ok = false;
      } else if (!names.insert(t.name).second) {
        errors.add(tm.node("name"), tm.child_path("name"),
                   fmt::format("duplicate token name '{}'", t.name));
        ok = false;
      }
    } else {
      ok = false;
    }
    if (!tm.has("scopes")) {
      errors.add(tn, tm.child_path("scopes"), "missing required field");
      ok = false;
    } else {
      const auto scopes = tm.string_list("scopes");
      if (scopes.empty() && tm.node("scopes").IsSequence()) {
        errors.add(tm.node("scopes"), tm.child_path("scopes"), "expected at least one scope");
        ok = false;
      }
      for (std::size_t j = 0; j < scopes.size(); ++j) {
        if (scopes[j] == "ingest") {
          t.scopes |= static_cast<std::uint8_t>(ApiScope::kIngest);
        } else if (scopes[j] == "admin") {
          t.scopes |= static_cast<std::uint8_t>(ApiScope::kAdmin);
        } else if (scopes[j] == "read") {
          t.scopes |= static_cast<std::uint8_t>(ApiScope::kRead);
        } else {
          errors.add(tm.node("scopes")[j], fmt::format("{}[{}]", tm.child_path("scopes"), j),
                     fmt::format("unknown scope '{}' (expected ingest, admin or read)", scopes[j]));
          ok = false;
        }
      }
    }
    const std::string token_path = tm.child_path("token");
    if (!tm.has("token")) {
      errors.add(tn, token_path, "missing required field");
      continue;
    }
    const YAML::Node ref = tm.node("token");
    if (ref.IsScalar()) {
      errors.add(ref, token_path, "inline secrets are not allowed: use {env: VAR} or {file: PATH}");
      continue;
    }
    YamlMap rm(ref, token_path, errors, {"env", "file"});
    if (!rm.valid()) continue;
    if (rm.has("env") == rm.has("file")) {
      errors.add(ref, token_path, "expected exactly one of env or file");
      continue;
    }
    t.ref.env = rm.string("env").value_or("");
    if (auto f = rm.string("file")) t.ref.file = resolve(base, *f);
    if (t.ref.empty()) continue;  // a type error, reported
    auto value = read_token(rm, t, errors);
    if (!value) continue;
    t.digest = token_digest(*value);
    OPENSSL_cleanse(value->data(), value->size());
    for (const ApiToken& other : auth.tokens) {
      if (other.digest == t.digest) {
        errors.add(ref, token_path, fmt::format("same token as '{}'", other.name));
        ok = false;
      }
    }
    if (ok) auth.tokens.push_back(std::move(t));
  }
}

void parse_grants(const YamlMap& om, OidcConfig& o, ConfigErrors& errors) {
  if (!om.has("scopes")) {
    errors.add(om.node("issuer"), om.child_path("scopes"),
               "missing required field: which groups (or sub:SUBJECT) hold ingest, read, admin");
    return;
  }
  YamlMap gm(om.node("scopes"), om.child_path("scopes"), errors, {"ingest", "read", "admin"});
  if (!gm.valid()) return;
  o.ingest = gm.string_list("ingest");
  o.read = gm.string_list("read");
  o.admin = gm.string_list("admin");
  if (o.ingest.empty() && o.read.empty() && o.admin.empty())
    errors.add(om.node("scopes"), om.child_path("scopes"),
               "no group holds any scope: every OIDC token would be refused");
}

void parse_oidc(const YamlMap& am, const fs::path& base, OidcConfig& o, ConfigErrors& errors) {
  YamlMap om(am.node("oidc"), am.child_path("oidc"), errors,
             {"issuer", "audience", "jwks_uri", "ca_file", "algorithms", "leeway", "refresh",
              "min_refetch", "timeout", "subject_claim", "groups_claim", "scopes"});
  if (!om.valid()) return;
  auto url = [&](std::string_view key, bool required) -> std::string {
    auto v = om.string(key, required);
    if (v && !v->starts_with("https://") && !v->starts_with("http://")) {
      errors.add(om.node(key), om.child_path(key), "expected an https:// (or http://) URL");
      return {};
    }
    return v.value_or("");
  };
  o.source.issuer = url("issuer", true);
  o.token.issuer = o.source.issuer;
  o.source.jwks_uri = url("jwks_uri", false);
  o.source.ca_file = resolve(base, om.string("ca_file").value_or(""));
  if (om.has("audience")) {
    o.token.audiences = om.node("audience").IsScalar()
                            ? std::vector<std::string>{*om.string("audience")}
                            : om.string_list("audience");
  }
  if (o.token.audiences.empty() || o.token.audiences.front().empty())
    errors.add(om.has("audience") ? om.node("audience") : am.node("oidc"),
               om.child_path("audience"),
               "missing required field: the audience (aud) tokens must be issued for");
  if (om.has("algorithms")) {
    o.token.algorithms.clear();
    const auto names = om.string_list("algorithms");
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (auto alg = oidc::parse_jws_algorithm(names[i])) {
        o.token.algorithms.push_back(*alg);
      } else {
        errors.add(om.node("algorithms")[i], fmt::format("{}[{}]", om.child_path("algorithms"), i),
                   fmt::format("unsupported algorithm '{}' (expected RS256 or ES256)", names[i]));
      }
    }
  }
  auto seconds = [&](std::string_view key, std::chrono::seconds& out) {
    if (auto d = om.duration(key)) out = std::chrono::duration_cast<std::chrono::seconds>(*d);
  };
  seconds("leeway", o.token.leeway);
  seconds("refresh", o.source.refresh);
  seconds("min_refetch", o.source.min_refetch);
  if (auto d = om.duration("timeout")) o.source.timeout = *d;
  if (o.token.leeway > std::chrono::minutes(5))
    errors.add(om.node("leeway"), om.child_path("leeway"), "at most 5m of clock skew");
  if (o.source.refresh < std::chrono::seconds(10))
    errors.add(om.node("refresh"), om.child_path("refresh"), "at least 10s");
  o.token.subject_claim = om.string("subject_claim").value_or("sub");
  o.token.groups_claim = om.string("groups_claim").value_or("groups");
  parse_grants(om, o, errors);
}

}  // namespace

std::uint8_t OidcConfig::scopes_of(std::string_view subject,
                                   const std::vector<std::string>& groups) const {
  auto held = [&](const std::vector<std::string>& holders) {
    for (const std::string& h : holders) {
      if (h.starts_with("sub:") ? std::string_view(h).substr(4) == subject
                                : std::find(groups.begin(), groups.end(), h) != groups.end())
        return true;
    }
    return false;
  };
  std::uint8_t scopes = 0;
  if (held(ingest)) scopes |= static_cast<std::uint8_t>(ApiScope::kIngest);
  if (held(read)) scopes |= static_cast<std::uint8_t>(ApiScope::kRead);
  if (held(admin)) scopes |= static_cast<std::uint8_t>(ApiScope::kAdmin);
  return scopes;
}

void parse_auth(const YamlMap& sm, const fs::path& base, AuthConfig& auth, ConfigErrors& errors) {
  if (!sm.has("auth")) return;
  YamlMap am(sm.node("auth"), "server.auth", errors, {"tokens", "oidc", "metrics_public"});
  if (!am.valid()) return;
  if (auto v = am.boolean("metrics_public")) auth.metrics_public = *v;
  if (am.has("oidc")) parse_oidc(am, base, auth.oidc, errors);
  parse_tokens(am, sm.node("auth"), base, auth, errors);
}

}  // namespace aiopsd::daemon

#pragma once
// One bounded GET for the identity provider's discovery document and JWKS:
// http or https (certificate and host name verified), one deadline for the
// whole exchange, a cap on the body, no redirects.

#include <chrono>
#include <cstddef>
#include <string>

namespace aiopsd::oidc::detail {

struct HttpGetOptions {
  std::chrono::milliseconds timeout{5000};
  std::size_t max_body_bytes = 1u << 20;
  std::string ca_file;  // https: trust these CAs (PEM) instead of the system's
};

struct HttpGetResult {
  unsigned status = 0;  // 0: no answer (error says why)
  std::string body;
  std::string error;
  bool ok() const { return status == 200 && error.empty(); }
};

HttpGetResult http_get(const std::string& url, const HttpGetOptions& options);

}  // namespace aiopsd::oidc::detail

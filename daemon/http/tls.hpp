#pragma once
// The HTTP listener's TLS context (server.tls): certificate chain and key,
// TLS 1.2 or 1.3 at least, forward-secret AEAD ciphers only, and with
// client_ca_file a required, verified client certificate (mTLS).
//
// Built at config load (to report bad files as config errors) and again by
// App at start; read-only once built and shared by every TLS session on the
// HTTP io thread.

#include <memory>
#include <string>

#include "daemon/config.hpp"

namespace boost::asio::ssl {
class context;
}

namespace aiopsd::daemon {

struct TlsError {
  std::string field;  // cert_file, key_file or client_ca_file
  std::string message;
};

// nullptr with `error` set when a file cannot be read or used.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const TlsConfig& config,
                                                                   TlsError& error);

std::string_view to_string(TlsVersion version);

}  // namespace aiopsd::daemon

#include "daemon/http/tls.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

namespace aiopsd::daemon {

namespace ssl = boost::asio::ssl;

namespace {
// TLS 1.2 suites: ECDHE/DHE key exchange, AEAD only (Mozilla "intermediate").
// TLS 1.3 suites are all AEAD; OpenSSL's defaults stand.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}
}  // namespace

std::string_view to_string(TlsVersion version) {
  return version == TlsVersion::k1_3 ? "1.3" : "1.2";
}

std::shared_ptr<ssl::context> make_server_tls_context(const TlsConfig& config, TlsError& error) {
  auto fail = [&](std::string field, std::string message) {
    error = {std::move(field), std::move(message)};
    return nullptr;
  };
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(
      native, config.min_version == TlsVersion::k1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Whatever the system's openssl.cnf says: no keys under 2048-bit RSA strength.
  SSL_CTX_set_security_level(native, 2);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return fail("min_version", "no usable TLS 1.2 cipher suite: " + openssl_error());
  }
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);

  boost::system::error_code ec;
  ctx->use_certificate_chain_file(config.cert_file, ec);
  if (ec) {
    return fail("cert_file", fmt::format("cannot load certificate chain {}: {}", config.cert_file,
                                         ec.message()));
  }
  ctx->use_private_key_file(config.key_file, ssl::context::pem, ec);
  if (ec) {
    return fail("key_file",
                fmt::format("cannot load private key {}: {}", config.key_file, ec.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail("key_file", fmt::format("private key {} does not match the certificate {}: {}",
                                        config.key_file, config.cert_file, openssl_error()));
  }
  if (!config.client_ca_file.empty()) {
    ctx->load_verify_file(config.client_ca_file, ec);
    if (ec) {
      return fail("client_ca_file", fmt::format("cannot load CA certificates {}: {}",
                                                config.client_ca_file, ec.message()));
    }
    // Tells clients which CAs to pick a certificate for.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str());
    if (!names) {
      return fail("client_ca_file", fmt::format("no CA certificate in {}: {}",
                                                config.client_ca_file, openssl_error()));
    }
    SSL_CTX_set_client_CA_list(native, names);
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  ERR_clear_error();
  return ctx;
}

}  // namespace aiopsd::daemon

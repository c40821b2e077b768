#pragma once
// TLS for daemon tests: certificates made with the openssl CLI for one test
// (a CA, a server certificate for 127.0.0.1, client certificates, and a
// second CA nobody trusts), and a blocking TLS client on Beast's ssl_stream
// that verifies the server as Go and curl do (CA and subjectAltName IP).

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "tests/daemon/test_support.hpp"

namespace aiopsd::testing {

class TestPki {
 public:
  TestPki() {
    make_ca("ca", "aiopsd-test-ca");
    make_leaf("server", "ca", "127.0.0.1", "serverAuth", "subjectAltName=IP:127.0.0.1\n", 2);
    make_leaf("client", "ca", "test-client", "clientAuth", "", 3);
    make_ca("rogue-ca", "untrusted-ca");
    make_leaf("rogue-client", "rogue-ca", "rogue-client", "clientAuth", "", 4);
  }
  std::string file(const std::string& name) const { return dir_.file(name); }
  std::string ca() const { return file("ca.pem"); }
  std::string server_cert() const { return file("server.pem"); }
  std::string server_key() const { return file("server.key"); }
  std::string client_cert() const { return file("client.pem"); }
  std::string client_key() const { return file("client.key"); }
  const TempDir& dir() const { return dir_; }

 private:
  void openssl(const std::string& args) const {
    const std::string cmd =
        fmt::format("cd '{}' && openssl {} >>openssl.log 2>&1", dir_.path().string(), args);
    if (std::system(cmd.c_str()) != 0) {
      throw std::runtime_error("openssl " + args + " failed; see " + file("openssl.log"));
    }
  }
  void make_ca(const std::string& name, const std::string& cn) const {
    openssl(fmt::format(
        "req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN={1} -keyout {0}.key -out {0}.pem "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
        name, cn));
  }
  void make_leaf(const std::string& name, const std::string& ca, const std::string& cn,
                 const std::string& usage, const std::string& extra, int serial) const {
    dir_.write(name + ".ext", fmt::format("basicConstraints=critical,CA:FALSE\n"
                                          "keyUsage=critical,digitalSignature\n"
                                          "extendedKeyUsage={}\n{}",
                                          usage, extra));
    openssl(fmt::format(
        "req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN={1} "
        "-keyout {0}.key -out {0}.csr",
        name, cn));
    openssl(
        fmt::format("x509 -req -in {0}.csr -CA {1}.pem -CAkey {1}.key -set_serial {2} "
                    "-days 2 -out {0}.pem -extfile {0}.ext",
                    name, ca, serial));
  }

  TempDir dir_;
};

struct TlsClientOptions {
  std::string ca_file{};    // the server is verified against it, for IP 127.0.0.1
  std::string cert_file{};  // a client certificate (mTLS); optional
  std::string key_file{};
  int min_version = TLS1_2_VERSION;
  int max_version = 0;  // 0: the newest OpenSSL has
  // Security level 0, so that the client really offers what min_version says
  // (TLS 1.1 is refused by the client itself at the default level).
  bool legacy = false;
};

// One keep-alive TLS connection to 127.0.0.1:port; the constructor connects
// and completes the handshake, and throws boost::system::system_error when
// either fails.
class TlsHttpClient {
 public:
  TlsHttpClient(std::uint16_t port, const TlsClientOptions& options, std::string bearer = {})
      : ctx_(make_context(options)), stream_(io_, ctx_), bearer_(std::move(bearer)) {
    auto& tcp = boost::beast::get_lowest_layer(stream_);
    tcp.expires_after(std::chrono::seconds(10));
    tcp.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream_.native_handle()), "127.0.0.1");
    stream_.handshake(boost::asio::ssl::stream_base::client);
  }
  HttpResult request(boost::beast::http::verb verb, const std::string& target,
                     const std::string& body = {}) {
    boost::beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    return http_exchange(stream_, buffer_, verb, target, body, "application/json", bearer_);
  }
  HttpResult get(const std::string& target) {
    return request(boost::beast::http::verb::get, target);
  }
  HttpResult post(const std::string& target, const std::string& body) {
    return request(boost::beast::http::verb::post, target, body);
  }
  std::string protocol() { return SSL_get_version(stream_.native_handle()); }
  boost::beast::ssl_stream<boost::beast::tcp_stream>& stream() { return stream_; }

 private:
  static boost::asio::ssl::context make_context(const TlsClientOptions& o) {
    namespace ssl = boost::asio::ssl;
    ssl::context ctx(ssl::context::tls_client);
    if (o.legacy) {
      SSL_CTX_set_security_level(ctx.native_handle(), 0);
      SSL_CTX_set_cipher_list(ctx.native_handle(), "DEFAULT@SECLEVEL=0");
    }
    SSL_CTX_set_min_proto_version(ctx.native_handle(), o.min_version);
    SSL_CTX_set_max_proto_version(ctx.native_handle(), o.max_version);
    ctx.load_verify_file(o.ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
    if (!o.cert_file.empty()) {
      ctx.use_certificate_chain_file(o.cert_file);
      ctx.use_private_key_file(o.key_file, ssl::context::pem);
    }
    return ctx;
  }

  boost::asio::ssl::context ctx_;
  boost::asio::io_context io_;
  boost::beast::ssl_stream<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
  std::string bearer_;
};

}  // namespace aiopsd::testing

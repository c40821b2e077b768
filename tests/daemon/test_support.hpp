#pragma once
// Helpers for daemon tests: a temporary directory, a blocking loopback HTTP
// client (Beast), audit log reading, and metric lookups in exposition text.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/log.hpp"

namespace aiopsd::testing {

// Collects the daemon's log lines while alive (the log sink is process-wide).
class LogCapture {
 public:
  LogCapture() {
    daemon::log::set_sink([this](std::string_view line) {
      std::lock_guard lock(mu_);
      text_ += line;
    });
  }
  ~LogCapture() { daemon::log::set_sink(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "aiopsd-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name)) << text;
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

struct HttpResult {
  unsigned status = 0;
  std::string body;
  std::string retry_after;
  std::string content_type;
  std::string www_authenticate;
  bool keep_alive = true;
};

// One request and its answer on an open stream (plain or TLS).
template <class Stream>
HttpResult http_exchange(Stream& stream, boost::beast::flat_buffer& buffer,
                         boost::beast::http::verb verb, const std::string& target,
                         const std::string& body, const std::string& content_type,
                         const std::string& bearer) {
  namespace http = boost::beast::http;
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(true);
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (verb == http::verb::post) {
    req.set(http::field::content_type, content_type);
    req.body() = body;
    req.prepare_payload();
  }
  http::write(stream, req);
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(stream, buffer, parser);
  auto res = parser.release();
  return {
      static_cast<unsigned>(res.result_int()),         res.body(),
      std::string(res[http::field::retry_after]),      std::string(res[http::field::content_type]),
      std::string(res[http::field::www_authenticate]), res.keep_alive()};
}

// One keep-alive connection to 127.0.0.1:port.
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::string bearer = {})
      : stream_(io_), bearer_(std::move(bearer)) {
    stream_.connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  }
  HttpResult request(boost::beast::http::verb verb, const std::string& target,
                     const std::string& body = {},
                     const std::string& content_type = "application/json") {
    return http_exchange(stream_, buffer_, verb, target, body, content_type, bearer_);
  }
  HttpResult post(const std::string& target, const std::string& body) {
    return request(boost::beast::http::verb::post, target, body);
  }
  HttpResult get(const std::string& target) {
    return request(boost::beast::http::verb::get, target);
  }

 private:
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::string bearer_;  // sent as "Authorization: Bearer ..." when set
};

inline std::vector<boost::json::object> read_audit(const std::string& path) {
  std::vector<boost::json::object> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(boost::json::parse(line).as_object());
  }
  return out;
}

// Value of the sample whose name-and-labels text starts with `series`, e.g.
// `aiopsd_events_received_total{connector="alertmanager_v2"}`; nullopt when absent.
inline std::optional<double> metric_value(const std::string& exposition,
                                          const std::string& series) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace aiopsd::testing

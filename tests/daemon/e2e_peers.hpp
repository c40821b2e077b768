#pragma once
// Independent peers the end-to-end tests talk to: python3-kafka as producer
// and schema-checking consumer, and a ChatOps-style webhook endpoint.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/daemon/test_support.hpp"

namespace aiopsd::testing {

struct Peer {
  std::string script = std::string(AIOPSD_SOURCE_DIR) + "/tests/harness/kafka_peer.py";
};

// Produces (key, value) pairs with python3-kafka; with `timestamp_ms`, every
// record carries that create time instead of now.
inline void produce(const std::string& bootstrap, const std::string& topic,
                    const std::vector<std::pair<std::string, std::string>>& messages,
                    std::optional<std::int64_t> timestamp_ms = std::nullopt) {
  TempDir dir;
  std::ofstream in(dir.file("in.jsonl"));
  for (const auto& [k, v] : messages) {
    boost::json::object line{{"key", k}, {"value", v}};
    if (timestamp_ms) line["timestamp_ms"] = *timestamp_ms;
    in << boost::json::serialize(line) << '\n';
  }
  in.close();
  const std::string cmd =
      fmt::format("timeout 120 /usr/bin/python3 {} produce {} {} < {} > {} 2>&1", Peer{}.script,
                  bootstrap, topic, dir.file("in.jsonl"), dir.file("out"));
  ASSERT_EQ(std::system(cmd.c_str()), 0) << std::ifstream(dir.file("out")).rdbuf();
}

struct Record {
  std::string key;
  boost::json::object value;
  std::map<std::string, std::string> headers;
  std::size_t value_bytes = 0;  // the raw value's length (dead letters need not be JSON)
};

// Reads `n` messages from the beginning of `topic` with python3-kafka; with
// `schema`, every value must validate against schemas/<schema>.
inline std::vector<Record> consume(const std::string& bootstrap, const std::string& topic,
                                   std::size_t n, const std::string& schema = "",
                                   int timeout_s = 60) {
  TempDir dir;
  const std::string schema_path =
      schema.empty() ? "" : std::string(AIOPSD_SOURCE_DIR) + "/schemas/" + schema;
  const std::string cmd = fmt::format(
      "timeout {} /usr/bin/python3 {} consume {} {} {} {} {} > {} 2> {}", timeout_s + 30,
      Peer{}.script, bootstrap, topic, n, timeout_s, schema_path, dir.file("out"), dir.file("err"));
  const int rc = std::system(cmd.c_str());
  std::stringstream err;
  err << std::ifstream(dir.file("err")).rdbuf();
  EXPECT_EQ(rc, 0) << "consumer failed or a value broke " << schema << ":\n" << err.str();
  std::vector<Record> out;
  std::ifstream in(dir.file("out"));
  std::string line;
  while (std::getline(in, line)) {
    auto o = boost::json::parse(line).as_object();
    Record r;
    if (o["key"].is_string()) r.key = std::string(o["key"].as_string());
    r.value_bytes = o["value"].as_string().size();
    boost::system::error_code ec;  // dead letters may hold anything
    if (auto v = boost::json::parse(std::string(o["value"].as_string()), ec); !ec && v.is_object())
      r.value = v.as_object();
    for (const auto& [k, v] : o["headers"].as_object())
      r.headers[std::string(k)] = std::string(v.as_string());
    out.push_back(std::move(r));
  }
  return out;
}

// A ChatOps bot's webhook endpoint: records each POST's body and Authorization.
class WebhookReceiver {
 public:
  WebhookReceiver() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] {
      for (;;) {
        boost::asio::ip::tcp::socket socket(io_);
        boost::beast::error_code ec;
        acceptor_.accept(socket, ec);
        if (ec || stop_) return;
        boost::beast::flat_buffer buffer;
        boost::beast::http::request<boost::beast::http::string_body> req;
        boost::beast::http::read(socket, buffer, req, ec);
        if (ec) continue;
        {
          std::lock_guard lock(mu_);
          bodies_.push_back(req.body());
          auth_.emplace_back(req[boost::beast::http::field::authorization]);
        }
        boost::beast::http::response<boost::beast::http::string_body> res{
            boost::beast::http::status::ok, 11};
        res.prepare_payload();
        boost::beast::http::write(socket, res, ec);
      }
    });
  }
  ~WebhookReceiver() {
    stop_ = true;
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket poke(io);
    boost::beast::error_code ec;
    poke.connect(acceptor_.local_endpoint(), ec);  // wakes accept()
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::vector<std::string> auth() {
    std::lock_guard lock(mu_);
    return auth_;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::vector<std::string> auth_;
  std::thread thread_;
};

}  // namespace aiopsd::testing

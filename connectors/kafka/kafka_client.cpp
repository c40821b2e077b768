#include "connectors/kafka/kafka_client.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <pthread.h>

namespace aiopsd::kafka {
namespace {

using Clock = std::chrono::steady_clock;

// Owns an rd_kafka_conf_t until rd_kafka_new() takes it.
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

bool set_property(rd_kafka_conf_t* conf, const std::string& name, const std::string& value,
                  std::string& error) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    error = fmt::format("kafka property {}: {}", name, errstr);
    return false;
  }
  return true;
}

// librdkafka's log and error callbacks: one line on stderr each, never fatal.
void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  fmt::print(stderr, "kafka: {}: log{} {}: {}\n", rd_kafka_name(rk), level, fac, buf);
}

void error_cb(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    auto orig = rd_kafka_fatal_error(rk, fatal, sizeof fatal);
    fmt::print(stderr, "kafka: {}: fatal error {}: {}\n", rd_kafka_name(rk),
               rd_kafka_err2name(orig), fatal);
    return;
  }
  fmt::print(stderr, "kafka: {}: {}: {}\n", rd_kafka_name(rk), rd_kafka_err2name(code), reason);
}

// A configuration with the caller's brokers and properties and our callbacks.
ConfPtr make_conf(const ClientConfig& config, std::string& error) {
  ConfPtr conf(rd_kafka_conf_new());
  if (!config.brokers.empty() &&
      !set_property(conf.get(), "bootstrap.servers", config.brokers, error))
    return nullptr;
  for (const auto& [name, value] : config.properties)
    if (!set_property(conf.get(), name, value, error)) return nullptr;
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  rd_kafka_conf_set_error_cb(conf.get(), error_cb);
  return conf;
}

rd_kafka_t* new_handle(rd_kafka_type_t type, ConfPtr conf, std::string& error) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (rk == nullptr) {
    error = fmt::format("kafka: {}", errstr);
    return nullptr;  // conf still ours: destroyed by ConfPtr
  }
  (void)conf.release();  // owned by rk now
  return rk;
}

}  // namespace

// ---------------------------------------------------------------------------
// EmbeddedCluster

struct EmbeddedCluster::Impl {
  rd_kafka_t* rk = nullptr;  // host handle; the mock cluster runs on its own thread
  rd_kafka_mock_cluster_t* cluster = nullptr;

  ~Impl() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

EmbeddedCluster::EmbeddedCluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmbeddedCluster::~EmbeddedCluster() = default;

std::unique_ptr<EmbeddedCluster> EmbeddedCluster::start(int brokers, std::string& error) {
  if (brokers < 1) {
    error = "kafka: embedded cluster needs at least one broker";
    return nullptr;
  }
  auto conf = make_conf(ClientConfig{}, error);
  if (!conf) return nullptr;
  // The host handle has no bootstrap.servers on purpose: warnings only.
  if (!set_property(conf.get(), "client.id", "aiopsd-mock-cluster", error) ||
      !set_property(conf.get(), "log_level", "4", error))
    return nullptr;
  auto impl = std::make_unique<Impl>();
  impl->rk = new_handle(RD_KAFKA_PRODUCER, std::move(conf), error);
  if (impl->rk == nullptr) return nullptr;
  // librdkafka 2.0.2 binds every mock broker to 127.0.0.1 with an ephemeral
  // port (rd_kafka_mock_broker_new: INADDR_LOOPBACK); bootstrap() shows it.
  impl->cluster = rd_kafka_mock_cluster_new(impl->rk, brokers);
  if (impl->cluster == nullptr) {
    error = "kafka: rd_kafka_mock_cluster_new failed";
    return nullptr;
  }
  return std::unique_ptr<EmbeddedCluster>(new EmbeddedCluster(std::move(impl)));
}

std::string EmbeddedCluster::bootstrap() const {
  return rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

bool EmbeddedCluster::create_topic(const std::string& topic, int partitions, std::string& error) {
  // Replication factor 1: a broker going down makes its partitions
  // unavailable until it comes back, which is what the tests want to see.
  auto err = rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = fmt::format("kafka: create topic {}: {}", topic, rd_kafka_err2str(err));
    return false;
  }
  return true;
}

void EmbeddedCluster::set_broker_up(int broker_id, bool up) {
  auto err = up ? rd_kafka_mock_broker_set_up(impl_->cluster, broker_id)
                : rd_kafka_mock_broker_set_down(impl_->cluster, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    fmt::print(stderr, "kafka: mock broker {} {}: {}\n", broker_id, up ? "up" : "down",
               rd_kafka_err2str(err));
}

// ---------------------------------------------------------------------------
// Producer

struct Producer::Impl {
  rd_kafka_t* rk = nullptr;
  std::thread poll_thread;
  std::thread::id poll_thread_id;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> errors{0};
  // Messages librdkafka refused at produce() time: their Done still runs on
  // the poll thread, like every other outcome.
  std::mutex failed_mu;
  std::deque<std::pair<std::unique_ptr<Done>, std::string>> failed;

  static void delivery_cb(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    std::unique_ptr<Done> done(static_cast<Done*>(m->_private));
    DeliveryReport report;
    report.ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!report.ok) {
      report.error = rd_kafka_err2str(m->err);
      self->errors.fetch_add(1, std::memory_order_relaxed);
    }
    if (done && *done) (*done)(report);
  }

  void drain_failed() {
    std::deque<std::pair<std::unique_ptr<Done>, std::string>> batch;
    {
      std::lock_guard lock(failed_mu);
      batch.swap(failed);
    }
    for (auto& [done, error] : batch) {
      DeliveryReport report;
      report.error = std::move(error);
      if (*done) (*done)(report);
    }
  }

  void run() {
    while (!stopping.load(std::memory_order_acquire)) {
      rd_kafka_poll(rk, 100);
      drain_failed();
    }
  }

  ~Impl() {
    if (rk == nullptr) return;
    stopping.store(true, std::memory_order_release);
    if (poll_thread.joinable()) poll_thread.join();
    // Whatever is still queued fails now (purge), so every Done runs exactly
    // once, here on the destroying thread since the poll thread is gone.
    if (rd_kafka_outq_len(rk) > 0) {
      rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      auto deadline = Clock::now() + std::chrono::seconds(5);
      while (rd_kafka_outq_len(rk) > 0 && Clock::now() < deadline) rd_kafka_poll(rk, 50);
    }
    rd_kafka_poll(rk, 0);
    drain_failed();
    rd_kafka_destroy(rk);
  }
};

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Producer::~Producer() {
  if (!flush(std::chrono::seconds(10)))
    fmt::print(stderr, "kafka: producer: {} messages undelivered at shutdown\n",
               rd_kafka_outq_len(impl_->rk));
}

std::unique_ptr<Producer> Producer::create(const ClientConfig& config, std::string& error) {
  auto conf = make_conf(config, error);
  if (!conf) return nullptr;
  if (!set_property(conf.get(), "enable.idempotence", "true", error) ||
      !set_property(conf.get(), "acks", "all", error))
    return nullptr;
  auto impl = std::make_unique<Impl>();
  rd_kafka_conf_set_opaque(conf.get(), impl.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::delivery_cb);
  impl->rk = new_handle(RD_KAFKA_PRODUCER, std::move(conf), error);
  if (impl->rk == nullptr) return nullptr;
  Impl* raw = impl.get();
  impl->poll_thread = std::thread([raw] {
    ::pthread_setname_np(::pthread_self(), "aiopsd-kprod");
    raw->run();
  });
  impl->poll_thread_id = impl->poll_thread.get_id();
  return std::unique_ptr<Producer>(new Producer(std::move(impl)));
}

void Producer::produce(std::string_view topic, std::string_view key, std::string_view value,
                       const std::vector<Header>& headers, Done done) {
  auto opaque = std::make_unique<Done>(std::move(done));
  const std::string topic_name(topic);
  const bool on_poll_thread = std::this_thread::get_id() == impl_->poll_thread_id;
  for (;;) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const auto& h : headers)
        rd_kafka_header_add(hdrs, h.key.data(), static_cast<ssize_t>(h.key.size()), h.value.data(),
                            static_cast<ssize_t>(h.value.size()));
    }
    // RD_KAFKA_MSG_F_COPY: librdkafka copies key and value; headers are
    // owned by librdkafka on success only.
    rd_kafka_resp_err_t err = rd_kafka_producev(
        impl_->rk, RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(opaque.get()), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)opaque.release();  // delivery_cb owns it now
      return;
    }
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      // Wait for room: on the poll thread (produce from a callback) serve the
      // queue ourselves; elsewhere let the poll thread drain it.
      if (on_poll_thread)
        rd_kafka_poll(impl_->rk, 10);
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    impl_->errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(impl_->failed_mu);
    impl_->failed.emplace_back(std::move(opaque), rd_kafka_err2str(err));
    return;
  }
}

bool Producer::flush(std::chrono::milliseconds timeout) {
  // rd_kafka_flush() would serve delivery callbacks on this thread, beside
  // the poll thread; wait for the poll thread to empty the queue instead.
  auto deadline = Clock::now() + timeout;
  for (;;) {
    bool pending;
    {
      std::lock_guard lock(impl_->failed_mu);
      pending = !impl_->failed.empty();
    }
    if (!pending && rd_kafka_outq_len(impl_->rk) == 0) return true;
    if (Clock::now() >= deadline) return false;
    if (std::this_thread::get_id() == impl_->poll_thread_id)
      rd_kafka_poll(impl_->rk, 10);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::uint64_t Producer::errors() const { return impl_->errors.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------------------
// Consumer

namespace {

// Offsets handed out for one partition, in the (increasing) order they
// arrived, each with whether it is done; the done prefix is dropped as it
// forms. A deque of pairs: no allocation per message, O(log n) done().
struct OffsetTracker {
  std::string topic;
  std::int32_t partition = 0;
  std::deque<std::pair<std::int64_t, bool>> window;
  std::int64_t highest_done = -1;
  std::int64_t stored = -1;    // last offset given to rd_kafka_offsets_store
  std::int64_t to_store = -1;  // committable, not yet given to it (flush_stores())

  void track(std::int64_t offset) {
    // A rewind (seek, reassignment to an older position) restarts the window.
    if (!window.empty() && offset <= window.back().first) window.clear();
    window.emplace_back(offset, false);
  }
  // False when the offset is not outstanding (unknown or already done).
  bool mark_done(std::int64_t offset) {
    auto it = std::lower_bound(window.begin(), window.end(), std::make_pair(offset, false));
    if (it == window.end() || it->first != offset || it->second) return false;
    it->second = true;
    highest_done = std::max(highest_done, offset);
    while (!window.empty() && window.front().second) window.pop_front();
    return true;
  }
  // The offset to commit: the first not done, or past everything done.
  std::int64_t committable() const {
    return window.empty() ? highest_done + 1 : window.front().first;
  }
};

}  // namespace

struct Consumer::Impl {
  rd_kafka_t* rk = nullptr;
  std::thread poll_thread;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> consumed{0};
  OnMessage on_message;

  // life_mu guards rk's lifetime against done()/lag() from other threads
  // (shared), and stop() destroying it (exclusive). Order: life_mu, then mu.
  mutable std::shared_mutex life_mu;
  bool closed = false;
  std::mutex mu;
  // One per assigned partition: few, so a vector searched linearly.
  std::vector<OffsetTracker> trackers;
  // done() only notes what became committable; the poll thread hands it to
  // librdkafka in one call every kStoreInterval (and before any commit), so
  // a busy stream costs one offsets_store per interval, not per message.
  std::atomic<bool> store_pending{false};
  std::chrono::steady_clock::time_point last_store{};
  static constexpr auto kStoreInterval = std::chrono::milliseconds(10);

  OffsetTracker* find_tracker(std::string_view topic, std::int32_t partition) {
    for (auto& t : trackers)
      if (t.partition == partition && t.topic == topic) return &t;
    return nullptr;
  }

  void reset_trackers(const rd_kafka_topic_partition_list_t* parts) {
    std::lock_guard lock(mu);
    for (int i = 0; i < parts->cnt; ++i) {
      std::erase_if(trackers, [&](const OffsetTracker& t) {
        return t.partition == parts->elems[i].partition && t.topic == parts->elems[i].topic;
      });
    }
  }

  // Gives every newly committable offset to librdkafka, in one call.
  void flush_stores() {
    if (!store_pending.exchange(false)) return;
    last_store = std::chrono::steady_clock::now();
    std::lock_guard lock(mu);
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(trackers.size())));
    for (auto& t : trackers) {
      if (t.to_store > t.stored)
        rd_kafka_topic_partition_list_add(list.get(), t.topic.c_str(), t.partition)->offset =
            t.to_store;
    }
    if (list->cnt == 0) return;
    const auto err = rd_kafka_offsets_store(rk, list.get());
    for (int i = 0; i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      OffsetTracker* t = find_tracker(e.topic, e.partition);
      const auto perr = err != RD_KAFKA_RESP_ERR_NO_ERROR ? err : e.err;
      if (perr == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (t) t->stored = e.offset;
      } else if (perr != RD_KAFKA_RESP_ERR__STATE) {
        // __STATE: no longer assigned; the rebalance callback resets the tracker.
        fmt::print(stderr, "kafka: consumer: store offset {} [{}] {}: {}\n", e.topic, e.partition,
                   e.offset, rd_kafka_err2str(perr));
      }
    }
  }

  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self->reset_trackers(parts);
      if (cooperative) {
        if (auto* e = rd_kafka_incremental_assign(rk, parts)) {
          fmt::print(stderr, "kafka: consumer: incremental assign: {}\n", rd_kafka_error_string(e));
          rd_kafka_error_destroy(e);
        }
      } else if (auto e = rd_kafka_assign(rk, parts); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fmt::print(stderr, "kafka: consumer: assign: {}\n", rd_kafka_err2str(e));
      }
      return;
    }
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
      fmt::print(stderr, "kafka: consumer: rebalance error: {}\n", rd_kafka_err2str(err));
    // Commit what is done before the partitions go to another member.
    if (!rd_kafka_assignment_lost(rk)) {
      self->flush_stores();
      auto c = rd_kafka_commit(rk, nullptr, 0);
      if (c != RD_KAFKA_RESP_ERR_NO_ERROR && c != RD_KAFKA_RESP_ERR__NO_OFFSET)
        fmt::print(stderr, "kafka: consumer: commit on revoke: {}\n", rd_kafka_err2str(c));
    }
    self->reset_trackers(parts);
    if (cooperative) {
      if (auto* e = rd_kafka_incremental_unassign(rk, parts)) {
        fmt::print(stderr, "kafka: consumer: incremental unassign: {}\n", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }

  void track(const std::string& topic, std::int32_t partition, std::int64_t offset) {
    std::lock_guard lock(mu);
    OffsetTracker* t = find_tracker(topic, partition);
    if (t == nullptr) {
      t = &trackers.emplace_back();
      t->topic = topic;
      t->partition = partition;
    }
    t->track(offset);
  }

  void run() {
    while (!stopping.load(std::memory_order_acquire)) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
      if (store_pending.load(std::memory_order_relaxed) &&
          (m == nullptr || std::chrono::steady_clock::now() - last_store >= kStoreInterval))
        flush_stores();
      if (m == nullptr) continue;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          fmt::print(stderr, "kafka: consumer: {}: {}\n", rd_kafka_err2name(m->err),
                     rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        continue;
      }
      const char* topic = rd_kafka_topic_name(m->rkt);
      track(topic, m->partition, m->offset);
      consumed.fetch_add(1, std::memory_order_relaxed);
      Message msg;
      msg.topic = topic;
      msg.partition = m->partition;
      msg.offset = m->offset;
      msg.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
      if (m->key != nullptr)
        msg.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr)
        msg.value = std::string_view(static_cast<const char*>(m->payload), m->len);
      if (on_message) on_message(msg);
      rd_kafka_message_destroy(m);
    }
  }

  void stop() {
    stopping.store(true, std::memory_order_release);
    if (poll_thread.joinable()) poll_thread.join();
    std::unique_lock life(life_mu);
    if (closed) return;
    // Offsets noted by done() as they became committable: store and commit
    // them now, synchronously, then leave the group.
    flush_stores();
    closed = true;
    auto c = rd_kafka_commit(rk, nullptr, 0);
    if (c != RD_KAFKA_RESP_ERR_NO_ERROR && c != RD_KAFKA_RESP_ERR__NO_OFFSET)
      fmt::print(stderr, "kafka: consumer: commit on stop: {}\n", rd_kafka_err2str(c));
    if (auto e = rd_kafka_consumer_close(rk); e != RD_KAFKA_RESP_ERR_NO_ERROR)
      fmt::print(stderr, "kafka: consumer: close: {}\n", rd_kafka_err2str(e));
    rd_kafka_destroy(rk);
    rk = nullptr;
  }
};

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Consumer::~Consumer() { stop(); }

std::unique_ptr<Consumer> Consumer::create(const ClientConfig& config, const std::string& group_id,
                                           const std::vector<std::string>& topics,
                                           std::string& error) {
  auto conf = make_conf(config, error);
  if (!conf) return nullptr;
  if (!set_property(conf.get(), "group.id", group_id, error) ||
      !set_property(conf.get(), "enable.auto.commit", "true", error) ||
      !set_property(conf.get(), "enable.auto.offset.store", "false", error) ||
      !set_property(conf.get(), "auto.offset.reset", "earliest", error) ||
      !set_property(conf.get(), "enable.partition.eof", "false", error))
    return nullptr;
  auto impl = std::make_unique<Impl>();
  rd_kafka_conf_set_opaque(conf.get(), impl.get());
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Impl::rebalance_cb);
  impl->rk = new_handle(RD_KAFKA_CONSUMER, std::move(conf), error);
  if (impl->rk == nullptr) return nullptr;
  // Until stop(), everything arrives through rd_kafka_consumer_poll().
  rd_kafka_poll_set_consumer(impl->rk);
  PartitionListPtr subscription(
      rd_kafka_topic_partition_list_new(static_cast<int>(std::max<std::size_t>(topics.size(), 1))));
  for (const auto& t : topics)
    rd_kafka_topic_partition_list_add(subscription.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(impl->rk, subscription.get());
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = fmt::format("kafka: subscribe: {}", rd_kafka_err2str(err));
    rd_kafka_destroy(impl->rk);
    impl->rk = nullptr;
    return nullptr;
  }
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

void Consumer::start(OnMessage on_message) {
  if (impl_->poll_thread.joinable() || impl_->stopping.load()) return;
  impl_->on_message = std::move(on_message);
  Impl* raw = impl_.get();
  impl_->poll_thread = std::thread([raw] {
    ::pthread_setname_np(::pthread_self(), "aiopsd-kcons");
    raw->run();
  });
}

void Consumer::done(std::string_view topic, std::int32_t partition, std::int64_t offset) {
  std::shared_lock life(impl_->life_mu);
  if (impl_->closed) return;
  std::lock_guard lock(impl_->mu);
  OffsetTracker* t = impl_->find_tracker(topic, partition);
  if (t == nullptr) return;           // revoked since: the new owner redoes it
  if (!t->mark_done(offset)) return;  // unknown or already done
  const std::int64_t next = t->committable();
  if (next <= std::max(t->stored, t->to_store)) return;  // an earlier message is in progress
  t->to_store = next;
  impl_->store_pending.store(true, std::memory_order_relaxed);
}

void Consumer::pause() {
  impl_->stopping.store(true, std::memory_order_release);
  if (impl_->poll_thread.joinable()) impl_->poll_thread.join();
}

void Consumer::stop() { impl_->stop(); }

std::vector<PartitionLag> Consumer::lag() const {
  std::vector<PartitionLag> out;
  std::shared_lock life(impl_->life_mu);
  if (impl_->closed) return out;
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(impl_->rk, &raw) != RD_KAFKA_RESP_ERR_NO_ERROR || raw == nullptr)
    return out;
  PartitionListPtr parts(raw);
  rd_kafka_position(impl_->rk, parts.get());
  out.reserve(static_cast<std::size_t>(parts->cnt));
  for (int i = 0; i < parts->cnt; ++i) {
    const auto& p = parts->elems[i];
    PartitionLag lag{p.topic, p.partition, -1};
    std::int64_t low = -1;
    std::int64_t high = -1;
    // Cached watermarks (from fetch responses); no broker round trip.
    if (rd_kafka_get_watermark_offsets(impl_->rk, p.topic, p.partition, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0 && p.offset >= 0) {
      lag.lag = std::max<std::int64_t>(0, high - p.offset);
    }
    out.push_back(std::move(lag));
  }
  return out;
}

std::uint64_t Consumer::consumed() const { return impl_->consumed.load(std::memory_order_relaxed); }

}  // namespace aiopsd::kafka

#include "daemon/state_store.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "tests/daemon/test_support.hpp"

namespace aiopsd::daemon {
namespace {

using aiopsd::testing::TempDir;

TEST(StateStore, StartedAndFinishedSurviveReopen) {
  TempDir dir;
  const std::string path = dir.file("state/intents.journal");
  {
    StateStore s(path);
    EXPECT_FALSE(s.find("a"));
    ASSERT_TRUE(s.record_started("a"));
    ASSERT_TRUE(s.record_started("b"));
    ASSERT_TRUE(s.record_finished("b", R"({"status":"succeeded","q":"\"quoted\"\n"})"));
    EXPECT_FALSE(s.find("a")->finished);
    EXPECT_TRUE(s.unfinished_at_open().empty());
  }
  StateStore s(path);
  ASSERT_TRUE(s.find("a"));
  EXPECT_FALSE(s.find("a")->finished);
  ASSERT_TRUE(s.find("b"));
  EXPECT_TRUE(s.find("b")->finished);
  EXPECT_EQ(s.find("b")->result, R"({"status":"succeeded","q":"\"quoted\"\n"})");
  EXPECT_EQ(s.unfinished_at_open(), std::vector<std::string>{"a"});
  EXPECT_EQ(s.size(), 2u);
}

// A crash in the middle of a write leaves a torn last line: it is skipped,
// and every complete record before it is kept.
TEST(StateStore, TornLastLineIsIgnored) {
  TempDir dir;
  const std::string path = dir.file("intents.journal");
  {
    StateStore s(path);
    ASSERT_TRUE(s.record_finished("done", "{}"));
    ASSERT_TRUE(s.record_started("running"));
  }
  std::ofstream(path, std::ios::app) << R"({"k":"f","id":"running","r":"{\"sta)";
  StateStore s(path);
  EXPECT_TRUE(s.find("done")->finished);
  EXPECT_FALSE(s.find("running")->finished);
  EXPECT_EQ(s.unfinished_at_open(), std::vector<std::string>{"running"});
}

// Reopening rewrites the journal with one record per intent.
TEST(StateStore, CompactsAtOpen) {
  TempDir dir;
  const std::string path = dir.file("intents.journal");
  {
    StateStore s(path);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(s.record_started("x" + std::to_string(i)));
      ASSERT_TRUE(s.record_finished("x" + std::to_string(i), "{}"));
    }
  }
  { StateStore s(path); }
  std::ifstream in(path);
  const auto lines = std::count(std::istreambuf_iterator<char>(in), {}, '\n');
  EXPECT_EQ(lines, 50);
  StateStore s(path);
  EXPECT_EQ(s.size(), 50u);
  EXPECT_TRUE(s.unfinished_at_open().empty());
}

// Concurrent writers share syncs, and every record is durable when its call returns.
TEST(StateStore, ConcurrentWritersShareSyncs) {
  TempDir dir;
  const std::string path = dir.file("intents.journal");
  {
    StateStore s(path);
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
      writers.emplace_back([&s, t] {
        for (int i = 0; i < 100; ++i) {
          ASSERT_TRUE(s.record_finished(fmt::format("t{}-{}", t, i), "{}"));
        }
      });
    }
    for (auto& w : writers) w.join();
    const auto st = s.stats();
    EXPECT_EQ(st.records, 400u);
    EXPECT_LE(st.syncs, 400u);
    EXPECT_GT(st.bytes, 400u * 20);
  }
  StateStore s(path);
  EXPECT_EQ(s.size(), 400u);
}

TEST(StateStore, UnwritableLocationThrows) {
  EXPECT_THROW(StateStore("/proc/aiopsd-cannot-write/intents.journal"), std::exception);
}

}  // namespace
}  // namespace aiopsd::daemon

#include "daemon/state/state_store.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/daemon/test_support.hpp"

namespace aiopsd::daemon {
namespace {

using aiopsd::testing::TempDir;
using namespace std::chrono_literals;
using Clock = StateStore::Clock;

TEST(StateStore, StartedAndFinishedSurviveReopen) {
  TempDir dir;
  const std::string path = dir.file("state");
  // The store's clock, not the calendar, decides what the retention deletes.
  const auto t = Clock::time_point(std::chrono::milliseconds(1'795'000'000'123));
  rules::ManualClock clock(t + std::chrono::hours(1));
  {
    StateStore s({.path = path, .clock = &clock});
    EXPECT_FALSE(s.find("a"));
    ASSERT_TRUE(s.record_started("a", R"({"intent_id":"a","status":"accepted"})"));
    ASSERT_TRUE(s.record_started("b"));
    ASSERT_TRUE(s.record_finished("b", R"({"status":"succeeded","q":"\"quoted\"\n"})", t));
    EXPECT_FALSE(s.find("a")->finished);
    EXPECT_TRUE(s.unfinished_at_open().empty());
  }
  StateStore s({.path = path, .clock = &clock});
  ASSERT_TRUE(s.find("a"));
  EXPECT_FALSE(s.find("a")->finished);
  ASSERT_TRUE(s.find("b"));
  EXPECT_TRUE(s.find("b")->finished);
  EXPECT_EQ(s.find("b")->result, R"({"status":"succeeded","q":"\"quoted\"\n"})");
  EXPECT_EQ(s.find("b")->finished_at, t);
  EXPECT_EQ(
      s.unfinished_at_open(),
      (std::vector<StateStore::Unfinished>{{"a", R"({"intent_id":"a","status":"accepted"})"}}));
  EXPECT_EQ(s.count(), 2u);
}

// Ids are bytes: ones that share prefixes, or hold separators and NULs, stay apart.
TEST(StateStore, IdsAreOpaqueBytes) {
  TempDir dir;
  StateStore s({dir.file("state")});
  const std::string nul("x\0y", 3);
  ASSERT_TRUE(s.record_finished("x", "1"));
  ASSERT_TRUE(s.record_finished(nul, "2"));
  ASSERT_TRUE(s.record_started("x/y"));
  EXPECT_EQ(s.find("x")->result, "1");
  EXPECT_EQ(s.find(nul)->result, "2");
  EXPECT_FALSE(s.find("x/y")->finished);
  EXPECT_FALSE(s.find(std::string("x\0", 2)));
}

// A process killed right after record_*() returned: the write is in the
// write-ahead log and is there when the store is opened again.
TEST(StateStore, WriteSurvivesSigkill) {
  TempDir dir;
  const std::string path = dir.file("state");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    StateStore s({path});
    bool ok = s.record_finished("done", R"({"status":"succeeded"})") && s.record_started("running");
    const char c = ok ? '1' : '0';
    (void)!::write(ready[1], &c, 1);
    ::pause();  // killed here, before any destructor or flush
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(c, '1');
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  StateStore s({path});
  ASSERT_TRUE(s.find("done"));
  EXPECT_TRUE(s.find("done")->finished);
  EXPECT_EQ(s.find("done")->result, R"({"status":"succeeded"})");
  EXPECT_EQ(s.unfinished_at_open(), (std::vector<StateStore::Unfinished>{{"running", ""}}));
}

// Concurrent writers share write-ahead-log syncs, and every record is there after reopening.
TEST(StateStore, ConcurrentWritersAllDurable) {
  TempDir dir;
  const std::string path = dir.file("state");
  {
    StateStore s({path});
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
    EXPECT_GE(st.syncs, 1u);
    EXPECT_LE(st.syncs, 400u);
    EXPECT_GT(st.bytes, 400u * 20);
  }
  StateStore s({path});
  EXPECT_EQ(s.count(), 400u);
}

// Finished intents older than the retention go; younger ones and unfinished ones stay.
TEST(StateStore, RetentionDeletesOnlyOldFinishedIntents) {
  TempDir dir;
  const std::string path = dir.file("state");
  const auto now = Clock::now();
  {
    StateStore s({path, std::chrono::hours(1)});
    ASSERT_TRUE(s.record_finished("old", "{}", now - 2h));
    ASSERT_TRUE(s.record_finished("young", "{}", now - 30min));
    ASSERT_TRUE(s.record_started("running"));
    EXPECT_EQ(s.expire_finished(now), 1u);
    EXPECT_FALSE(s.find("old"));
    EXPECT_TRUE(s.find("young"));
    EXPECT_TRUE(s.find("running"));
    EXPECT_EQ(s.expire_finished(now), 0u);
    EXPECT_EQ(s.expire_finished(now + 1h), 1u);  // "young" is now older than an hour
    EXPECT_EQ(s.stats().expired, 2u);
    EXPECT_EQ(s.count(), 1u);
  }
  StateStore s({path, std::chrono::hours(1)});
  EXPECT_FALSE(s.find("young"));
  EXPECT_EQ(s.unfinished_at_open(), (std::vector<StateStore::Unfinished>{{"running", ""}}));
}

// The sweeper applies the retention without being asked, by the store's clock.
TEST(StateStore, SweeperThreadAppliesRetention) {
  TempDir dir;
  rules::ManualClock clock;
  StateStore s({dir.file("state"), std::chrono::hours(1), std::chrono::seconds(1), &clock});
  ASSERT_TRUE(s.record_finished("a", "{}"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(s.find("a"));  // a sweep ran; by the clock, "a" is not an hour old yet
  clock.advance(2h);
  EXPECT_TRUE(aiopsd::testing::eventually([&] { return !s.find("a"); }, std::chrono::seconds(10)));
  EXPECT_EQ(s.stats().expired, 1u);
}

// An intent finished twice keeps its newer record for a full retention.
TEST(StateStore, RefinishedIntentKeepsItsNewerRecord) {
  TempDir dir;
  StateStore s({dir.file("state"), std::chrono::hours(1)});
  const auto now = Clock::now();
  ASSERT_TRUE(s.record_finished("a", "old", now - 2h));
  ASSERT_TRUE(s.record_finished("a", "new", now - 10min));
  EXPECT_EQ(s.expire_finished(now), 0u);
  EXPECT_EQ(s.find("a")->result, "new");
  EXPECT_EQ(s.expire_finished(now + 1h), 1u);
  EXPECT_FALSE(s.find("a"));
}

TEST(StateStore, OpenAppliesRetention) {
  TempDir dir;
  const std::string path = dir.file("state");
  rules::ManualClock clock;
  {
    StateStore s({.path = path, .clock = &clock});
    ASSERT_TRUE(s.record_finished("ancient", "{}"));
    ASSERT_TRUE(s.record_finished("recent", "{}", clock.now() + 2 * 24h));
  }
  clock.advance(8 * 24h);
  StateStore s({.path = path, .clock = &clock});  // default retention: 7 days
  EXPECT_FALSE(s.find("ancient"));
  EXPECT_TRUE(s.find("recent"));
}

TEST(StateStore, SecondOpenOfSameDirectoryIsRefusedClearly) {
  TempDir dir;
  StateStore s({dir.file("state")});
  try {
    StateStore second({dir.file("state")});
    FAIL() << "a second store opened the same directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("another process"), std::string::npos) << e.what();
  }
}

TEST(StateStore, PathThatIsAFileIsRefused) {
  TempDir dir;
  std::ofstream(dir.file("intents.journal")) << "{}\n";
  try {
    StateStore s({dir.file("intents.journal")});
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("names a directory"), std::string::npos) << e.what();
  }
}

TEST(StateStore, KeyspaceRecordsSurviveReopenAndStayApartFromIntents) {
  TempDir dir;
  const std::string path = dir.file("state");
  {
    StateStore s({path});
    ASSERT_TRUE(s.put(StateStore::Keyspace::kApprovals, "apr-1", R"({"status":"pending"})"));
    ASSERT_TRUE(s.put(StateStore::Keyspace::kApprovals, "apr-2", "x"));
    ASSERT_TRUE(s.erase(StateStore::Keyspace::kApprovals, "apr-2"));
    ASSERT_TRUE(s.record_started("apr-1"));
  }
  StateStore s({path});
  const auto records = s.records(StateStore::Keyspace::kApprovals);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].first, "apr-1");
  EXPECT_EQ(records[0].second, R"({"status":"pending"})");
  EXPECT_EQ(s.count(), 1u);
}

TEST(StateStore, UnwritableLocationThrows) {
  EXPECT_THROW(StateStore({"/proc/aiopsd-cannot-write/state"}), std::exception);
}

TEST(StateStore, DirectoryIsPrivate) {
  TempDir dir;
  StateStore s({dir.file("state")});
  const auto perms = std::filesystem::status(dir.file("state")).permissions();
  EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
}

}  // namespace
}  // namespace aiopsd::daemon

// One reader for every secret: the same trimming, and errors that say what
// is wrong without the value.
#include "connectors/common/secret_ref.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace aiopsd::secrets {
namespace {

SecretRef env_ref(const std::string& name) { return SecretRef{name, ""}; }
SecretRef file_ref(const std::string& path) { return SecretRef{"", path}; }

class SecretRefTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "aiopsd-secret-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(SecretRefTest, FileAndVariableAreTrimmedTheSameWay) {
  // An API token file with a trailing blank used to work while the same file
  // as a webhook token sent the blank along: one reader now.
  std::string why;
  auto from_file = read_secret(file_ref(write("t", "  s3cret-value \t\r\n")), why);
  ASSERT_TRUE(from_file) << why;
  EXPECT_EQ(*from_file, "s3cret-value");
  ::setenv("AIOPSD_TEST_SECRET_REF", "\ts3cret-value \n", 1);
  auto from_env = read_secret(env_ref("AIOPSD_TEST_SECRET_REF"), why);
  ::unsetenv("AIOPSD_TEST_SECRET_REF");
  ASSERT_TRUE(from_env) << why;
  EXPECT_EQ(*from_env, *from_file);
  // Inner blanks are the secret's own.
  auto inner = read_secret(file_ref(write("u", "pass phrase\n")), why);
  ASSERT_TRUE(inner) << why;
  EXPECT_EQ(*inner, "pass phrase");
}

TEST_F(SecretRefTest, UnsetUnreadableAndEmptyAreRefusedWithoutTheValue) {
  std::string why;
  ::unsetenv("AIOPSD_TEST_SECRET_UNSET");
  EXPECT_FALSE(read_secret(env_ref("AIOPSD_TEST_SECRET_UNSET"), why));
  EXPECT_EQ(why, "environment variable AIOPSD_TEST_SECRET_UNSET is not set");
  const std::string missing = (dir_ / "missing").string();
  EXPECT_FALSE(read_secret(file_ref(missing), why));
  EXPECT_EQ(why, "cannot read " + missing + ": No such file or directory");
  const std::string blank = write("blank", " \n\n");
  EXPECT_FALSE(read_secret(file_ref(blank), why));
  EXPECT_EQ(why, "file " + blank + " is empty");
  EXPECT_FALSE(read_secret({}, why));
  EXPECT_EQ(why, "no env or file given");
}

TEST_F(SecretRefTest, DescribeNamesTheReferenceNeverTheValue) {
  EXPECT_EQ(describe(env_ref("X")), "environment variable X");
  EXPECT_EQ(describe(file_ref("/run/secrets/k")), "file /run/secrets/k");
}

}  // namespace
}  // namespace aiopsd::secrets

#include "cli/io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

namespace kemu::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string("kemu_cli_io_") + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(CliIo, WriteThenReadRoundTrips) {
  std::string path = temp_path("roundtrip");
  write_file(path, std::string("a\0b", 3));
  std::vector<uint8_t> bytes = read_file(path);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{'a', 0, 'b'}));
  write_file(path, "");  // truncates
  EXPECT_TRUE(read_file(path).empty());
  std::filesystem::remove(path);
}

TEST(CliIo, ReadErrorsNameThePath) {
  try {
    read_file("/nonexistent/kemu/x.sys");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), StartsWith("cannot read /nonexistent/kemu/x.sys: "));
  }
  try {
    read_file(std::filesystem::temp_directory_path().string());
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("directory"));
  }
}

TEST(CliIo, WriteErrorsNameThePath) {
  EXPECT_THROW(write_file("/nonexistent/kemu/report.json", "{}"), std::runtime_error);
}

TEST(CliIo, NoColorWhenNotATerminalOrNoColorSet) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(want_color(f));
  std::fclose(f);
}

}  // namespace
}  // namespace kemu::cli

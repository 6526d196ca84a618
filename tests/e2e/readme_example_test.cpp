// The GoogleTest example shown in the README, built and run by `make test`:
// a driver team's unit test of its own driver through kemu::harness::Session.
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "e2e_paths.h"
#include "harness/session.h"

// README example begins
TEST(MethodsDriver, UpperCasesABufferedRequest) {
  kemu::harness::Session session;
  session.load(kemu::e2e::sample("methods"));  // your .sys file
  ASSERT_EQ(session.driver_entry(), 0u);      // STATUS_SUCCESS

  // The client (client.exe, a UserMode thread) opens the device and sends an IOCTL.
  auto device = session.open("\\\\.\\KemuMethods", 0xC0000000 /* GENERIC_READ | GENERIC_WRITE */);
  ASSERT_EQ(device.status, 0u);
  kemu::harness::Session::IoctlRequest request;
  request.handle = device.handle;
  request.code = 0x80002000;  // CTL_CODE(0x8000, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
  request.input = {'k', 'e', 'm', 'u'};
  request.output_length = 4;
  auto reply = session.ioctl(request);
  EXPECT_EQ(reply.status, 0u);
  EXPECT_EQ(reply.information, 4u);
  EXPECT_EQ(std::string(reply.output.begin(), reply.output.end()), "KEMU");

  EXPECT_EQ(session.close(device.handle), 0u);
  session.unload();
  const auto& result = session.result();
  EXPECT_TRUE(result.unload.devices_left.empty());
  EXPECT_TRUE(result.findings.empty());
}
// README example ends

// The README shows exactly the code above (kept in sync by this test).
TEST(ReadmeExample, TheReadmeShowsThisTest) {
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  std::string self = slurp(std::string(KEMU_SOURCE_DIR) + "/tests/e2e/readme_example_test.cpp");
  std::string begin = "// README example begins\n", end = "// README example ends";
  size_t from = self.find(begin), to = self.find(end);
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  std::string body = self.substr(from + begin.size(), to - from - begin.size());
  std::string readme = slurp(std::string(KEMU_SOURCE_DIR) + "/README.md");
  EXPECT_NE(readme.find(body), std::string::npos) << "README.md no longer shows tests/e2e/readme_example_test.cpp";
}

// Processes and threads: EPROCESS/ETHREAD objects laid out at the offsets
// inline driver code reads, the System process (pid 4) and its threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "emulator/types.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::ps {

constexpr uint32_t kSystemPid = 4;

struct ProcessRecord {
  uint32_t pid = 0;
  ob::ObjectId object = ob::kNoObject;
  GuestVa eprocess;
  std::string image_name;
};

struct ThreadRecord {
  uint32_t tid = 0;
  uint32_t pid = 0;
  ob::ObjectId object = ob::kNoObject;
  GuestVa ethread;
};

class ProcessManager {
 public:
  explicit ProcessManager(Kernel& kernel);

  // Creates the System process and the system thread drivers are loaded on.
  void initialize();

  const ProcessRecord& system_process() const { return processes_.at(kSystemPid); }
  uint32_t loader_thread() const { return loader_thread_; }
  const ProcessRecord* process(uint32_t pid) const;
  const ProcessRecord* process_by_eprocess(GuestVa eprocess) const;
  const ThreadRecord* thread(uint32_t tid) const;
  const ThreadRecord* thread_by_ethread(GuestVa ethread) const;

  // A new system thread in `pid` (ETHREAD object plus a machine thread).
  const ThreadRecord& create_system_thread(uint32_t pid);
  // A user process (its own pid and handle table) and a thread of it whose
  // PreviousMode is UserMode: requests it makes enter the kernel as system calls.
  const ProcessRecord& create_user_process(const std::string& image_name);
  const ThreadRecord& create_user_thread(uint32_t pid);

 private:
  ProcessRecord& create_process(uint32_t pid, const std::string& image_name, uint64_t directory_table_base);

  Kernel& kernel_;
  std::map<uint32_t, ProcessRecord> processes_;
  std::map<uint32_t, ThreadRecord> threads_;
  const ThreadRecord& create_thread(uint32_t pid, bool system);
  uint32_t next_tid_ = 0x40;
  uint32_t next_pid_ = 0x1234;
  uint32_t loader_thread_ = 0;
};

}  // namespace kemu::nt::ps

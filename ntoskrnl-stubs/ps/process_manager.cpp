#include "ntoskrnl-stubs/ps/process_manager.h"

#include <cstring>

#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt::ps {

namespace kt = emu::kthread;
namespace ep = emu::eprocess;

ProcessManager::ProcessManager(Kernel& kernel) : kernel_(kernel) {}

void ProcessManager::initialize() {
  // The System process's page directory base on a typical x64 boot.
  create_process(kSystemPid, "System", 0x1AD000);
  loader_thread_ = create_system_thread(kSystemPid).tid;
}

ProcessRecord& ProcessManager::create_process(uint32_t pid, const std::string& image_name,
                                              uint64_t directory_table_base) {
  auto& mem = kernel_.memory();
  ob::ObjectId id = kernel_.ob().create(ob::TypeIndex::Process, ep::kSize);
  GuestVa e = kernel_.ob().get(id)->body;
  layout::DISPATCHER_HEADER header{};
  header.Type = ep::kDispatcherType;
  header.Size = static_cast<uint8_t>(0xB0 / 4);
  header.WaitListHead = {(e + 8).value, (e + 8).value};
  mem.write(e, header);
  mem.write<uint64_t>(e + ep::kDirectoryTableBase, directory_table_base);
  mem.write<uint64_t>(e + ep::kUniqueProcessId, pid);
  GuestVa links = e + ep::kActiveProcessLinks;
  mem.write<layout::LIST_ENTRY>(links, {links.value, links.value});
  char name[15] = {};
  std::memcpy(name, image_name.c_str(), std::min<size_t>(image_name.size(), 14));
  mem.write(e + ep::kImageFileName, name, sizeof(name));
  ProcessRecord& r = processes_[pid];
  r = ProcessRecord{pid, id, e, image_name};
  return r;
}

const ProcessRecord& ProcessManager::create_user_process(const std::string& image_name) {
  uint32_t pid = next_pid_;
  next_pid_ += 4;  // process ids are multiples of 4
  ProcessRecord& p = create_process(pid, image_name, 0x100000ull + static_cast<uint64_t>(pid) * 0x1000);
  // Created by kemu from the System process (there is no explorer.exe).
  p.parent_pid = kSystemPid;
  notify_image(p);
  notify_process(p, true);
  return p;
}

const ThreadRecord& ProcessManager::create_user_thread(uint32_t pid) {
  const ThreadRecord& t = create_thread(pid, false);
  notify_thread(t, true);
  return t;
}

const ThreadRecord& ProcessManager::create_system_thread(uint32_t pid) {
  const ThreadRecord& t = create_thread(pid, true);
  notify_thread(t, true);
  return t;
}

const ThreadRecord& ProcessManager::create_thread(uint32_t pid, bool system) {
  auto& mem = kernel_.memory();
  const ProcessRecord& p = processes_.at(pid);
  ob::ObjectId id = kernel_.ob().create(ob::TypeIndex::Thread, kt::kSize);
  GuestVa t = kernel_.ob().get(id)->body;
  uint32_t tid = next_tid_;
  next_tid_ += 4;  // thread and process ids are multiples of 4
  layout::DISPATCHER_HEADER header{};
  header.Type = kt::kDispatcherType;
  header.Size = static_cast<uint8_t>(0x430 / 4);
  header.WaitListHead = {(t + 8).value, (t + 8).value};
  mem.write(t, header);
  mem.write<uint64_t>(t + kt::kApcStateProcess, p.eprocess.value);
  mem.write<uint64_t>(t + kt::kProcess, p.eprocess.value);
  mem.write<uint8_t>(t + kt::kPreviousMode,
                     static_cast<uint8_t>(system ? ProcessorMode::KernelMode : ProcessorMode::UserMode));
  mem.write<int8_t>(t + kt::kPriority, 8);  // system threads start at priority 8
  mem.write<uint64_t>(t + kt::kCidUniqueProcess, pid);
  mem.write<uint64_t>(t + kt::kCidUniqueThread, tid);
  emu::Thread& mt = kernel_.machine().create_thread(tid, pid, t, p.eprocess, system);
  // A user thread is in the kernel only inside a system call.
  if (!system) mt.context = emu::ExecutionContext::SystemService;
  ThreadRecord& r = threads_[tid];
  r = ThreadRecord{tid, pid, id, t};
  return r;
}

const ProcessRecord* ProcessManager::process(uint32_t pid) const {
  auto it = processes_.find(pid);
  return it == processes_.end() ? nullptr : &it->second;
}

const ProcessRecord* ProcessManager::process_by_eprocess(GuestVa eprocess) const {
  for (auto& [pid, r] : processes_)
    if (r.eprocess == eprocess) return &r;
  return nullptr;
}

const ThreadRecord* ProcessManager::thread(uint32_t tid) const {
  auto it = threads_.find(tid);
  return it == threads_.end() ? nullptr : &it->second;
}

const ThreadRecord* ProcessManager::thread_by_ethread(GuestVa ethread) const {
  for (auto& [tid, r] : threads_)
    if (r.ethread == ethread) return &r;
  return nullptr;
}

}  // namespace kemu::nt::ps

#include "ntoskrnl-stubs/ps/process_manager.h"

#include <cstring>

#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/layout/se_structs.h"
#include "ntoskrnl-stubs/ps/process_security.h"

namespace kemu::nt::ps {

namespace kt = emu::kthread;
namespace ep = emu::eprocess;

ProcessManager::ProcessManager(Kernel& kernel) : kernel_(kernel) {}

void ProcessManager::initialize() {
  // The System process's page directory base on a typical x64 boot.
  ProcessRecord& system = create_process(kSystemPid, "System", 0x1AD000);
  // The System process is a protected process (signer WinSystem, type
  // Protected) since Vista and still on Windows 10 22H2 (Ionescu, "The
  // Evolution of Protected Processes" part 2, CrowdStrike; Yosifovich,
  // "Protected Processes & PPL", trainsec.net: "7 – WinSystem: System, ...").
  system.protection = kSystemProtection;
  kernel_.memory().write<uint8_t>(system.eprocess + ep::kProtection, system.protection);
  set_process_token(kSystemPid, se::TokenKind::System);
  loader_thread_ = create_system_thread(kSystemPid).tid;
  install_open_procedures(kernel_);
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
  // A user process runs as a standard user unless given another token.
  set_process_token(pid, se::TokenKind::User);
  // Created by kemu from the System process (there is no explorer.exe).
  p.parent_pid = kSystemPid;
  notify_image(p);
  notify_process(p, true);
  return p;
}

ob::ObjectId ProcessManager::create_token(se::TokenKind kind) {
  se::Token token = se::make_token(kind);
  token.token_id = next_token_id_++;
  ob::ObjectId id = kernel_.ob().create(ob::TypeIndex::Token, se::token_body_size(token));
  se::write_token_body(kernel_.memory(), kernel_.ob().get(id)->body, token);
  tokens_[id] = std::move(token);
  return id;
}

void ProcessManager::set_process_token(uint32_t pid, se::TokenKind kind) {
  ProcessRecord& p = processes_.at(pid);
  ob::ObjectId old = p.token;
  // The process holds the creation reference of its token.
  p.token = create_token(kind);
  // EPROCESS.Token is an EX_FAST_REF: the pointer with a reference count in
  // its low 4 bits (0: no cached references).
  kernel_.memory().write<uint64_t>(p.eprocess + ep::kToken, kernel_.ob().get(p.token)->body.value);
  if (old != ob::kNoObject && kernel_.ob().get(old)) kernel_.ob().dereference(old);
  // The process is as if created with this token (CreateProcessAsUser: "the
  // default security descriptor is that of the user referenced in hToken"),
  // and so are its threads.
  const se::Token& token = tokens_.at(p.token);
  secure_object(p.object, ob::TypeIndex::Process, token);
  for (auto& [tid, t] : threads_)
    if (t.pid == pid) secure_object(t.object, ob::TypeIndex::Thread, token);
}

void ProcessManager::secure_object(ob::ObjectId object, ob::TypeIndex type, const se::Token& creator) {
  // SeAssignSecurity with no parent and no descriptor from the creator: the
  // creator token's default owner, primary group and default DACL
  // (se::default_dacl), ACE masks mapped through the type's GENERIC_MAPPING.
  kernel_.ob().set_security(object, se::default_object_descriptor(creator, ob::descriptor(type).mapping));
}

const se::Token* ProcessManager::process_token(uint32_t pid) const {
  const ProcessRecord* p = process(pid);
  if (!p) return nullptr;
  auto it = tokens_.find(p->token);
  return it == tokens_.end() ? nullptr : &it->second;
}

GuestVa ProcessManager::primary_token(uint32_t pid) const {
  const ProcessRecord* p = process(pid);
  if (!p || p->token == ob::kNoObject) return GuestVa{};
  const ob::ObjectRecord* r = kernel_.ob().get(p->token);
  return r ? r->body : GuestVa{};
}

const se::Token* ProcessManager::token_by_body(GuestVa body) const {
  const ob::ObjectRecord* r = kernel_.ob().by_body(body);
  if (!r || r->type != ob::TypeIndex::Token) return nullptr;
  auto it = tokens_.find(r->id);
  return it == tokens_.end() ? nullptr : &it->second;
}

se::Subject ProcessManager::subject_of(GuestVa token_body) const {
  const se::Token* t = token_by_body(token_body);
  if (!t) return {};
  uint64_t enabled = kernel_.memory().read<uint64_t>(token_body + offsetof(layout::TOKEN_HEAD, PrivilegesEnabled));
  return se::subject_of(*t, enabled);
}

se::Subject ProcessManager::current_subject() const {
  return subject_of(primary_token(kernel_.ob().current_pid()));
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
  // A new thread is protected by its process's token's defaults (the
  // creator's token: kemu's threads are created by or for their own process).
  if (const se::Token* token = process_token(pid)) secure_object(id, ob::TypeIndex::Thread, *token);
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

NtStatus reference_process(Kernel& k, uint64_t handle, uint32_t access, ProcessorMode mode,
                           const ProcessRecord** out) {
  *out = nullptr;
  ob::ObjectId id = ob::kNoObject;
  NtStatus st = k.ob().reference_by_handle(handle, access, ob::TypeIndex::Process, mode, &id, nullptr);
  if (!nt_success(st)) return st;
  *out = k.ps().process_by_eprocess(k.ob().get(id)->body);
  k.ob().dereference(id);
  return *out ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
}

}  // namespace kemu::nt::ps

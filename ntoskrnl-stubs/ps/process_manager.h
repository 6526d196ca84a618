// Processes and threads: EPROCESS/ETHREAD objects laid out at the offsets
// inline driver code reads, the System process (pid 4) and its threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/se/token.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::ps {

constexpr uint32_t kSystemPid = 4;
// PS_PROTECTION.Level of the System process: signer WinSystem (7) << 4 | type Protected (2).
constexpr uint8_t kSystemProtection = 0x72;

struct ProcessRecord {
  uint32_t pid = 0;
  ob::ObjectId object = ob::kNoObject;
  GuestVa eprocess;
  std::string image_name;
  ob::ObjectId token = ob::kNoObject;  // the primary token (EPROCESS.Token)
  uint32_t parent_pid = 0;
  bool terminated = false;
  NtStatus exit_status = STATUS_PENDING;  // STILL_ACTIVE until the process ends
  uint8_t protection = 0;                 // PS_PROTECTION.Level (EPROCESS.Protection); 0: not protected
};

struct ThreadRecord {
  uint32_t tid = 0;
  uint32_t pid = 0;
  ob::ObjectId object = ob::kNoObject;
  GuestVa ethread;
};

// ObReferenceObjectByHandle(ProcessHandle, access, *PsProcessType, mode) as the
// process services do it: the process a handle names (NtCurrentProcess() is
// the current — attached — process), the reference dropped again.
NtStatus reference_process(Kernel& k, uint64_t handle, uint32_t access, ProcessorMode mode,
                           const ProcessRecord** out);

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

  // --- lifetime and notifications (ps/process_notify.cpp) ------------------------
  // ZwTerminateProcess: the process ends with `status`: its handles are
  // closed (files see IRP_MJ_CLEANUP/CLOSE), its object is signalled, the
  // process-notify routines run. False if it had already ended.
  bool terminate_process(uint32_t pid, NtStatus status);
  std::vector<uint32_t> process_ids() const;
  std::vector<uint32_t> thread_ids() const;
  // Routines registered by PsSetCreateProcessNotifyRoutine(Ex),
  // PsSetCreateThreadNotifyRoutine and PsSetLoadImageNotifyRoutine.
  struct NotifyRoutines {
    std::vector<GuestVa> process;     // (ParentId, ProcessId, Create)
    std::vector<GuestVa> process_ex;  // (Process, ProcessId, CreateInfo or NULL)
    std::vector<GuestVa> thread;      // (ProcessId, ThreadId, Create)
    std::vector<GuestVa> image;       // (FullImageName, ProcessId, ImageInfo)
  };
  NotifyRoutines& notify_routines() { return notify_; }

  // --- tokens ---------------------------------------------------------------
  // Gives `pid` a new primary token of the kind (a TOKEN object whose body
  // mirrors it, pointed at by EPROCESS.Token); the old token loses the
  // process's reference. The System process has a System token, a user
  // process a `user` token until this is called. The process and its
  // threads get the descriptors that token gives new objects (as
  // CreateProcessAsUser with it would: ps/process_security.cpp).
  void set_process_token(uint32_t pid, se::TokenKind kind);
  // The primary token's TOKEN body (what PsReferencePrimaryToken returns).
  GuestVa primary_token(uint32_t pid) const;
  // The host record of a TOKEN object, by its body (null if not a token).
  const se::Token* token_by_body(GuestVa body) const;
  // The access-check view of a token: its SIDs and the privileges enabled in
  // its body (TOKEN.Privileges.Enabled).
  se::Subject subject_of(GuestVa token_body) const;
  // The subject of the current thread's process (no impersonation in kemu).
  se::Subject current_subject() const;
  // The host record of a process's primary token (null: none yet).
  const se::Token* process_token(uint32_t pid) const;

 private:
  ProcessRecord& create_process(uint32_t pid, const std::string& image_name, uint64_t directory_table_base);
  ob::ObjectId create_token(se::TokenKind kind);
  // Gives a process or thread object the descriptor `creator` gives new objects.
  void secure_object(ob::ObjectId object, ob::TypeIndex type, const se::Token& creator);

  Kernel& kernel_;
  std::map<uint32_t, ProcessRecord> processes_;
  std::map<uint32_t, ThreadRecord> threads_;
  const ThreadRecord& create_thread(uint32_t pid, bool system);
  uint32_t next_tid_ = 0x40;
  uint32_t next_pid_ = 0x1234;
  uint32_t loader_thread_ = 0;
  NotifyRoutines notify_;
  void notify_process(const ProcessRecord& p, bool create);
  void notify_thread(const ThreadRecord& t, bool create);
  void notify_image(const ProcessRecord& p);
  std::map<ob::ObjectId, se::Token> tokens_;
  uint64_t next_token_id_ = 0x3E8;  // token LUIDs after the well-known ones
};

}  // namespace kemu::nt::ps

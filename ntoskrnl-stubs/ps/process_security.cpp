// NtOpenProcess / NtOpenThread's access decisions (process_security.h), in
// the order Windows 10 makes them. Sources: PsOpenProcess, PspProcessOpen and
// PspThreadOpen as decompiled from Windows 10/11 ntoskrnl builds (public
// pseudocode, e.g. nohuto/decompiled-pseudocode); the RtlProtectedAccess
// table as publicly reconstructed (Ionescu, "The Evolution of Protected
// Processes"); "Process Security and Access Rights" (learn.microsoft.com:
// "A handle that has the PROCESS_QUERY_INFORMATION access right is
// automatically granted PROCESS_QUERY_LIMITED_INFORMATION").
#include "ntoskrnl-stubs/ps/process_security.h"

#include <fmt/format.h>

#include <iterator>
#include <span>
#include <vector>

#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/se/access_check.h"

namespace kemu::nt::ps {

namespace {

// RtlProtectedAccess[signer]: which signers a signer dominates, and the
// rights a less protected caller is refused to a process / thread of it.
struct ProtectedAccess {
  uint32_t dominate_mask, denied_process, denied_thread;
};
constexpr ProtectedAccess kProtectedAccess[] = {
    {0, 0, 0},                  // PsProtectedSignerNone
    {0x002, 0xFC7FE, 0xFE3FD},  // Authenticode
    {0x004, 0xFC7FE, 0xFE3FD},  // CodeGen
    {0x108, 0xFC7FF, 0xFE3FF},  // Antimalware
    {0x110, 0xFC7FF, 0xFE3FF},  // Lsa
    {0x13E, 0xFC7FE, 0xFE3FD},  // Windows
    {0x17E, 0xFC7FF, 0xFE3FF},  // WinTcb
    {0x1FE, 0xFC7FF, 0xFF7FF},  // WinSystem
    {0x000, 0xFC6FE, 0xFE3FD},  // App
};
const ProtectedAccess& protected_access(uint8_t level) {
  size_t signer = level >> 4;
  return signer < std::size(kProtectedAccess) ? kProtectedAccess[signer] : kProtectedAccess[0];
}
constexpr uint8_t protection_type(uint8_t level) {
  return level & 7;
}

const char* signer_name(uint8_t level) {
  static const char* const kNames[] = {"None",    "Authenticode", "CodeGen",   "Antimalware", "Lsa",
                                       "Windows", "WinTcb",       "WinSystem", "App"};
  size_t signer = level >> 4;
  return signer < std::size(kNames) ? kNames[signer] : "unknown";
}

// --- --explain wording --------------------------------------------------------------
struct RightName {
  uint32_t bit;
  const char* name;
};
constexpr RightName kProcessRights[] = {{0x1, "PROCESS_TERMINATE"},
                                        {0x2, "PROCESS_CREATE_THREAD"},
                                        {0x4, "PROCESS_SET_SESSIONID"},
                                        {0x8, "PROCESS_VM_OPERATION"},
                                        {0x10, "PROCESS_VM_READ"},
                                        {0x20, "PROCESS_VM_WRITE"},
                                        {0x40, "PROCESS_DUP_HANDLE"},
                                        {0x80, "PROCESS_CREATE_PROCESS"},
                                        {0x100, "PROCESS_SET_QUOTA"},
                                        {0x200, "PROCESS_SET_INFORMATION"},
                                        {0x400, "PROCESS_QUERY_INFORMATION"},
                                        {0x800, "PROCESS_SUSPEND_RESUME"},
                                        {0x1000, "PROCESS_QUERY_LIMITED_INFORMATION"},
                                        {0x2000, "PROCESS_SET_LIMITED_INFORMATION"}};
constexpr RightName kThreadRights[] = {{0x1, "THREAD_TERMINATE"},
                                       {0x2, "THREAD_SUSPEND_RESUME"},
                                       {0x4, "THREAD_ALERT"},
                                       {0x8, "THREAD_GET_CONTEXT"},
                                       {0x10, "THREAD_SET_CONTEXT"},
                                       {0x20, "THREAD_SET_INFORMATION"},
                                       {0x40, "THREAD_QUERY_INFORMATION"},
                                       {0x80, "THREAD_SET_THREAD_TOKEN"},
                                       {0x100, "THREAD_IMPERSONATE"},
                                       {0x200, "THREAD_DIRECT_IMPERSONATION"},
                                       {0x400, "THREAD_SET_LIMITED_INFORMATION"},
                                       {0x800, "THREAD_QUERY_LIMITED_INFORMATION"},
                                       {0x1000, "THREAD_RESUME"}};
constexpr RightName kStandardRights[] = {
    {0x10000, "DELETE"},      {0x20000, "READ_CONTROL"}, {0x40000, "WRITE_DAC"},
    {0x80000, "WRITE_OWNER"}, {0x100000, "SYNCHRONIZE"}, {0x1000000, "ACCESS_SYSTEM_SECURITY"}};

// "PROCESS_VM_WRITE (0x20)"; more than three rights: just the mask.
std::string rights_words(uint32_t mask, ob::TypeIndex type) {
  std::vector<std::string> names;
  auto add = [&](const auto& table) {
    for (const RightName& r : table)
      if (mask & r.bit) names.push_back(r.name);
  };
  add(type == ob::TypeIndex::Process ? std::span<const RightName>(kProcessRights)
                                     : std::span<const RightName>(kThreadRights));
  add(std::span<const RightName>(kStandardRights));
  if (names.empty() || names.size() > 3) return fmt::format("{:#x}", mask);
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? " | " : "") + names[i];
  return fmt::format("{} ({:#x})", out, mask);
}

std::string sid_words(const se::Sid& sid, const se::Token* caller) {
  if (sid == se::sids::local_system()) return "SYSTEM";
  if (sid == se::sids::admins()) return "Administrators";
  if (sid == se::sids::world()) return "Everyone";
  if (caller && sid == caller->user) return "the user " + sid.to_string();
  if (sid.authority == 5 && !sid.sub_authorities.empty() && sid.sub_authorities[0] == 5)
    return "the logon session " + sid.to_string();
  return sid.to_string();
}

std::string object_words(Kernel& k, const ob::ObjectRecord& r) {
  if (r.type == ob::TypeIndex::Process) {
    const ProcessRecord* p = k.ps().process_by_eprocess(r.body);
    return p ? fmt::format("process {} (pid {:#x})", p->image_name, p->pid)
             : std::string("a process");
  }
  const ThreadRecord* t = k.ps().thread_by_ethread(r.body);
  const ProcessRecord* p = t ? k.ps().process(t->pid) : nullptr;
  return t && p
             ? fmt::format("thread {:#x} of process {} (pid {:#x})", t->tid, p->image_name, p->pid)
             : std::string("a thread");
}

std::string caller_words(Kernel& k) {
  uint32_t pid = k.ob().current_pid();
  const ProcessRecord* p = k.ps().process(pid);
  const se::Token* token = k.ps().process_token(pid);
  return fmt::format("{} ({}, pid {:#x}, {} token)", k.caller_description(),
                     p ? p->image_name : "?", pid, token ? se::to_string(token->kind) : "no");
}

// Why the DACL granted or refused: the allow ACEs that apply to the caller.
std::string dacl_words(Kernel& k, const ob::ObjectRecord& r, const se::Subject& subject,
                       uint32_t asked, const se::AccessCheckResult& result, ob::TypeIndex type) {
  const std::string object = object_words(k, r);
  if (!r.security) return object + " has no security descriptor, so the check refuses";
  const se::SecurityDescriptor& sd = *r.security;
  if (!sd.dacl_present() || !sd.dacl)
    return "the DACL of " + object + " is NULL, which grants everything asked";
  const se::Token* token = k.ps().process_token(k.ob().current_pid());
  std::vector<std::string> mine, all;
  uint32_t mine_mask = 0;
  for (const se::AceView& ace : se::parse_aces(*sd.dacl)) {
    if (ace.type != se::kAccessAllowedAce || !ace.sid || (ace.flags & se::kInheritOnlyAce))
      continue;
    std::string entry = fmt::format("{} {:#x}", sid_words(*ace.sid, token), ace.mask);
    all.push_back(entry);
    if (subject.has_enabled_sid(*ace.sid)) {
      mine.push_back(entry);
      mine_mask |= ace.mask;
    }
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i)
      out += (i == 0 ? "" : i + 1 == v.size() ? " and " : ", ") + v[i];
    return out.empty() ? std::string("nothing") : out;
  };
  std::string dacl = "the DACL of " + object;
  if (result.granted)
    return fmt::format("{} grants this caller's token {}, which covers what was asked", dacl,
                       join(mine));
  if (mine.empty())
    return fmt::format("{} grants {}, none of them a SID of this caller's token", dacl, join(all));
  uint32_t missing = asked & ~mine_mask & ~se::kMaximumAllowed;
  if (missing == 0)
    return fmt::format(
        "{} grants this caller's token {}, but an access-denied ACE refuses the rest", dacl,
        join(mine));
  return fmt::format("{} grants this caller's token {} only; {} is denied", dacl, join(mine),
                     rights_words(missing, type));
}

}  // namespace

bool protected_access_allowed(uint8_t caller, uint8_t target) {
  // An unprotected target, or a caller of at least its type whose signer dominates the target's.
  if (protection_type(target) == 0) return true;
  if (protection_type(caller) < protection_type(target)) return false;
  return (protected_access(caller).dominate_mask >> (target >> 4)) & 1;
}

NtStatus open_procedure(Kernel& k, ob::ObjectId object, ProcessorMode mode, uint32_t* granted,
                        std::string* why) {
  const ob::ObjectRecord* r = k.ob().get(object);
  bool thread = r->type == ob::TypeIndex::Thread;
  const ProcessRecord* target = nullptr;
  if (thread) {
    const ThreadRecord* t = k.ps().thread_by_ethread(r->body);
    target = t ? k.ps().process(t->pid) : nullptr;
  } else {
    target = k.ps().process_by_eprocess(r->body);
  }
  const ProcessRecord* caller = k.ps().process(k.ob().current_pid());
  if (mode == ProcessorMode::UserMode && target && caller && target != caller) {
    const ProtectedAccess& rules = protected_access(target->protection);
    uint32_t denied = thread ? rules.denied_thread : rules.denied_process;
    // PspIsParentProcess: the parent may still terminate its protected child.
    if (target->parent_pid == caller->pid) denied &= ~1u;
    uint32_t refused = *granted & denied;
    if (refused && !protected_access_allowed(caller->protection, target->protection)) {
      if (why)
        *why = fmt::format(
            "process {} is protected (signer {}, PS_PROTECTION {:#x}) and the caller's process is "
            "not "
            "protected above it, so {} is refused",
            target->image_name, signer_name(target->protection), target->protection,
            rights_words(refused, r->type));
      return STATUS_ACCESS_DENIED;
    }
  }
  // The limited rights the granted ones imply.
  uint32_t before = *granted;
  if (thread) {
    if (*granted & kThreadQueryInformation) *granted |= kThreadQueryLimitedInformation;
    if (*granted & kThreadSetInformation) *granted |= kThreadSetLimitedInformation;
    if (*granted & kThreadSuspendResume) *granted |= kThreadResume;
  } else {
    if ((*granted & kProcessQueryInformation) ||
        (*granted & (kProcessVmOperation | kProcessVmWrite)) ==
            (kProcessVmOperation | kProcessVmWrite))
      *granted |= kProcessQueryLimitedInformation;
    if (*granted & kProcessSetInformation) *granted |= kProcessSetLimitedInformation;
  }
  if (why && *granted != before)
    *why = fmt::format("the {} open procedure adds {}, which the rights granted imply",
                       thread ? "thread" : "process", rights_words(*granted & ~before, r->type));
  return STATUS_SUCCESS;
}

NtStatus open_process_object(Kernel& k, ob::ObjectId object, uint32_t desired, uint32_t attributes,
                             ProcessorMode previous_mode, uint64_t* handle) {
  *handle = 0;
  auto& ob = k.ob();
  const ob::ObjectRecord& r = *ob.get(object);
  const ob::TypeDescriptor& type = ob::descriptor(r.type);
  const bool explain = k.explainer().enabled();
  // The attributes PsOpenProcess keeps (OBJ_KERNEL_HANDLE only from KernelMode).
  attributes &= previous_mode == ProcessorMode::UserMode ? 0x1DF2u : 0x11FF2u;
  const bool force = (attributes & ob::kObjForceAccessCheck) != 0;
  const ProcessorMode check_mode = force ? ProcessorMode::UserMode : previous_mode;
  // 1. generic rights mapped (SeCreateAccessState)
  const uint32_t asked = ob::map_generic(desired, type.mapping);
  const uint32_t all = r.type == ob::TypeIndex::Process ? kProcessAllAccess : kThreadAllAccess;
  const se::Subject subject = k.ps().current_subject();
  std::vector<std::string> reasons;
  uint32_t granted = 0;
  NtStatus status = STATUS_SUCCESS;
  // 2. SePrivilegeCheck(SeDebugPrivilege, PreviousMode): KernelMode always holds it.
  if (previous_mode == ProcessorMode::KernelMode ||
      subject.privilege_enabled(se::kSeDebugPrivilege)) {
    granted = (asked & ob::kMaximumAllowed) ? all : asked;
    if (explain)
      reasons.push_back(
          previous_mode == ProcessorMode::KernelMode
              ? std::string(
                    "PreviousMode is KernelMode, so the SeDebugPrivilege test passes and every "
                    "right asked is granted without the DACL") +
                    (force ? " (OBJ_FORCE_ACCESS_CHECK changes only the protected-process test)"
                           : "")
              : std::string(
                    "SeDebugPrivilege is enabled in the caller's token, so every right asked "
                    "is granted without the DACL"));
  } else {
    // 3. the access check against the object's descriptor
    const auto& sd = ob.security(object);
    se::AccessCheckResult result = se::access_check(sd ? &*sd : nullptr, subject, asked, 0,
                                                    type.mapping, ProcessorMode::UserMode);
    status = result.status;
    granted = result.access;
    if (explain) reasons.push_back(dacl_words(k, r, subject, asked, result, r.type));
  }
  // 4. the type's open procedure
  if (nt_success(status)) {
    std::string why;
    status = open_procedure(k, object, check_mode, &granted, explain ? &why : nullptr);
    if (!why.empty()) reasons.push_back(why);
  }
  if (explain) {
    std::string because;
    for (size_t i = 0; i < reasons.size(); ++i) because += (i ? "; " : "") + reasons[i];
    k.explainer().say(fmt::format(
        "{}: open of {}, PreviousMode {}{}, asked {:#x}: {} → {}.", caller_words(k),
        object_words(k, r), previous_mode == ProcessorMode::UserMode ? "UserMode" : "KernelMode",
        force ? " with OBJ_FORCE_ACCESS_CHECK" : "", desired, because,
        nt_success(status) ? fmt::format("granted {:#x}", granted)
                           : std::string(status_name(status))));
  }
  if (!nt_success(status)) return status;
  // 5. the handle, with the rights granted
  *handle = ob.create_handle(object, granted, attributes);
  return STATUS_SUCCESS;
}

void install_open_procedures(Kernel& kernel) {
  for (ob::TypeIndex type : {ob::TypeIndex::Process, ob::TypeIndex::Thread})
    kernel.ob().set_open_procedure(
        type, [&kernel](ob::ObjectId object, ProcessorMode mode, uint32_t* granted) {
          return open_procedure(kernel, object, mode, granted);
        });
}

}  // namespace kemu::nt::ps

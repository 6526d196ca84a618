// Process and thread security: the descriptors Windows 10 22H2 gives the
// System process, its threads and a user's process (from each token's
// default DACL), the System process's protection, and NtOpenProcess /
// NtOpenThread's decisions (SeDebugPrivilege, the DACL, protected processes,
// implied limited rights) with the exact masks a handle gets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "emulator/machine.h"
#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/ob_structs.h"
#include "ntoskrnl-stubs/layout/se_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/ps/process_security.h"
#include "ntoskrnl-stubs/se/acl.h"

namespace kemu::nt {

NtStatus NtOpenProcess(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa,
                       GuestVa client_id);
NtStatus NtOpenThread(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa,
                      GuestVa client_id);
NtStatus ObOpenObjectByPointer(Kernel& k, GuestVa object, uint32_t attributes,
                               GuestVa passed_access_state, uint32_t desired, GuestVa type,
                               uint8_t access_mode, GuestVa handle_out);
uint8_t PsIsProtectedProcess(Kernel& k, GuestVa process);

namespace {

constexpr NtStatus kDenied = STATUS_ACCESS_DENIED;
constexpr uint32_t kMaximumAllowed = 0x02000000, kGenericRead = 0x80000000, kSynchronize = 0x100000;
constexpr uint32_t kForceAccessCheck = 0x400, kKernelHandle = 0x200;

struct Ace {
  se::Sid sid;
  uint32_t mask;
  bool operator==(const Ace&) const = default;
};

class ProcessSecurity : public ::testing::Test {
 protected:
  static constexpr GuestVa kUserData{0x3000'0000ull};

  ProcessSecurity() : kernel_(machine_) {
    loader_thread_ = machine_.current_thread().id;
    const ps::ProcessRecord& client = kernel_.ps().create_user_process("client.exe");
    client_pid_ = client.pid;
    client_thread_ = kernel_.ps().create_user_thread(client_pid_).tid;
    machine_.memory().map(kUserData, 0x1000, Prot::ReadWrite, emu::RegionKind::UserMemory,
                          "client data", client_pid_);
  }

  const ps::ProcessRecord& system() { return kernel_.ps().system_process(); }
  const ps::ProcessRecord& client() { return *kernel_.ps().process(client_pid_); }
  ob::ObjectId loader_thread_object() { return kernel_.ps().thread(loader_thread_)->object; }
  ob::ObjectId client_thread_object() { return kernel_.ps().thread(client_thread_)->object; }
  void as_client() { machine_.switch_to(client_thread_); }

  std::vector<Ace> dacl(ob::ObjectId object) {
    const auto& sd = kernel_.ob().security(object);
    std::vector<Ace> out;
    if (!sd || !sd->dacl) return out;
    for (const se::AceView& a : se::parse_aces(*sd->dacl)) {
      EXPECT_EQ(a.type, se::kAccessAllowedAce);
      out.push_back({*a.sid, a.mask});
    }
    return out;
  }
  // The open as the client would make it; the handle's granted access, or the status.
  struct Opened {
    NtStatus status;
    uint32_t granted;
  };
  Opened open(ob::ObjectId object, uint32_t desired, ProcessorMode mode = ProcessorMode::UserMode,
              uint32_t attributes = 0) {
    uint64_t handle = 0;
    NtStatus st = ps::open_process_object(kernel_, object, desired, attributes, mode, &handle);
    if (!nt_success(st)) {
      EXPECT_EQ(handle, 0u);
      return {st, 0};
    }
    ob::ObjectId id = ob::kNoObject;
    ob::HandleInfo info;
    EXPECT_EQ(kernel_.ob().reference_by_handle(handle, 0, std::nullopt, ProcessorMode::KernelMode,
                                               &id, &info),
              STATUS_SUCCESS);
    kernel_.ob().dereference(id);
    kernel_.ob().close_handle(handle, ProcessorMode::KernelMode);
    return {st, info.granted_access};
  }
  void enable_debug_privilege() {
    GuestVa body = kernel_.ps().primary_token(client_pid_);
    GuestVa enabled = body + offsetof(layout::TOKEN_HEAD, PrivilegesEnabled);
    machine_.memory().write<uint64_t>(enabled,
                                      machine_.memory().read<uint64_t>(enabled) | (1ull << 20));
  }
  se::Sid logon(uint32_t low) { return se::Sid::make(5, {5, 0, low}); }
  se::Sid account(uint32_t rid) {
    return se::Sid::make(5, {21, 2052111302u, 1214440339u, 682003330u, rid});
  }

  emu::Machine machine_;
  Kernel kernel_;
  uint32_t client_pid_ = 0, client_thread_ = 0, loader_thread_ = 0;
};

TEST_F(ProcessSecurity, TheSystemProcessAndItsThreadsCarryTheSystemTokensDefaultDacl) {
  // SeSystemDefaultDacl: SYSTEM GENERIC_ALL, Administrators GENERIC_READ | GENERIC_EXECUTE |
  // READ_CONTROL, mapped through the Process (0x20410 | 0x121001) and Thread (0x20048 | 0x121800)
  // mappings.
  EXPECT_EQ(dacl(system().object), (std::vector<Ace>{{se::sids::local_system(), 0x1FFFFF},
                                                     {se::sids::admins(), 0x121411}}));
  EXPECT_EQ(dacl(loader_thread_object()), (std::vector<Ace>{{se::sids::local_system(), 0x1FFFFF},
                                                            {se::sids::admins(), 0x121848}}));
  const auto& sd = kernel_.ob().security(system().object);
  ASSERT_TRUE(sd.has_value());
  EXPECT_EQ(sd->owner, se::sids::admins());
  EXPECT_EQ(sd->group, se::sids::local_system());
  EXPECT_EQ(sd->control, se::kSeDaclPresent);
  // The guest copy behind OBJECT_HEADER.SecurityDescriptor exists too.
  EXPECT_TRUE(kernel_.ob().get(system().object)->security_copy);
}

TEST_F(ProcessSecurity, TheSystemProcessIsProtectedWinSystem) {
  EXPECT_EQ(system().protection, 0x72);
  EXPECT_EQ(machine_.memory().read<uint8_t>(system().eprocess + emu::eprocess::kProtection), 0x72);
  EXPECT_EQ(client().protection, 0);
  EXPECT_EQ(PsIsProtectedProcess(kernel_, system().eprocess), 1);
  EXPECT_EQ(PsIsProtectedProcess(kernel_, client().eprocess), 0);
}

TEST_F(ProcessSecurity, AUsersProcessAndThreadCarryItsTokensDefaultDacl) {
  EXPECT_EQ(dacl(client().object), (std::vector<Ace>{{account(1001), 0x1FFFFF},
                                                     {se::sids::local_system(), 0x1FFFFF},
                                                     {logon(0x1A2B3), 0x121411}}));
  EXPECT_EQ(dacl(client_thread_object()), (std::vector<Ace>{{account(1001), 0x1FFFFF},
                                                            {se::sids::local_system(), 0x1FFFFF},
                                                            {logon(0x1A2B3), 0x121848}}));
  EXPECT_EQ(kernel_.ob().security(client().object)->owner, account(1001));
  EXPECT_EQ(kernel_.ob().security(client().object)->group, account(513));
  // An elevated administrator's token: Administrators own and get GENERIC_ALL.
  kernel_.ps().set_process_token(client_pid_, se::TokenKind::Admin);
  EXPECT_EQ(dacl(client().object), (std::vector<Ace>{{se::sids::admins(), 0x1FFFFF},
                                                     {se::sids::local_system(), 0x1FFFFF},
                                                     {logon(0x1A2C4), 0x121411}}));
  EXPECT_EQ(dacl(client_thread_object()), (std::vector<Ace>{{se::sids::admins(), 0x1FFFFF},
                                                            {se::sids::local_system(), 0x1FFFFF},
                                                            {logon(0x1A2C4), 0x121848}}));
  EXPECT_EQ(kernel_.ob().security(client().object)->owner, se::sids::admins());
}

TEST_F(ProcessSecurity, AUserOpensItsOwnProcessWithTheRightsItsDaclGives) {
  as_client();
  EXPECT_EQ(open(client().object, ps::kProcessAllAccess).granted, 0x1FFFFFu);
  EXPECT_EQ(open(client().object, kMaximumAllowed).granted, 0x1FFFFFu);
  // PROCESS_QUERY_INFORMATION implies PROCESS_QUERY_LIMITED_INFORMATION; so do VM_OPERATION +
  // VM_WRITE.
  EXPECT_EQ(open(client().object, 0x400).granted, 0x1400u);
  EXPECT_EQ(open(client().object, 0x28).granted, 0x1028u);
  EXPECT_EQ(open(client().object, 0x20).granted, 0x20u);  // VM_WRITE alone implies nothing
  // PROCESS_SET_INFORMATION implies PROCESS_SET_LIMITED_INFORMATION.
  EXPECT_EQ(open(client().object, 0x200).granted, 0x2200u);
  EXPECT_EQ(open(client().object, kGenericRead).granted, 0x21410u);
  // Its thread: THREAD_QUERY_INFORMATION, SET_INFORMATION and SUSPEND_RESUME imply their limited
  // rights.
  EXPECT_EQ(open(client_thread_object(), 0x40).granted, 0x840u);
  EXPECT_EQ(open(client_thread_object(), 0x20).granted, 0x420u);
  EXPECT_EQ(open(client_thread_object(), 0x2).granted, 0x1002u);
}

TEST_F(ProcessSecurity, AStandardUserIsRefusedTheSystemProcessAndItsThreads) {
  as_client();
  EXPECT_EQ(open(system().object, ps::kProcessAllAccess).status, kDenied);
  EXPECT_EQ(open(system().object, ps::kProcessQueryLimitedInformation).status, kDenied);
  EXPECT_EQ(open(system().object, kSynchronize).status, kDenied);
  EXPECT_EQ(open(system().object, kMaximumAllowed).status, kDenied);
  EXPECT_EQ(open(loader_thread_object(), ps::kThreadQueryLimitedInformation).status, kDenied);
}

TEST_F(ProcessSecurity, AnAdministratorWithoutSeDebugGetsWhatTheDaclAndTheProtectionLeave) {
  kernel_.ps().set_process_token(client_pid_, se::TokenKind::Admin);
  as_client();
  // Administrators 0x121411 in the DACL; the protection refuses 0xFC7FF of it.
  EXPECT_EQ(open(system().object, ps::kProcessQueryLimitedInformation).granted, 0x1000u);
  EXPECT_EQ(open(system().object, kSynchronize | ps::kProcessQueryLimitedInformation).granted,
            0x101000u);
  EXPECT_EQ(open(system().object, 0x20 /* PROCESS_VM_WRITE */).status, kDenied);  // not in the DACL
  EXPECT_EQ(open(system().object, ps::kProcessQueryInformation).status, kDenied);  // protected
  EXPECT_EQ(open(system().object, 0x10 /* PROCESS_VM_READ */).status, kDenied);    // protected
  EXPECT_EQ(open(system().object, ps::kProcessAllAccess).status, kDenied);
  EXPECT_EQ(open(system().object, kMaximumAllowed).status,
            kDenied);  // 0x121411 holds refused rights
  // A System thread: Administrators 0x121848, WinSystem threads refuse 0xFF7FF.
  EXPECT_EQ(open(loader_thread_object(), ps::kThreadQueryLimitedInformation).granted, 0x800u);
  EXPECT_EQ(open(loader_thread_object(), ps::kThreadQueryInformation).status, kDenied);
}

TEST_F(ProcessSecurity, SeDebugPrivilegeEnabledGrantsAnyRightExceptWhatTheProtectionRefuses) {
  kernel_.ps().set_process_token(client_pid_, se::TokenKind::Admin);
  as_client();
  // Present but disabled (the default): no effect.
  EXPECT_EQ(open(system().object, 0x20).status, kDenied);
  enable_debug_privilege();
  // Every right asked, unchecked, but the System process stays protected.
  EXPECT_EQ(open(system().object, ps::kProcessAllAccess).status, kDenied);
  EXPECT_EQ(open(system().object, 0x20).status, kDenied);
  EXPECT_EQ(open(system().object, kMaximumAllowed).status, kDenied);  // PROCESS_ALL_ACCESS
  EXPECT_EQ(open(system().object, 0x2800 | kSynchronize).granted, 0x102800u);
  EXPECT_EQ(open(loader_thread_object(), ps::kThreadAllAccess).status, kDenied);
  EXPECT_EQ(open(loader_thread_object(), ps::kThreadQueryLimitedInformation | kSynchronize).granted,
            0x100800u);
  // What the DACL refuses the caller, SeDebugPrivilege grants: a standard user whose token (as a
  // driver could edit it) has the privilege enabled gets what the protection leaves.
  kernel_.ps().set_process_token(client_pid_, se::TokenKind::User);
  as_client();
  EXPECT_EQ(open(system().object, ps::kProcessQueryLimitedInformation).status, kDenied);
  enable_debug_privilege();
  EXPECT_EQ(open(system().object, ps::kProcessQueryLimitedInformation).granted, 0x1000u);
}

TEST_F(ProcessSecurity, KernelModeOpensAreGrantedAndForceAccessCheckKeepsOnlyTheProtection) {
  // PsOpenProcess's SeDebugPrivilege test with PreviousMode KernelMode always passes.
  EXPECT_EQ(open(system().object, ps::kProcessAllAccess, ProcessorMode::KernelMode).granted,
            0x1FFFFFu);
  EXPECT_EQ(open(system().object, kMaximumAllowed, ProcessorMode::KernelMode).granted, 0x1FFFFFu);
  EXPECT_EQ(open(system().object, 0x400, ProcessorMode::KernelMode).granted, 0x1400u);
  // OBJ_FORCE_ACCESS_CHECK: the open procedure runs as for UserMode (protection), not the DACL.
  as_client();
  EXPECT_EQ(open(system().object, ps::kProcessQueryLimitedInformation, ProcessorMode::KernelMode,
                 kForceAccessCheck | kKernelHandle)
                .granted,
            0x1000u);
  EXPECT_EQ(
      open(system().object, ps::kProcessAllAccess, ProcessorMode::KernelMode, kForceAccessCheck)
          .status,
      kDenied);
  EXPECT_EQ(
      open(client().object, ps::kProcessAllAccess, ProcessorMode::KernelMode, kForceAccessCheck)
          .granted,
      0x1FFFFFu);
}

TEST_F(ProcessSecurity, NtOpenProcessFromTheClientTakesUserMemoryAndPutsTheHandleInItsTable) {
  as_client();
  machine_.set_previous_mode(ProcessorMode::UserMode);
  GuestVa handle_out = kUserData, oa = kUserData + 0x10, cid = kUserData + 0x40,
          name = kUserData + 0x60;
  layout::OBJECT_ATTRIBUTES attributes{};
  attributes.Length = sizeof(attributes);
  attributes.Attributes = kKernelHandle;  // dropped for a UserMode caller
  machine_.memory().write(oa, attributes);
  machine_.memory().write<uint64_t>(cid, client_pid_);
  machine_.memory().write<uint64_t>(cid + 8, 0);
  ASSERT_EQ(NtOpenProcess(kernel_, handle_out, 0x400, oa, cid), STATUS_SUCCESS);
  uint64_t handle = machine_.memory().read<uint64_t>(handle_out);
  EXPECT_EQ(handle >> 31, 0u);  // the client's table, not a kernel handle
  ob::ObjectId id = ob::kNoObject;
  ob::HandleInfo info;
  ASSERT_EQ(kernel_.ob().reference_by_handle(handle, 0x1000, ob::TypeIndex::Process,
                                             ProcessorMode::UserMode, &id, &info),
            STATUS_SUCCESS);
  kernel_.ob().dereference(id);
  EXPECT_EQ(id, client().object);
  EXPECT_EQ(info.granted_access, 0x1400u);
  // System: refused, nothing written.
  machine_.memory().write<uint64_t>(handle_out, 0xAAAA);
  machine_.memory().write<uint64_t>(cid, ps::kSystemPid);
  EXPECT_EQ(NtOpenProcess(kernel_, handle_out, 0x1000, oa, cid), kDenied);
  EXPECT_EQ(machine_.memory().read<uint64_t>(handle_out), 0xAAAAu);
  // NtOpenThread of the System thread DriverEntry would run on, then of its own thread.
  machine_.memory().write<uint64_t>(cid + 8, loader_thread_);
  EXPECT_EQ(NtOpenThread(kernel_, handle_out, 0x800, oa, cid), kDenied);
  machine_.memory().write<uint64_t>(cid, client_pid_);
  machine_.memory().write<uint64_t>(cid + 8, client_thread_);
  EXPECT_EQ(NtOpenThread(kernel_, handle_out, 0x40, oa, cid), STATUS_SUCCESS);
  // A kernel address for the handle: probed and refused.
  EXPECT_EQ(NtOpenProcess(kernel_, GuestVa{0xFFFF'F780'0000'0000ull}, 0x1000, oa, cid),
            STATUS_ACCESS_VIOLATION);
  // A name: processes are opened by CLIENT_ID only.
  machine_.memory().write(name, layout::UNICODE_STRING{});
  attributes.ObjectName = name.value;
  machine_.memory().write(oa, attributes);
  EXPECT_EQ(NtOpenProcess(kernel_, handle_out, 0x1000, oa, cid), STATUS_INVALID_PARAMETER_MIX);
}

TEST_F(ProcessSecurity, ObOpenObjectByPointerRunsTheProcessOpenProcedure) {
  kernel_.ps().set_process_token(client_pid_, se::TokenKind::Admin);
  as_client();
  GuestVa handle_out = kUserData;
  GuestVa process_type = kernel_.ob().type_object(ob::TypeIndex::Process);
  // UserMode: the DACL grants Administrators PROCESS_QUERY_INFORMATION, the protection refuses it.
  EXPECT_EQ(ObOpenObjectByPointer(kernel_, system().eprocess, 0, GuestVa{}, 0x400, process_type, 1,
                                  handle_out),
            kDenied);
  ASSERT_EQ(ObOpenObjectByPointer(kernel_, system().eprocess, 0, GuestVa{}, 0x1000, process_type, 1,
                                  handle_out),
            STATUS_SUCCESS);
  // KernelMode: granted, with the implied limited right.
  ASSERT_EQ(ObOpenObjectByPointer(kernel_, system().eprocess, 0, GuestVa{}, 0x400, process_type, 0,
                                  handle_out),
            STATUS_SUCCESS);
  ob::ObjectId id = ob::kNoObject;
  ob::HandleInfo info;
  ASSERT_EQ(kernel_.ob().reference_by_handle(machine_.memory().read<uint64_t>(handle_out), 0,
                                             std::nullopt, ProcessorMode::KernelMode, &id, &info),
            STATUS_SUCCESS);
  kernel_.ob().dereference(id);
  EXPECT_EQ(info.granted_access, 0x1400u);
}

TEST_F(ProcessSecurity, ExplainSaysWhoOpenedWhatAskedAndGrantedAndWhy) {
  kernel_.ps().set_process_token(client_pid_, se::TokenKind::Admin);
  as_client();
  kernel_.explainer().enable(true);
  EXPECT_EQ(open(system().object, 0x20).status, kDenied);
  EXPECT_EQ(open(system().object, 0x400).status, kDenied);
  EXPECT_EQ(open(client().object, 0x400).granted, 0x1400u);
  kernel_.ps().set_process_token(client_pid_, se::TokenKind::User);
  EXPECT_EQ(open(system().object, 0x1000).status, kDenied);
  std::vector<std::string> said;
  for (const auto& line : kernel_.explainer().lines())
    if (line.text.find("open of") != std::string::npos) said.push_back(line.text);
  ASSERT_EQ(said.size(), 4u);
  EXPECT_EQ(said[0],
            "the client (client.exe, pid 0x1234, admin token): open of process System (pid 0x4), "
            "PreviousMode "
            "UserMode, asked 0x20: the DACL of process System (pid 0x4) grants this caller's token "
            "Administrators "
            "0x121411 only; PROCESS_VM_WRITE (0x20) is denied → STATUS_ACCESS_DENIED.");
  EXPECT_EQ(said[1],
            "the client (client.exe, pid 0x1234, admin token): open of process System (pid 0x4), "
            "PreviousMode "
            "UserMode, asked 0x400: the DACL of process System (pid 0x4) grants this caller's "
            "token Administrators "
            "0x121411, which covers what was asked; process System is protected (signer WinSystem, "
            "PS_PROTECTION "
            "0x72) and the caller's process is not protected above it, so "
            "PROCESS_QUERY_INFORMATION (0x400) is "
            "refused → STATUS_ACCESS_DENIED.");
  EXPECT_EQ(
      said[2],
      "the client (client.exe, pid 0x1234, admin token): open of process client.exe (pid 0x1234), "
      "PreviousMode UserMode, asked 0x400: the DACL of process client.exe (pid 0x1234) grants this "
      "caller's "
      "token Administrators 0x1fffff and the logon session S-1-5-5-0-107204 0x121411, which covers "
      "what was "
      "asked; the process open procedure adds "
      "PROCESS_QUERY_LIMITED_INFORMATION (0x1000), which the rights granted imply → granted "
      "0x1400.");
  EXPECT_EQ(said[3],
            "the client (client.exe, pid 0x1234, user token): open of process System (pid 0x4), "
            "PreviousMode "
            "UserMode, asked 0x1000: the DACL of process System (pid 0x4) grants SYSTEM 0x1fffff "
            "and Administrators "
            "0x121411, none of them a SID of this caller's token → STATUS_ACCESS_DENIED.");
}

}  // namespace
}  // namespace kemu::nt

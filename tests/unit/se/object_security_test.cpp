// Object security through the object manager: ObOpenObjectByPointer's
// access check, NtSetSecurityObject / NtQuerySecurityObject from a UserMode
// client (handle rights, probing), ZwSetSecurityObject from kernel mode,
// ObGetObjectSecurity, and NtDuplicateObject asking for more than the
// source handle had.
#include <gtest/gtest.h>

#include <vector>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/se/security_descriptor.h"

namespace kemu::nt {

NtStatus ObOpenObjectByPointer(Kernel& k, GuestVa object, uint32_t attributes,
                               GuestVa passed_access_state, uint32_t desired, GuestVa type,
                               uint8_t access_mode, GuestVa handle_out);
NtStatus NtSetSecurityObject(Kernel& k, uint64_t handle, uint32_t information, GuestVa sd);
NtStatus ZwSetSecurityObject(Kernel& k, uint64_t handle, uint32_t information, GuestVa sd);
NtStatus NtQuerySecurityObject(Kernel& k, uint64_t handle, uint32_t information, GuestVa buffer,
                               uint32_t length, GuestVa length_needed);
NtStatus ObGetObjectSecurity(Kernel& k, GuestVa object, GuestVa sd_out, GuestVa allocated_out);
void ObReleaseObjectSecurity(Kernel& k, GuestVa sd, bool memory_allocated);

namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint32_t kGenericRead = 0x80000000, kGenericAll = 0x10000000;
constexpr uint32_t kWriteDac = 0x40000, kReadControl = 0x20000;
constexpr uint32_t kDacl = se::kDaclSecurityInformation;

class ObjectSecurity : public ::testing::Test {
 protected:
  static constexpr GuestVa kKernelData{0xFFFF'F806'1010'0000ull};
  static constexpr GuestVa kUserData{0x3000'0000ull};

  ObjectSecurity() : kernel_(machine_) {
    machine_.memory().map(kKernelData, 0x2000, Prot::ReadWrite, emu::RegionKind::Scratch,
                          "kernel data");
    const ps::ProcessRecord& client = kernel_.ps().create_user_process("client.exe");
    client_pid_ = client.pid;
    client_thread_ = kernel_.ps().create_user_thread(client_pid_).tid;
    machine_.memory().map(kUserData, 0x2000, Prot::ReadWrite, emu::RegionKind::UserMemory,
                          "client data", client_pid_);
    loader_thread_ = machine_.current_thread().id;
    // An event protected like this: Everyone GENERIC_READ, Administrators GENERIC_ALL
    // (generic masks: the check maps them through the Event type).
    event_ = kernel_.ob().create(ob::TypeIndex::Event, sizeof(layout::KEVENT));
    se::SecurityDescriptor sd;
    sd.owner = se::sids::admins();
    sd.control = se::kSeDaclPresent;
    sd.dacl = se::make_acl({{se::kAccessAllowedAce, 0, kGenericRead, se::sids::world()},
                            {se::kAccessAllowedAce, 0, kGenericAll, se::sids::admins()}});
    kernel_.ob().set_security(event_, sd);
  }

  void as_client() { machine_.switch_to(client_thread_); }
  void as_system() { machine_.switch_to(loader_thread_); }
  GuestVa body() { return kernel_.ob().get(event_)->body; }
  GuestVa event_type() { return kernel_.ob().type_object(ob::TypeIndex::Event); }
  // A descriptor with an empty DACL, self-relative, at `at`.
  GuestVa empty_dacl_descriptor(GuestVa at) {
    se::SecurityDescriptor sd;
    sd.control = se::kSeDaclPresent;
    sd.dacl = se::make_acl({});
    Bytes b = se::to_self_relative(sd);
    machine_.memory().write(at, b.data(), b.size());
    return at;
  }

  emu::Machine machine_;
  Kernel kernel_;
  ob::ObjectId event_ = ob::kNoObject;
  uint32_t client_pid_ = 0, client_thread_ = 0, loader_thread_ = 0;
};

TEST_F(ObjectSecurity, OpenByPointerChecksUserModeAgainstTheDescriptorWithTheTypesMapping) {
  as_client();
  GuestVa handle_out = kUserData;
  EXPECT_EQ(ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, kGenericAll, event_type(), 1,
                                  handle_out),
            STATUS_ACCESS_DENIED);
  EXPECT_EQ(ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, kGenericRead, event_type(), 1,
                                  handle_out),
            STATUS_SUCCESS);
  uint64_t handle = machine_.memory().read<uint64_t>(handle_out);
  EXPECT_EQ(handle, 4u);  // the client's table
  ob::ObjectId id = ob::kNoObject;
  ob::HandleInfo info;
  ASSERT_EQ(kernel_.ob().reference_by_handle(handle, 0, std::nullopt, ProcessorMode::UserMode, &id,
                                             &info),
            STATUS_SUCCESS);
  kernel_.ob().dereference(id);
  EXPECT_EQ(info.granted_access, 0x00020001u);  // Event GENERIC_READ
  // MAXIMUM_ALLOWED: what Everyone has.
  ASSERT_EQ(
      ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, 0x02000000, event_type(), 1, handle_out),
      STATUS_SUCCESS);
  // A type that does not match.
  EXPECT_EQ(ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, kGenericRead,
                                  kernel_.ob().type_object(ob::TypeIndex::File), 1, handle_out),
            STATUS_OBJECT_TYPE_MISMATCH);
  // KernelMode is not checked, and OBJ_KERNEL_HANDLE gives a kernel handle.
  EXPECT_EQ(ObOpenObjectByPointer(kernel_, body(), 0x200, GuestVa{}, kGenericAll, event_type(), 0,
                                  handle_out),
            STATUS_SUCCESS);
  EXPECT_EQ(machine_.memory().read<uint64_t>(handle_out) & 0xFFFFFFFF80000000ull,
            0xFFFFFFFF80000000ull);
  // UserMode with OBJ_KERNEL_HANDLE: the attribute is dropped.
  ASSERT_EQ(ObOpenObjectByPointer(kernel_, body(), 0x200, GuestVa{}, kGenericRead, event_type(), 1,
                                  handle_out),
            STATUS_SUCCESS);
  EXPECT_EQ(machine_.memory().read<uint64_t>(handle_out) >> 31, 0u);
}

TEST_F(ObjectSecurity, UserModeSetAndQueryNeedTheHandleRightsAndUserMemory) {
  as_client();
  GuestVa handle_out = kUserData;
  ASSERT_EQ(ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, kGenericRead, event_type(), 1,
                                  handle_out),
            STATUS_SUCCESS);
  uint64_t handle = machine_.memory().read<uint64_t>(handle_out);
  GuestVa user_sd = empty_dacl_descriptor(kUserData + 0x100);
  // A NULL descriptor, then a handle without WRITE_DAC.
  EXPECT_EQ(NtSetSecurityObject(kernel_, handle, kDacl, GuestVa{}), STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(NtSetSecurityObject(kernel_, handle, kDacl, user_sd), STATUS_ACCESS_DENIED);
  // READ_CONTROL is in the Event type's GENERIC_READ: the DACL can be read.
  GuestVa needed = kUserData + 0x200, buffer = kUserData + 0x300;
  EXPECT_EQ(NtQuerySecurityObject(kernel_, handle, kDacl, buffer, 8, needed),
            STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(machine_.memory().read<uint32_t>(needed), 20u + 8u + 20u + 24u);
  ASSERT_EQ(NtQuerySecurityObject(kernel_, handle, kDacl, buffer, 0x100, needed), STATUS_SUCCESS);
  EXPECT_EQ(machine_.memory().read<uint16_t>(buffer + 2), 0x8004u);
  EXPECT_EQ(machine_.memory().read<uint32_t>(buffer + 4), 0u);  // no owner asked
  // SACL needs ACCESS_SYSTEM_SECURITY on the handle.
  EXPECT_EQ(
      NtQuerySecurityObject(kernel_, handle, se::kSaclSecurityInformation, buffer, 0x100, needed),
      STATUS_ACCESS_DENIED);
  // A kernel buffer from UserMode is refused by the probe.
  EXPECT_EQ(NtQuerySecurityObject(kernel_, handle, kDacl, kKernelData, 0x100, needed),
            STATUS_ACCESS_VIOLATION);

  // The administrator may open it with WRITE_DAC; a kernel-address descriptor
  // from UserMode fails the probe, a user one replaces the DACL.
  kernel_.ps().set_process_token(client_pid_, se::TokenKind::Admin);
  ASSERT_EQ(ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, kWriteDac | kReadControl,
                                  event_type(), 1, handle_out),
            STATUS_SUCCESS);
  uint64_t writer = machine_.memory().read<uint64_t>(handle_out);
  EXPECT_EQ(NtSetSecurityObject(kernel_, writer, kDacl, empty_dacl_descriptor(kKernelData)),
            STATUS_ACCESS_VIOLATION);
  ASSERT_EQ(NtSetSecurityObject(kernel_, writer, kDacl, user_sd), STATUS_SUCCESS);
  const auto& sd = kernel_.ob().security(event_);
  ASSERT_TRUE(sd.has_value());
  EXPECT_EQ(*sd->dacl, se::make_acl({}));
  EXPECT_EQ(*sd->owner, se::sids::admins());  // the owner stays
  // Now even the administrator is refused, except for the owner's implicit rights.
  EXPECT_EQ(ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, kGenericRead, event_type(), 1,
                                  handle_out),
            STATUS_ACCESS_DENIED);
  EXPECT_EQ(
      ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, kWriteDac, event_type(), 1, handle_out),
      STATUS_SUCCESS);
  // WRITE_OWNER is neither in the owner's implicit rights nor granted by a
  // disabled SeTakeOwnershipPrivilege.
  EXPECT_EQ(
      ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, 0x80000, event_type(), 1, handle_out),
      STATUS_ACCESS_DENIED);
}

TEST_F(ObjectSecurity, ANewOwnerMustBeOneTheCallerMayAssign) {
  se::SecurityDescriptor open_to_all;
  open_to_all.owner = se::sids::admins();
  open_to_all.control = se::kSeDaclPresent;
  open_to_all.dacl = se::make_acl({{se::kAccessAllowedAce, 0, kGenericAll, se::sids::world()}});
  kernel_.ob().set_security(event_, open_to_all);
  as_client();
  GuestVa handle_out = kUserData;
  ASSERT_EQ(
      ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, 0x80000, event_type(), 1, handle_out),
      STATUS_SUCCESS);
  uint64_t handle = machine_.memory().read<uint64_t>(handle_out);
  auto descriptor_owned_by = [&](std::optional<se::Sid> owner, GuestVa at) {
    se::SecurityDescriptor sd;
    sd.owner = std::move(owner);
    Bytes b = se::to_self_relative(sd);
    machine_.memory().write(at, b.data(), b.size());
    return at;
  };
  constexpr uint32_t kOwner = se::kOwnerSecurityInformation;
  EXPECT_EQ(NtSetSecurityObject(kernel_, handle, kOwner,
                                descriptor_owned_by(std::nullopt, kUserData + 0x100)),
            STATUS_INVALID_OWNER);
  EXPECT_EQ(NtSetSecurityObject(kernel_, handle, kOwner,
                                descriptor_owned_by(se::sids::local_system(), kUserData + 0x100)),
            STATUS_INVALID_OWNER);
  se::Sid me = se::make_token(se::TokenKind::User).user;
  ASSERT_EQ(
      NtSetSecurityObject(kernel_, handle, kOwner, descriptor_owned_by(me, kUserData + 0x100)),
      STATUS_SUCCESS);
  EXPECT_EQ(*kernel_.ob().security(event_)->owner, me);
  EXPECT_EQ(kernel_.ob().security(event_)->dacl, open_to_all.dacl);
}

TEST_F(ObjectSecurity,
       ZwSetSecurityObjectSkipsTheHandleCheckAndObGetObjectSecurityReferencesTheCopy) {
  // A kernel handle with no access at all: Zw runs in KernelMode.
  as_system();
  GuestVa handle_out = kKernelData;
  ASSERT_EQ(
      ObOpenObjectByPointer(kernel_, body(), 0x200, GuestVa{}, 0, event_type(), 0, handle_out),
      STATUS_SUCCESS);
  uint64_t handle = machine_.memory().read<uint64_t>(handle_out);
  GuestVa sd_out = kKernelData + 0x10, allocated = kKernelData + 0x18;
  ASSERT_EQ(ObGetObjectSecurity(kernel_, body(), sd_out, allocated), STATUS_SUCCESS);
  GuestVa old_copy{machine_.memory().read<uint64_t>(sd_out)};
  EXPECT_EQ(machine_.memory().read<uint8_t>(allocated), 0u);
  EXPECT_EQ(old_copy, kernel_.ob().get(event_)->security_copy);
  EXPECT_EQ(machine_.memory().read<uint64_t>(kernel_.ob().get(event_)->header + 0x28),
            old_copy.value);
  ASSERT_EQ(ZwSetSecurityObject(kernel_, handle, kDacl, empty_dacl_descriptor(kKernelData + 0x100)),
            STATUS_SUCCESS);
  // NtSetSecurityObject with the same handle from KernelMode previous mode is not checked either.
  EXPECT_EQ(NtSetSecurityObject(kernel_, handle, kDacl, empty_dacl_descriptor(kKernelData + 0x100)),
            STATUS_SUCCESS);
  GuestVa new_copy = kernel_.ob().get(event_)->security_copy;
  EXPECT_NE(new_copy, old_copy);
  // The referenced old copy is still readable until released.
  EXPECT_EQ(machine_.memory().read<uint8_t>(old_copy), 1u);
  ObReleaseObjectSecurity(kernel_, old_copy, false);
  EXPECT_EQ(machine_.pool().block_at(old_copy), nullptr);
}

TEST_F(ObjectSecurity, DuplicatingForMoreAccessChecksTheMissingRights) {
  as_client();
  GuestVa handle_out = kUserData;
  ASSERT_EQ(ObOpenObjectByPointer(kernel_, body(), 0, GuestVa{}, kGenericRead, event_type(), 1,
                                  handle_out),
            STATUS_SUCCESS);
  uint64_t handle = machine_.memory().read<uint64_t>(handle_out);
  uint64_t copy = 0;
  EXPECT_EQ(kernel_.ob().duplicate_handle(client_pid_, handle, client_pid_, kGenericAll, 0, 0,
                                          ProcessorMode::UserMode, &copy),
            STATUS_ACCESS_DENIED);
  EXPECT_EQ(kernel_.ob().duplicate_handle(client_pid_, handle, client_pid_, kGenericRead, 0, 0,
                                          ProcessorMode::UserMode, &copy),
            STATUS_SUCCESS);
  // KernelMode (ZwDuplicateObject) is not checked.
  EXPECT_EQ(kernel_.ob().duplicate_handle(client_pid_, handle, client_pid_, kGenericAll, 0, 0,
                                          ProcessorMode::KernelMode, &copy),
            STATUS_SUCCESS);
}

}  // namespace
}  // namespace kemu::nt

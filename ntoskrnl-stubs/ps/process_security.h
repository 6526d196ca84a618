// Opening processes and threads: the decisions NtOpenProcess / NtOpenThread
// make once the CLIENT_ID named an object (PsOpenProcess / PsOpenThread: the
// SeDebugPrivilege test, the access check ObpIncrementHandleCountEx makes
// against the object's descriptor, then the type's open procedure
// PspProcessOpen / PspThreadOpen: protected processes and the limited rights
// other rights imply). The descriptors themselves are assigned by the process
// manager (se::default_object_descriptor with the process's token).
#pragma once

#include <cstdint>
#include <string>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/ob/object_types.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::ps {

// Process access rights (winnt.h).
constexpr uint32_t kProcessTerminate = 0x0001;
constexpr uint32_t kProcessVmOperation = 0x0008;
constexpr uint32_t kProcessVmRead = 0x0010;
constexpr uint32_t kProcessVmWrite = 0x0020;
constexpr uint32_t kProcessSetInformation = 0x0200;
constexpr uint32_t kProcessQueryInformation = 0x0400;
constexpr uint32_t kProcessQueryLimitedInformation = 0x1000;
constexpr uint32_t kProcessSetLimitedInformation = 0x2000;
constexpr uint32_t kProcessAllAccess = 0x1FFFFF;
// Thread access rights.
constexpr uint32_t kThreadSuspendResume = 0x0002;
constexpr uint32_t kThreadSetInformation = 0x0020;
constexpr uint32_t kThreadQueryInformation = 0x0040;
constexpr uint32_t kThreadSetLimitedInformation = 0x0400;
constexpr uint32_t kThreadQueryLimitedInformation = 0x0800;
constexpr uint32_t kThreadResume = 0x1000;
constexpr uint32_t kThreadAllAccess = 0x1FFFFF;

// PsOpenProcess / PsOpenThread for `object` (a Process or Thread object) with
// the caller's previous mode and the OBJECT_ATTRIBUTES.Attributes given:
//  1. generic rights mapped through the type's GENERIC_MAPPING;
//  2. SePrivilegeCheck(SeDebugPrivilege, PreviousMode): a KernelMode caller
//     always passes (also with OBJ_FORCE_ACCESS_CHECK, which PsOpenProcess
//     of 19045 does not consider there), a UserMode caller when the
//     privilege is enabled in its token; passing grants every right asked
//     (MAXIMUM_ALLOWED: PROCESS_ALL_ACCESS / THREAD_ALL_ACCESS) unchecked;
//  3. otherwise SeAccessCheck against the object's descriptor with the
//     current process's token (refused: STATUS_ACCESS_DENIED);
//  4. the open procedure (open_procedure below) with the checking mode
//     (UserMode also for OBJ_FORCE_ACCESS_CHECK);
//  5. a handle with the granted rights (UserMode: OBJ_KERNEL_HANDLE dropped).
// With --explain, one sentence says who opened what, asked vs granted, and why.
NtStatus open_process_object(Kernel& kernel, ob::ObjectId object, uint32_t desired,
                             uint32_t attributes, ProcessorMode previous_mode, uint64_t* handle);

// PspProcessOpen / PspThreadOpen with the rights granted so far:
//  - with `mode` UserMode, a protected target (a process, or a thread's
//    process) that the caller's protection does not dominate
//    (RtlTestProtectedAccess) refuses any right in its signer's denied mask
//    (RtlProtectedAccess; WinSystem: process 0xFC7FF, thread 0xFF7FF) with
//    STATUS_ACCESS_DENIED; a process opening itself, or its parent asking
//    PROCESS_TERMINATE, is not restricted;
//  - implied rights: PROCESS_QUERY_INFORMATION, or PROCESS_VM_OPERATION with
//    PROCESS_VM_WRITE, add PROCESS_QUERY_LIMITED_INFORMATION;
//    PROCESS_SET_INFORMATION adds PROCESS_SET_LIMITED_INFORMATION;
//    THREAD_QUERY_INFORMATION adds THREAD_QUERY_LIMITED_INFORMATION,
//    THREAD_SET_INFORMATION THREAD_SET_LIMITED_INFORMATION,
//    THREAD_SUSPEND_RESUME THREAD_RESUME.
// `why` (may be null) receives the --explain wording of what it decided.
NtStatus open_procedure(Kernel& kernel, ob::ObjectId object, ProcessorMode mode, uint32_t* granted,
                        std::string* why = nullptr);

// Installs open_procedure as the Process and Thread types' open procedure
// (ObOpenObjectByPointer runs it).
void install_open_procedures(Kernel& kernel);

// RtlTestProtectedAccess: may a caller with protection level `caller` open a
// target with level `target` without the signer's restrictions?
bool protected_access_allowed(uint8_t caller, uint8_t target);

}  // namespace kemu::nt::ps

/*
 * dataexports.sys - reads ntoskrnl's data exports through the import table and
 * KUSER_SHARED_DATA through the inline macros, prints each value, and fails
 * DriverEntry if one of them is not what Windows 10 22H2 x64 would give.
 *
 * How each export is reached (same machine code as a WDK-built driver):
 *  - MmUserProbeAddress, MmHighestUserAddress, MmSystemRangeStart,
 *    KeNumberProcessors, PsInitialSystemProcess, NtBuildNumber,
 *    KdDebuggerNotPresent, KdDebuggerEnabled: variables imported with
 *    __declspec(dllimport); the import slot holds the variable's address and
 *    the code loads the value from there.
 *  - IoFileObjectType, PsProcessType: variables holding a POBJECT_TYPE; the
 *    WDK's "*IoFileObjectType" is written KEMU_OBJECT_TYPE(IoFileObjectType)
 *    with mingw's declaration (see kemu_sample.h).
 *  - SharedUserData, KeQuerySystemTime, KeQueryTickCount: inline reads of
 *    KUSER_SHARED_DATA at 0xFFFFF78000000000.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

#define EXPECTED_BUILD 19045

/* mingw's KUSER_SHARED_DATA predates the NtBuildNumber field (it is its
 * Reserved2[6]); Windows 10 has it at 0x260. */
#define KUSD_NT_BUILD_NUMBER_OFFSET 0x260
_Static_assert(FIELD_OFFSET(KUSER_SHARED_DATA, Reserved2[6]) == KUSD_NT_BUILD_NUMBER_OFFSET,
               "KUSER_SHARED_DATA.NtBuildNumber");
_Static_assert(FIELD_OFFSET(KUSER_SHARED_DATA, NtMajorVersion) == 0x26C, "NtMajorVersion");
_Static_assert(FIELD_OFFSET(KUSER_SHARED_DATA, NtMinorVersion) == 0x270, "NtMinorVersion");

static ULONG Mismatches;

static VOID Expect(BOOLEAN ok, const char* what) {
  if (!ok) {
    Mismatches++;
    DbgPrint("dataexports: MISMATCH %s\n", what);
  }
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  POBJECT_TYPE fileType;
  POBJECT_TYPE processType;
  PEPROCESS systemProcess;
  LARGE_INTEGER systemTime;
  LARGE_INTEGER tickCount;
  ULONG kusdBuild;
  ULONG major;
  ULONG minor;
  CCHAR processors;

  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);

  DbgPrint("dataexports: MmUserProbeAddress=%p\n", (PVOID)MmUserProbeAddress);
  Expect(MmUserProbeAddress == 0x7FFFFFFF0000ULL, "MmUserProbeAddress");

  DbgPrint("dataexports: MmHighestUserAddress=%p\n", MmHighestUserAddress);
  Expect((ULONG_PTR)MmHighestUserAddress == 0x7FFFFFFEFFFFULL, "MmHighestUserAddress");

  DbgPrint("dataexports: MmSystemRangeStart=%p\n", MmSystemRangeStart);
  Expect((ULONG_PTR)MmSystemRangeStart == 0xFFFF800000000000ULL, "MmSystemRangeStart");

  DbgPrint("dataexports: NtBuildNumber=%08x\n", NtBuildNumber);
  Expect((NtBuildNumber & 0xFFFF) == EXPECTED_BUILD, "NtBuildNumber");

  processors = KeNumberProcessors;
  DbgPrint("dataexports: KeNumberProcessors=%d\n", processors);
  Expect(processors >= 1, "KeNumberProcessors");

  systemProcess = PsInitialSystemProcess;
  DbgPrint("dataexports: PsInitialSystemProcess=%p\n", systemProcess);
  Expect(systemProcess != NULL, "PsInitialSystemProcess");

  fileType = KEMU_OBJECT_TYPE(IoFileObjectType);
  DbgPrint("dataexports: IoFileObjectType=%p\n", fileType);
  Expect(fileType != NULL, "IoFileObjectType");

  processType = KEMU_OBJECT_TYPE(PsProcessType);
  DbgPrint("dataexports: PsProcessType=%p\n", processType);
  Expect(processType != NULL, "PsProcessType");

  DbgPrint("dataexports: KdDebuggerNotPresent=%d KdDebuggerEnabled=%d\n",
           KD_DEBUGGER_NOT_PRESENT, KD_DEBUGGER_ENABLED);
  Expect(KD_DEBUGGER_NOT_PRESENT == TRUE, "KdDebuggerNotPresent");
  Expect(KD_DEBUGGER_ENABLED == FALSE, "KdDebuggerEnabled");

  major = SharedUserData->NtMajorVersion;
  minor = SharedUserData->NtMinorVersion;
  kusdBuild = *(volatile ULONG*)(KI_USER_SHARED_DATA + KUSD_NT_BUILD_NUMBER_OFFSET);
  DbgPrint("dataexports: SharedUserData version %u.%u build %u\n", major, minor, kusdBuild);
  Expect(major == 10 && minor == 0, "SharedUserData->NtMajorVersion/NtMinorVersion");
  Expect(kusdBuild == EXPECTED_BUILD, "SharedUserData->NtBuildNumber");

  KeQuerySystemTime(&systemTime);
  KeQueryTickCount(&tickCount);
  DbgPrint("dataexports: KeQuerySystemTime=0x%I64x KeQueryTickCount=%I64u\n",
           systemTime.QuadPart, tickCount.QuadPart);

  DbgPrint("dataexports: %u mismatches\n", Mismatches);
  return Mismatches == 0 ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}

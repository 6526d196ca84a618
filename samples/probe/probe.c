/*
 * probe.sys - probing user buffers and describing buffers with MDLs, the
 * way the kernel checks them (semantics.md §4): ProbeForRead/ProbeForWrite
 * with a zero length, a misaligned start, a range past MmUserProbeAddress and
 * an unmapped user page; an MDL over nonpaged pool; pool pages locked and
 * mapped again at a system address that shows the same bytes; and a user-mode
 * lock of ranges it must refuse. Every exception is caught in DriverEntry:
 * the probing routines raise it themselves, so a __try around the call is
 * enough. The filter records the exception record for the prints.
 *
 * Built a second time with -DPROBE_WRITE_READ_LOCKED (probe_write_read_locked.sys):
 * after the prints, DriverEntry writes through the system mapping of pages
 * it locked for IoReadAccess; as on Windows the write goes through.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

#define PROBE_TAG 'borP'
#define UNMAPPED_USER ((PVOID)(ULONG_PTR)0x10000) /* the System process has no user memory */
#define PROBE_LIMIT 0x7FFFFFFF0000ull              /* MmUserProbeAddress */

static ULONG g_code;
static ULONG g_count;
static ULONG_PTR g_info[2];

static int record(PEXCEPTION_POINTERS ep) {
  PEXCEPTION_RECORD r = ep->ExceptionRecord;
  g_code = r->ExceptionCode;
  g_count = r->NumberParameters;
  g_info[0] = r->NumberParameters > 0 ? r->ExceptionInformation[0] : 0;
  g_info[1] = r->NumberParameters > 1 ? r->ExceptionInformation[1] : 0;
  return EXCEPTION_EXECUTE_HANDLER;
}

static void reset(void) {
  g_code = 0;
  g_count = 0;
  g_info[0] = g_info[1] = 0;
}

static const char* yes(BOOLEAN b) { return b ? "yes" : "no"; }

static void probes(void) {
  /* Length 0: nothing is checked, not even a kernel or misaligned address. */
  reset();
  __try {
    ProbeForRead((PVOID)(ULONG_PTR)0xFFFF800000000001ull, 0, 8);
    ProbeForWrite((PVOID)(ULONG_PTR)0xFFFF800000000001ull, 0, 8);
    DbgPrint("probe: length 0 raised nothing\n");
  } __except (record(GetExceptionInformation())) {
    DbgPrint("probe: length 0 raised 0x%08x\n", g_code);
  }

  /* A misaligned start. */
  reset();
  __try {
    ProbeForRead((PVOID)(ULONG_PTR)0x10002, 8, 4);
    DbgPrint("probe: misaligned raised nothing\n");
  } __except (record(GetExceptionInformation())) {
    DbgPrint("probe: misaligned 0x%08x\n", g_code);
  }

  /* A range crossing MmUserProbeAddress: the fault is a write there. */
  reset();
  __try {
    ProbeForRead((PVOID)(ULONG_PTR)(PROBE_LIMIT - 8), 16, 1);
    DbgPrint("probe: crossing raised nothing\n");
  } __except (record(GetExceptionInformation())) {
    DbgPrint("probe: crossing MmUserProbeAddress 0x%08x access %d address 0x%llx\n", g_code, (int)g_info[0],
             (unsigned long long)g_info[1]);
  }

  /* A kernel buffer is out of range the same way. */
  reset();
  __try {
    ProbeForWrite((PVOID)(ULONG_PTR)0xFFFF800000001000ull, 8, 8);
    DbgPrint("probe: kernel buffer raised nothing\n");
  } __except (record(GetExceptionInformation())) {
    DbgPrint("probe: kernel buffer 0x%08x access %d address 0x%llx\n", g_code, (int)g_info[0],
             (unsigned long long)g_info[1]);
  }

  /* ProbeForWrite touches the page: an unmapped user page faults (read first). */
  reset();
  __try {
    ProbeForWrite(UNMAPPED_USER, 0x100, 1);
    DbgPrint("probe: write of an unmapped page raised nothing\n");
  } __except (record(GetExceptionInformation())) {
    DbgPrint("probe: write of an unmapped page 0x%08x access %d address 0x%llx\n", g_code, (int)g_info[0],
             (unsigned long long)g_info[1]);
  }

  /* ProbeForRead touches nothing: the same range passes. */
  reset();
  __try {
    ProbeForRead(UNMAPPED_USER, 0x100, 1);
    DbgPrint("probe: read of an unmapped page raised nothing\n");
  } __except (record(GetExceptionInformation())) {
    DbgPrint("probe: read of an unmapped page 0x%08x\n", g_code);
  }
}

/* An MDL over nonpaged pool: MmGetSystemAddressForMdlSafe is the buffer. */
static void pool_mdl(void) {
  char* buffer = ExAllocatePoolWithTag(NonPagedPool, 64, PROBE_TAG);
  PMDL mdl;
  PVOID system;
  if (!buffer) return;
  mdl = IoAllocateMdl(buffer, 64, FALSE, FALSE, NULL);
  if (mdl) {
    MmBuildMdlForNonPagedPool(mdl);
    system = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
    DbgPrint("probe: pool mdl flags 0x%x bytes %u system address is the buffer: %s\n", mdl->MdlFlags,
             MmGetMdlByteCount(mdl), yes(system == buffer && MmGetMdlVirtualAddress(mdl) == buffer));
    IoFreeMdl(mdl);
  }
  ExFreePoolWithTag(buffer, PROBE_TAG);
}

/*
 * Pool pages locked and mapped again: a new system address over the same
 * bytes, spanning two pages. Locked for reading, writes through the buffer
 * show through the mapping; locked for modifying, writes through the mapping
 * show in the buffer.
 */
static void locked_mapping(LOCK_OPERATION operation, const char* what) {
  char* block = ExAllocatePoolWithTag(NonPagedPool, 0x3000, PROBE_TAG);
  char* buffer;
  volatile char* mapped = NULL;
  PMDL mdl;
  USHORT locked_flags = 0;
  if (!block) return;
  buffer = block + 0x100; /* 0x1f00 bytes from block+0x100: two pages */
  mdl = IoAllocateMdl(buffer, 0x1F00, FALSE, FALSE, NULL);
  if (!mdl) {
    ExFreePoolWithTag(block, PROBE_TAG);
    return;
  }
  reset();
  __try {
    MmProbeAndLockPages(mdl, KernelMode, operation);
    locked_flags = mdl->MdlFlags;
  } __except (record(GetExceptionInformation())) {
    DbgPrint("probe: %s lock of pool raised 0x%08x\n", what, g_code);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(block, PROBE_TAG);
    return;
  }
  mapped = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority);
  if (mapped) {
    BOOLEAN same_bytes;
    if (operation == IoReadAccess) {
      buffer[0] = 'A';
      buffer[0x1EFF] = 'B';
      same_bytes = mapped[0] == 'A' && mapped[0x1EFF] == 'B';
    } else {
      mapped[0] = 'C';
      mapped[0x1EFF] = 'D';
      same_bytes = buffer[0] == 'C' && buffer[0x1EFF] == 'D';
    }
    DbgPrint("probe: %s lock flags 0x%x mapped flags 0x%x new address %s same offset %s same bytes %s "
             "same physical %s safe %s\n",
             what, locked_flags, mdl->MdlFlags, yes((char*)mapped != buffer),
             yes(((ULONG_PTR)mapped & 0xFFF) == ((ULONG_PTR)buffer & 0xFFF)), yes(same_bytes),
             yes(MmGetPhysicalAddress((PVOID)(mapped + 0x1000)).QuadPart ==
                 MmGetPhysicalAddress(buffer + 0x1000).QuadPart),
             yes(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority) == (PVOID)mapped));
    MmUnmapLockedPages((PVOID)mapped, mdl);
  } else {
    DbgPrint("probe: %s mapping failed\n", what);
  }
  DbgPrint("probe: %s unmapped flags 0x%x\n", what, mdl->MdlFlags);
  MmUnlockPages(mdl);
  DbgPrint("probe: %s unlocked flags 0x%x\n", what, mdl->MdlFlags);
  IoFreeMdl(mdl);
  ExFreePoolWithTag(block, PROBE_TAG);
}

/* UserMode locks refuse a range that is not all user memory, or not mapped. */
static void user_locks(void) {
  char* buffer = ExAllocatePoolWithTag(NonPagedPool, 64, PROBE_TAG);
  PMDL mdl = IoAllocateMdl(UNMAPPED_USER, 0x100, FALSE, FALSE, NULL);
  if (mdl) {
    reset();
    __try {
      MmProbeAndLockPages(mdl, UserMode, IoReadAccess);
      DbgPrint("probe: user lock of an unmapped page succeeded\n");
      MmUnlockPages(mdl);
    } __except (record(GetExceptionInformation())) {
      DbgPrint("probe: user lock of an unmapped page 0x%08x parameters %u flags 0x%x\n", g_code, g_count,
               mdl->MdlFlags);
    }
    IoFreeMdl(mdl);
  }
  if (!buffer) return;
  mdl = IoAllocateMdl(buffer, 64, FALSE, FALSE, NULL);
  if (mdl) {
    reset();
    __try {
      MmProbeAndLockPages(mdl, UserMode, IoReadAccess);
      DbgPrint("probe: user lock of a kernel buffer succeeded\n");
      MmUnlockPages(mdl);
    } __except (record(GetExceptionInformation())) {
      DbgPrint("probe: user lock of a kernel buffer 0x%08x\n", g_code);
    }
    IoFreeMdl(mdl);
  }
  ExFreePoolWithTag(buffer, PROBE_TAG);
}

#ifdef PROBE_WRITE_READ_LOCKED
/* Writes through the mapping of pages locked for reading. */
static void write_read_locked(void) {
  char* buffer = ExAllocatePoolWithTag(NonPagedPool, 64, PROBE_TAG);
  PMDL mdl;
  volatile char* mapped;
  if (!buffer) return;
  mdl = IoAllocateMdl(buffer, 64, FALSE, FALSE, NULL);
  if (!mdl) return;
  __try {
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return;
  }
  mapped = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority);
  if (!mapped) return;
  DbgPrint("probe: writing through a read-locked mapping\n");
  mapped[0] = 'W';
  DbgPrint("probe: survived the write\n");
}
#endif

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);
  probes();
  pool_mdl();
  locked_mapping(IoReadAccess, "read");
  locked_mapping(IoModifyAccess, "modify");
  user_locks();
  DbgPrint("probe: done\n");
#ifdef PROBE_WRITE_READ_LOCKED
  write_read_locked();
#endif
  return STATUS_SUCCESS;
}

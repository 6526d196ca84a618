/*
 * paged_at_dispatch: a device that maps keys to values through a small table.
 * Bug: the table lives in paged pool and the lookup routine is pageable (a
 * PAGE section, as `#pragma alloc_text(PAGE, ...)` makes it with MSVC), yet the
 * lookup runs under the table's spin lock, at DISPATCH_LEVEL (checks.md
 * irql.paged-at-dispatch). On Windows this works until the page holding the
 * code or the table is trimmed: the fault at DISPATCH_LEVEL is bugcheck 0xD1.
 * kemu keeps every page resident, so the run goes on with the finding.
 * Fixed: code and data used at DISPATCH_LEVEL are nonpaged.
 */
#include "bug_driver.h"

#define IOCTL_LOOKUP BUG_IOCTL(2) /* 0x80002C08 */
#define TABLE_SIZE 16

#ifdef KEMU_FIXED
#define LOOKUP_SECTION
#define TABLE_POOL NonPagedPoolNx
#else
/* clang ignores #pragma alloc_text: the section attribute does the same. */
#define LOOKUP_SECTION __attribute__((section("PAGE")))
#define TABLE_POOL PagedPool
#endif

static KSPIN_LOCK g_table_lock;
static ULONG *g_table;

BUG_ROUTINE LOOKUP_SECTION ULONG LookupValue(ULONG key) {
  return g_table[key % TABLE_SIZE];
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  KIRQL irql;
  ULONG key, value;
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_LOOKUP) return STATUS_INVALID_DEVICE_REQUEST;
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG) ||
      sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
    return STATUS_BUFFER_TOO_SMALL;
  key = *(ULONG *)irp->AssociatedIrp.SystemBuffer;
  KeAcquireSpinLock(&g_table_lock, &irql);
  value = LookupValue(key);
  KeReleaseSpinLock(&g_table_lock, irql);
  *(ULONG *)irp->AssociatedIrp.SystemBuffer = value;
  *information = sizeof(ULONG);
  return STATUS_SUCCESS;
}

static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  ULONG i;
  UNREFERENCED_PARAMETER(driver);
  KeInitializeSpinLock(&g_table_lock);
  g_table = ExAllocatePoolWithTag(TABLE_POOL, TABLE_SIZE * sizeof(ULONG), 'lbaT');
  if (!g_table) return STATUS_INSUFFICIENT_RESOURCES;
  for (i = 0; i < TABLE_SIZE; ++i) g_table[i] = i * 100;
  return STATUS_SUCCESS;
}

static VOID bug_unload(VOID) {
  ExFreePoolWithTag(g_table, 'lbaT');
}

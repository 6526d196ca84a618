/*
 * poolloop: DriverEntry allocates 64-byte blocks in a loop until the pool
 * says no (or 100,000 blocks), frees them all, and prints how many it got.
 * The pool cap and the guest memory cap must bound it, and the verifier's
 * guarded placement (one page and a guard page per driver block) must fall
 * back to normal pool after its live-bytes bound instead of failing early.
 */
#include "kemu_sample.h"
#include <ntddk.h>

KEMU_DRIVER_ENTRY;

#define LOOP_TAG 'pooL'
#define MAX_BLOCKS 100000

static PVOID g_blocks[MAX_BLOCKS];

static VOID NTAPI Unload(PDRIVER_OBJECT driver) { UNREFERENCED_PARAMETER(driver); }

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  ULONG count = 0, i;
  UNREFERENCED_PARAMETER(registry_path);
  while (count < MAX_BLOCKS) {
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 64, LOOP_TAG);
    if (!p) break;
    g_blocks[count++] = p;
  }
  for (i = 0; i < count; ++i) ExFreePoolWithTag(g_blocks[i], LOOP_TAG);
  KEMU_PRINT("poolloop: %lu blocks\n", count);
  driver->DriverUnload = Unload;
  return STATUS_SUCCESS;
}

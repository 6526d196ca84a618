/*
 * reloc.sys - a pointer table in .data that only works if the loader applied
 * the image's base relocations (the preferred base 0x180000000 is a user
 * address, so kemu must relocate). Every entry must point into the image.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

/* lld defines __ImageBase at the image's first byte (its DOS header). */
extern IMAGE_DOS_HEADER __ImageBase;

static KEMU_NOINLINE VOID RelocFirst(VOID) { DbgPrint("reloc: first function called\n"); }
static KEMU_NOINLINE VOID RelocSecond(VOID) { DbgPrint("reloc: second function called\n"); }

static char RelocString[] = "kemu relocated string";

/* Not static and not const: the compiler must keep it in .data, load every
 * entry at run time and emit a DIR64 relocation for each one. */
PVOID RelocTable[4] = {
    (PVOID)RelocFirst,
    (PVOID)RelocSecond,
    (PVOID)RelocString,
    (PVOID)RelocTable,
};

typedef VOID (*RELOC_FN)(VOID);

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  const ULONG_PTR base = (ULONG_PTR)&__ImageBase;
  const IMAGE_NT_HEADERS* nt = (const IMAGE_NT_HEADERS*)(base + (ULONG_PTR)__ImageBase.e_lfanew);
  const ULONG_PTR end = base + nt->OptionalHeader.SizeOfImage;
  ULONG inside = 0;
  ULONG i;

  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);

  for (i = 0; i < KEMU_ARRAY_SIZE(RelocTable); i++) {
    const ULONG_PTR p = (ULONG_PTR)RelocTable[i];
    if (p >= base && p < end) {
      inside++;
    } else {
      DbgPrint("reloc: entry %u (%p) outside the image\n", i, RelocTable[i]);
    }
  }
  DbgPrint("reloc: %u of %u pointers inside the image\n", inside,
           (ULONG)KEMU_ARRAY_SIZE(RelocTable));
  if (inside != KEMU_ARRAY_SIZE(RelocTable)) {
    return STATUS_UNSUCCESSFUL;
  }

  ((RELOC_FN)RelocTable[0])();
  ((RELOC_FN)RelocTable[1])();
  DbgPrint("reloc: string \"%s\"\n", (const char*)RelocTable[2]);
  return STATUS_SUCCESS;
}

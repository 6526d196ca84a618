/*
 * irql.sys - walks the inline CR8 paths of the x64 DDK headers:
 * KeGetCurrentIrql (mov rax, cr8), KeRaiseIrql/KfRaiseIrql and
 * KeRaiseIrqlToDpcLevel (read cr8, write cr8), KeLowerIrql (mov cr8, rax).
 * None of them is an import on x64.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  KIRQL start;
  KIRQL old;
  KIRQL old2;

  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);

  start = KeGetCurrentIrql();
  DbgPrint("irql: start %u\n", start);

  KeRaiseIrql(DISPATCH_LEVEL, &old);
  DbgPrint("irql: raised %u (old %u)\n", KeGetCurrentIrql(), old);

  KeLowerIrql(old);
  DbgPrint("irql: lowered %u\n", KeGetCurrentIrql());

  old2 = KeRaiseIrqlToDpcLevel();
  DbgPrint("irql: raised to dpc %u (old %u)\n", KeGetCurrentIrql(), old2);

  KeLowerIrql(old2);
  DbgPrint("irql: end %u\n", KeGetCurrentIrql());

  return KeGetCurrentIrql() == PASSIVE_LEVEL ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}

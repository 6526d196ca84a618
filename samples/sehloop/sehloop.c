/*
 * sehloop.sys - DriverEntry runs SEHLOOP_ITERATIONS exception dispatch round
 * trips, each one: a non-inlined callee raises STATUS_INSUFFICIENT_RESOURCES
 * with ExRaiseStatus, the search phase calls the __except filter (which
 * counts and accepts it), the unwind returns to the __except block (which
 * counts too). For the exception-dispatch benchmark in bench/.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

#define SEHLOOP_ITERATIONS 20000UL

/* volatile: the count cannot be folded, the loop stays a loop of raises. */
static volatile ULONG Iterations = SEHLOOP_ITERATIONS;
static volatile ULONG Filtered;
static volatile ULONG Handled;

__declspec(noinline) static void raise_it(NTSTATUS s) { ExRaiseStatus(s); }

__declspec(noinline) static int filter(unsigned long code) {
  if (code != (unsigned long)STATUS_INSUFFICIENT_RESOURCES) return EXCEPTION_CONTINUE_SEARCH;
  Filtered++;
  return EXCEPTION_EXECUTE_HANDLER;
}

__declspec(noinline) static void round_trip(void) {
  __try {
    raise_it(STATUS_INSUFFICIENT_RESOURCES);
  } __except (filter(GetExceptionCode())) {
    Handled++;
  }
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  ULONG n = Iterations;
  ULONG i;

  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);

  for (i = 0; i < n; i++) round_trip();

  DbgPrint("sehloop: %lu raised %lu filtered %lu handled\n", n, Filtered, Handled);
  return STATUS_SUCCESS;
}

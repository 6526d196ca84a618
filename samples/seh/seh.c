/*
 * seh.sys - structured exception handling as Windows runs it: filters in the
 * search phase, __finally blocks during the unwind, then the __except block.
 * Each step appends a letter to a trace that DriverEntry prints, so a test can
 * pin the order. Faults happen in separate non-inlined functions (clang does
 * not model a fault in the same function as its __try).
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

static char g_trace[64];
static int g_len;

static void mark(char c) {
  if (g_len < (int)sizeof(g_trace) - 1) g_trace[g_len++] = c;
  g_trace[g_len] = 0;
}

static void reset(void) {
  g_len = 0;
  g_trace[0] = 0;
}

__declspec(noinline) static int touch(volatile int* p) { return *p; }

__declspec(noinline) static int divide(int a, int b) { return a / b; }

__declspec(noinline) static void raise_it(NTSTATUS s) { ExRaiseStatus(s); }

static int filter(unsigned long code, unsigned long expected, char tag, int verdict) {
  mark(tag);
  return code == expected ? verdict : EXCEPTION_CONTINUE_SEARCH;
}

/* The inner __finally runs during the unwind, after both filters ran. */
__declspec(noinline) static void inner(volatile int* bad) {
  __try {
    __try {
      touch(bad);
      mark('X'); /* never reached */
    } __finally {
      mark(AbnormalTermination() ? 'F' : 'f');
    }
  } __except (filter(GetExceptionCode(), STATUS_INTEGER_OVERFLOW, 'a', EXCEPTION_EXECUTE_HANDLER)) {
    mark('Y'); /* wrong code: never taken */
  }
}

__declspec(noinline) static void nested_order(void) {
  __try {
    inner((volatile int*)(ULONG_PTR)0x1000); /* an unmapped user address */
  } __except (filter(GetExceptionCode(), STATUS_ACCESS_VIOLATION, 'b', EXCEPTION_EXECUTE_HANDLER)) {
    mark('H');
  }
}

__declspec(noinline) static void level2(void) { raise_it(STATUS_INSUFFICIENT_RESOURCES); }
__declspec(noinline) static void level1(void) { level2(); mark('X'); }

__declspec(noinline) static NTSTATUS two_frames_up(void) {
  __try {
    level1();
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return GetExceptionCode();
  }
  return STATUS_SUCCESS;
}

__declspec(noinline) static NTSTATUS divide_by_zero(volatile int zero) {
  __try {
    return divide(10, zero);
  } __except (GetExceptionCode() == STATUS_INTEGER_DIVIDE_BY_ZERO ? EXCEPTION_EXECUTE_HANDLER
                                                                   : EXCEPTION_CONTINUE_SEARCH) {
    return GetExceptionCode();
  }
}

__declspec(noinline) static int finally_normal(void) {
  int r = 0;
  __try {
    r = 1;
  } __finally {
    mark(AbnormalTermination() ? 'N' : 'n');
  }
  return r;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  NTSTATUS s;
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);

  reset();
  nested_order();
  DbgPrint("seh: nested order %s\n", g_trace);

  s = two_frames_up();
  DbgPrint("seh: caught two frames up 0x%08x\n", s);

  s = divide_by_zero(0);
  DbgPrint("seh: divide by zero 0x%08x\n", s);

  DbgBreakPoint();
  __debugbreak();
  DbgPrint("seh: breakpoints continued\n");

  reset();
  finally_normal();
  DbgPrint("seh: finally on normal exit %s\n", g_trace);
  return STATUS_SUCCESS;
}

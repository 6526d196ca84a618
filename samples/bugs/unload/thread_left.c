/*
 * thread_left: a driver with a worker thread that wakes every 50 ms until
 * told to stop. Bug: DriverUnload never tells it, nor waits for it: the
 * thread is still waiting on an event inside the unloaded image, and when
 * its wait times out the kernel touches that event: bugcheck 0x50
 * PAGE_FAULT_IN_NONPAGED_AREA (had it returned into the image, 0xCE)
 * (checks.md unload.leftovers). Fixed: DriverUnload signals the stop event
 * and waits on the thread object.
 */
#include "bug_driver.h"

static KEVENT g_stop;
static PVOID g_thread;
static volatile LONG g_ticks;

static VOID NTAPI Worker(PVOID context) {
  LARGE_INTEGER period;
  UNREFERENCED_PARAMETER(context);
  period.QuadPart = -50 * 10000LL;
  while (KeWaitForSingleObject(&g_stop, Executive, KernelMode, FALSE, &period) == STATUS_TIMEOUT)
    InterlockedIncrement(&g_ticks);
  PsTerminateSystemThread(STATUS_SUCCESS);
}

BUG_ROUTINE NTSTATUS StartWorker(VOID) {
  HANDLE handle;
  NTSTATUS status;
  KeInitializeEvent(&g_stop, NotificationEvent, FALSE);
  status = PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, Worker, NULL);
  if (!NT_SUCCESS(status)) return status;
  status = ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &g_thread, NULL);
  ZwClose(handle);
  return status;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  UNREFERENCED_PARAMETER(irp);
  UNREFERENCED_PARAMETER(sp);
  UNREFERENCED_PARAMETER(information);
  return STATUS_INVALID_DEVICE_REQUEST;
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  return StartWorker();
}
static VOID bug_unload(VOID) {
#ifdef KEMU_FIXED
  KeSetEvent(&g_stop, IO_NO_INCREMENT, FALSE);
  KeWaitForSingleObject(g_thread, Executive, KernelMode, FALSE, NULL);
#endif
  ObDereferenceObject(g_thread);
}

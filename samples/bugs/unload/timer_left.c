/*
 * timer_left: a driver that polls its device every 100 ms with a periodic
 * timer and DPC it starts in DriverEntry. Bug: DriverUnload deletes the
 * device and link but never cancels the timer: the KTIMER inside the image is
 * still queued when Windows unmaps it (bugcheck 0xC7 TIMER_OR_DPC_INVALID;
 * had it fired, its DPC would run unloaded code, 0xCE) (checks.md
 * unload.leftovers). Fixed: KeCancelTimer and KeFlushQueuedDpcs in
 * DriverUnload.
 */
#include "bug_driver.h"

static KTIMER g_poll_timer;
static KDPC g_poll_dpc;
static volatile LONG g_polls;
static BOOLEAN g_polling;
static volatile BOOLEAN g_was_queued; /* KeSetTimerEx's answer: the timer was already queued */

static VOID NTAPI PollDpc(PKDPC dpc, PVOID context, PVOID arg1, PVOID arg2) {
  UNREFERENCED_PARAMETER(dpc);
  UNREFERENCED_PARAMETER(context);
  UNREFERENCED_PARAMETER(arg1);
  UNREFERENCED_PARAMETER(arg2);
  InterlockedIncrement(&g_polls);
}

BUG_ROUTINE VOID StartPolling(VOID) {
  LARGE_INTEGER due;
  KeInitializeTimerEx(&g_poll_timer, NotificationTimer);
  KeInitializeDpc(&g_poll_dpc, PollDpc, NULL);
  due.QuadPart = -100 * 10000LL; /* 100 ms from now, then every 100 ms */
  g_was_queued = KeSetTimerEx(&g_poll_timer, due, 100, &g_poll_dpc);
  g_polling = TRUE;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  UNREFERENCED_PARAMETER(irp);
  UNREFERENCED_PARAMETER(sp);
  UNREFERENCED_PARAMETER(information);
  return STATUS_INVALID_DEVICE_REQUEST;
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  StartPolling();
  return STATUS_SUCCESS;
}
static VOID bug_unload(VOID) {
#ifdef KEMU_FIXED
  if (g_polling) {
    KeCancelTimer(&g_poll_timer);
    KeFlushQueuedDpcs();
  }
#endif
}

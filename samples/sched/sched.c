/*
 * sched.sys - a system thread, a DPC, a periodic timer and a work item
 * cooperating through events. Each step appends to a trace DriverEntry prints,
 * so the order kemu's deterministic scheduler gives is pinned by a test.
 *   default            the cooperation, then "sched: trace ..." and STATUS_SUCCESS
 *   SCHED_TIMEOUT      a wait with a timeout on an event nobody sets
 *   SCHED_DEADLOCK     a wait nothing can ever satisfy (the run ends: deadlock)
 *   SCHED_LEAK_TIMER   DriverUnload leaves a pool timer queued: 0xCE when it fires
 *   SCHED_LEAK_TIMER_IN_IMAGE  the queued timer lives in the image: 0xC7 at unload
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

static KEVENT g_started, g_go, g_ticks_done;
static KTIMER g_timer;
static KDPC g_dpc;
static PIO_WORKITEM g_work;
static PDEVICE_OBJECT g_device;
static volatile LONG g_ticks;
static char g_trace[64];
static int g_len;

static void mark(char c) {
  if (g_len < (int)sizeof(g_trace) - 1) g_trace[g_len++] = c;
  g_trace[g_len] = 0;
}

static VOID NTAPI ThreadMain(PVOID context) {
  UNREFERENCED_PARAMETER(context);
  mark('T');
  KeSetEvent(&g_started, IO_NO_INCREMENT, FALSE);
  KeWaitForSingleObject(&g_go, Executive, KernelMode, FALSE, NULL);
  mark('t');
  PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID NTAPI TimerDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2) {
  UNREFERENCED_PARAMETER(dpc);
  UNREFERENCED_PARAMETER(context);
  UNREFERENCED_PARAMETER(a1);
  UNREFERENCED_PARAMETER(a2);
  mark('D');
  if (InterlockedIncrement(&g_ticks) == 3) {
    KeCancelTimer(&g_timer);
    KeSetEvent(&g_ticks_done, IO_NO_INCREMENT, FALSE);
  }
}

static VOID NTAPI WorkRoutine(PDEVICE_OBJECT device, PVOID context) {
  UNREFERENCED_PARAMETER(device);
  UNREFERENCED_PARAMETER(context);
  mark('W');
  KeSetEvent(&g_go, IO_NO_INCREMENT, FALSE);
}

#if defined(SCHED_LEAK_TIMER) || defined(SCHED_LEAK_TIMER_IN_IMAGE)
static VOID NTAPI LeakyUnload(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  DbgPrint("sched: unload without cancelling the timer\n");
}
#endif

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);
  KeInitializeEvent(&g_started, SynchronizationEvent, FALSE);
  KeInitializeEvent(&g_go, SynchronizationEvent, FALSE);
  KeInitializeEvent(&g_ticks_done, NotificationEvent, FALSE);
  KeInitializeTimerEx(&g_timer, NotificationTimer);
  KeInitializeDpc(&g_dpc, TimerDpc, NULL);

#if defined(SCHED_TIMEOUT)
  {
    LARGE_INTEGER timeout;
    timeout.QuadPart = -50 * 10000;  /* 50 ms */
    status = KeWaitForSingleObject(&g_go, Executive, KernelMode, FALSE, &timeout);
    DbgPrint("sched: wait with timeout returned 0x%08x\n", status);
    return STATUS_SUCCESS;
  }
#elif defined(SCHED_DEADLOCK)
  DbgPrint("sched: waiting for an event nobody sets\n");
  KeWaitForSingleObject(&g_go, Executive, KernelMode, FALSE, NULL);
  DbgPrint("sched: not reached\n");
  return STATUS_SUCCESS;
#elif defined(SCHED_LEAK_TIMER)
  {
    /* The timer and its DPC live in pool (as in a device extension); the DPC
       routine lives in the image, which is gone when the timer fires. */
    LARGE_INTEGER due;
    PKTIMER timer = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(KTIMER), 'mTmK');
    PKDPC dpc = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(KDPC), 'pDmK');
    if (!timer || !dpc) return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeTimer(timer);
    KeInitializeDpc(dpc, TimerDpc, NULL);
    due.QuadPart = -1000 * 10000;  /* 1 s */
    KeSetTimer(timer, due, dpc);
    DriverObject->DriverUnload = LeakyUnload;
    DbgPrint("sched: timer set for 1 s\n");
    return STATUS_SUCCESS;
  }
#elif defined(SCHED_LEAK_TIMER_IN_IMAGE)
  {
    LARGE_INTEGER due;
    due.QuadPart = -1000 * 10000;  /* 1 s */
    KeSetTimer(&g_timer, due, &g_dpc);
    DriverObject->DriverUnload = LeakyUnload;
    DbgPrint("sched: timer in the image set for 1 s\n");
    return STATUS_SUCCESS;
  }
#else
  {
    HANDLE thread;
    PVOID thread_object;
    LARGE_INTEGER due;
    OBJECT_ATTRIBUTES attributes;

    status = IoCreateDevice(DriverObject, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_device);
    if (!NT_SUCCESS(status)) return status;
    g_work = IoAllocateWorkItem(g_device);

    InitializeObjectAttributes(&attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, &attributes, NULL, NULL, ThreadMain, NULL);
    if (!NT_SUCCESS(status)) return status;
    status = ObReferenceObjectByHandle(thread, SYNCHRONIZE, *(POBJECT_TYPE*)PsThreadType, KernelMode,
                                       &thread_object, NULL);
    DbgPrint("sched: thread handle %s kernel handle, reference 0x%08x\n",
             ((ULONG_PTR)thread & 0xFFFFFFFF80000000ull) == 0xFFFFFFFF80000000ull ? "is a" : "is not a",
             status);
    ZwClose(thread);

    mark('E');
    KeWaitForSingleObject(&g_started, Executive, KernelMode, FALSE, NULL);
    mark('S');

    due.QuadPart = -10 * 10000;  /* 10 ms, then every 10 ms */
    KeSetTimerEx(&g_timer, due, 10, &g_dpc);
    KeWaitForSingleObject(&g_ticks_done, Executive, KernelMode, FALSE, NULL);
    mark('P');

    IoQueueWorkItem(g_work, WorkRoutine, DelayedWorkQueue, NULL);
    KeWaitForSingleObject(thread_object, Executive, KernelMode, FALSE, NULL);
    mark('X');
    ObDereferenceObject(thread_object);
    IoFreeWorkItem(g_work);
    IoDeleteDevice(g_device);
    DbgPrint("sched: trace %s\n", g_trace);
    return STATUS_SUCCESS;
  }
#endif
}

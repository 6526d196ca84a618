/*
 * unimplemented.sys - calls an ntoskrnl export kemu has no handler for
 * (IoReportResourceForDetection) with plausible arguments and keeps going,
 * the way a driver that ignores a failed legacy-detection call would.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  CM_RESOURCE_LIST resources;
  PCM_PARTIAL_RESOURCE_DESCRIPTOR port;
  BOOLEAN conflict = FALSE;
  NTSTATUS status;

  UNREFERENCED_PARAMETER(RegistryPath);

  /* One ISA I/O-port range, as a legacy COM1 detection driver would claim.
   * Every field is set explicitly (no RtlZeroMemory, which would import
   * memset) so the driver's only import besides DbgPrint is the unimplemented
   * routine. */
  resources.Count = 1;
  resources.List[0].InterfaceType = Isa;
  resources.List[0].BusNumber = 0;
  resources.List[0].PartialResourceList.Version = 1;
  resources.List[0].PartialResourceList.Revision = 1;
  resources.List[0].PartialResourceList.Count = 1;
  port = &resources.List[0].PartialResourceList.PartialDescriptors[0];
  port->Type = CmResourceTypePort;
  port->ShareDisposition = CmResourceShareDeviceExclusive;
  port->Flags = CM_RESOURCE_PORT_IO | CM_RESOURCE_PORT_16_BIT_DECODE;
  port->u.Port.Start.QuadPart = 0x3F8;
  port->u.Port.Length = 8;

  status = IoReportResourceForDetection(DriverObject, &resources, sizeof(resources), NULL, NULL, 0,
                                        &conflict);
  DbgPrint("IoReportResourceForDetection returned 0x%08x\n", status);
  DbgPrint("after unimplemented call\n");
  return STATUS_SUCCESS;
}

/*
 * request_driver.h - what the request-probe pairs share: the device
 * \Device\KemuReq with its link \??\KemuReq, completion, and an unload that
 * removes both. Each pair is one source built twice: <name>_bug.sys as real
 * drivers get it wrong, <name>_fixed.sys (-DKEMU_FIXED) as Windows requires.
 * The routine holding the mistake is exported, so kemu's findings name it.
 */
#ifndef KEMU_REQUEST_DRIVER_H
#define KEMU_REQUEST_DRIVER_H

#include "kemu_sample.h"
#include <ntifs.h>

KEMU_DRIVER_ENTRY;

#define REQ_ROUTINE __declspec(dllexport) KEMU_NOINLINE
#define REQ_TAG 'qeRK'
#define REQ_DEVICE_NAME L"\\Device\\KemuReq"
#define REQ_LINK_NAME L"\\??\\KemuReq"

static NTSTATUS req_complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

/* The device and its link; `characteristics` as the pair needs them. */
static __inline __attribute__((always_inline)) NTSTATUS req_create_device(PDRIVER_OBJECT driver, ULONG characteristics, PDEVICE_OBJECT *device) {
  UNICODE_STRING name, link;
  NTSTATUS status;
  RtlInitUnicodeString(&name, REQ_DEVICE_NAME);
  status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, characteristics, FALSE, device);
  if (!NT_SUCCESS(status)) return status;
  RtlInitUnicodeString(&link, REQ_LINK_NAME);
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) IoDeleteDevice(*device);
  return status;
}

static VOID NTAPI ReqUnload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  RtlInitUnicodeString(&link, REQ_LINK_NAME);
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(driver->DeviceObject);
}

#endif /* KEMU_REQUEST_DRIVER_H */

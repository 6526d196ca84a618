/*
 * port_io: a driver for a serial-port expansion card whose tool reads and
 * writes the card's UART registers. Bug: the IOCTLs (properly defined with
 * FILE_READ_ACCESS / FILE_WRITE_ACCESS) take the I/O port number itself from
 * the caller: `in`/`out` to any port of the machine — PCI configuration
 * (0xCF8/0xCFC), disk controllers, the keyboard controller's reset
 * (checks.md primitive.port-io). Fixed: the caller names a register (0..7) of
 * the card's own port range, which the driver adds to the base it owns (on
 * real hardware: from its CM_RESOURCE_LIST).
 */
#include "bug_driver.h"
#include <intrin.h>

#define IOCTL_PORT_WRITE CTL_CODE(0x8000, 0xB00, METHOD_BUFFERED, FILE_WRITE_ACCESS) /* 0x8000AC00 */
#define IOCTL_PORT_READ CTL_CODE(0x8000, 0xB01, METHOD_BUFFERED, FILE_READ_ACCESS)   /* 0x80006C04 */

#define UART_BASE 0x2F8 /* the card's eight UART registers */
#define UART_REGISTERS 8

typedef struct {
  ULONG Target; /* bug: the port; fixed: the register index */
  ULONG Value;
} PORT_REQUEST;

#ifndef KEMU_FIXED
BUG_ROUTINE VOID WritePort(const PORT_REQUEST *in) { __outdword((USHORT)in->Target, in->Value); }
BUG_ROUTINE ULONG ReadPort(const PORT_REQUEST *in) { return __indword((USHORT)in->Target); }
#define ACCESS_PORT(in) STATUS_SUCCESS
#else
BUG_ROUTINE VOID WritePort(const PORT_REQUEST *in) { __outbyte((USHORT)(UART_BASE + in->Target), (UCHAR)in->Value); }
BUG_ROUTINE ULONG ReadPort(const PORT_REQUEST *in) { return __inbyte((USHORT)(UART_BASE + in->Target)); }
#define ACCESS_PORT(in) ((in)->Target < UART_REGISTERS ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER)
#endif

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  PORT_REQUEST *buffer = irp->AssociatedIrp.SystemBuffer;
  ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
  NTSTATUS status;
  if (code != IOCTL_PORT_WRITE && code != IOCTL_PORT_READ) return STATUS_INVALID_DEVICE_REQUEST;
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(PORT_REQUEST)) return STATUS_BUFFER_TOO_SMALL;
  status = ACCESS_PORT(buffer);
  if (!NT_SUCCESS(status)) return status;
  if (code == IOCTL_PORT_WRITE) {
    WritePort(buffer);
    return STATUS_SUCCESS;
  }
  if (sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) return STATUS_BUFFER_TOO_SMALL;
  *(PULONG)buffer = ReadPort(buffer);
  *information = sizeof(ULONG);
  return STATUS_SUCCESS;
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}

# tutorial_sync check on fixtures/stale.md must exit 1 and show the stale line
# and kemu's line in a unified diff (cmake -P, TOOL KEMU SOURCE BUILD set by the caller).
execute_process(
  COMMAND ${TOOL} check --kemu ${KEMU} --source ${SOURCE} --build ${BUILD}
          ${SOURCE}/tests/tutorial/fixtures/stale.md
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "expected exit 1, got ${rc}:\n${all}")
endif()
foreach(expected
    "stale.md:6: the output shown for"
    "-  ioctl 0x4 0x80002c08, information 0: STATUS_SUCCESS (0x00000000)"
    "+  ioctl 0x4 0x80002c08, information 0: STATUS_BUFFER_TOO_SMALL (0xc0000023)"
    "1 of 1 shown runs differ")
  string(FIND "${all}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "missing from the report: ${expected}\n${all}")
  endif()
endforeach()

# kemu_add_sample_driver(<name> SOURCES a.c [b.c ...] [OPT -O0] [CFLAGS ...] [LIBS ...])
#
# OPT is the optimization level (default -O2). Header dependencies (the DDK
# headers and samples/include/kemu_sample.h) are tracked through a depfile.
#
# Builds a real PE32+ native kernel driver <name>.sys with clang-14 for
# x86_64-w64-windows-gnu against the mingw-w64 DDK headers, linked by lld
# against mingw's import libraries for ntoskrnl.exe and hal.dll. The result is
# ${KEMU_SAMPLES_DIR}/<name>.sys and a custom target kemu_sample_<name>.
find_program(KEMU_CLANG NAMES clang-14 clang)
set(KEMU_MINGW_DDK_INCLUDE /usr/share/mingw-w64/include/ddk CACHE PATH "mingw-w64 DDK headers")
set(KEMU_MINGW_LIB_DIR /usr/x86_64-w64-mingw32/lib CACHE PATH "mingw-w64 import libraries")
set(KEMU_SAMPLES_DIR ${CMAKE_BINARY_DIR}/samples-bin CACHE INTERNAL "where sample .sys files go")

set(KEMU_SAMPLE_CFLAGS
    --target=x86_64-w64-windows-gnu -fms-extensions -ffreestanding -fno-stack-protector
    -mno-stack-arg-probe -fasynchronous-unwind-tables -Wall -Wno-pragma-pack -Wno-unknown-pragmas
    -Wno-ignored-pragma-intrinsic -Wno-microsoft-anon-tag
    -I${KEMU_MINGW_DDK_INCLUDE} -I${CMAKE_SOURCE_DIR}/samples/include)
set(KEMU_SAMPLE_LDFLAGS
    --target=x86_64-w64-windows-gnu -fuse-ld=lld -nostdlib -shared
    -Wl,--subsystem,native -Wl,--entry,DriverEntry -Wl,--exclude-all-symbols
    -L${KEMU_MINGW_LIB_DIR})

add_custom_target(kemu_samples ALL)

function(kemu_add_sample_driver name)
  cmake_parse_arguments(ARG "" "OPT" "SOURCES;CFLAGS;LIBS" ${ARGN})
  if(NOT ARG_OPT)
    set(ARG_OPT -O2)
  endif()
  set(objects)
  foreach(src IN LISTS ARG_SOURCES)
    get_filename_component(abs ${src} ABSOLUTE)
    get_filename_component(stem ${src} NAME_WE)
    set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}-${stem}.obj)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${KEMU_CLANG} ${KEMU_SAMPLE_CFLAGS} ${ARG_OPT} ${ARG_CFLAGS} -MD -MF ${obj}.d
              -c ${abs} -o ${obj}
      DEPENDS ${abs} ${CMAKE_SOURCE_DIR}/samples/include/kemu_sample.h
      DEPFILE ${obj}.d
      COMMENT "Compiling sample driver source ${src} (${name})"
      VERBATIM)
    list(APPEND objects ${obj})
  endforeach()
  set(out ${KEMU_SAMPLES_DIR}/${name}.sys)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${KEMU_SAMPLES_DIR}
    COMMAND ${KEMU_CLANG} ${KEMU_SAMPLE_LDFLAGS} ${objects} ${ARG_LIBS} -lntoskrnl -lhal -o ${out}
    DEPENDS ${objects}
    COMMENT "Linking sample driver ${name}.sys"
    VERBATIM)
  add_custom_target(kemu_sample_${name} DEPENDS ${out})
  add_dependencies(kemu_samples kemu_sample_${name})
endfunction()

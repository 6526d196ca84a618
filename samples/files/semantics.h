/* The semantics suite of files.sys (semantics.c): counts and failing lines. */
#ifndef FILES_SEMANTICS_H
#define FILES_SEMANTICS_H

#define FILES_MAX_FAILURES 16
typedef struct {
  ULONG passed;
  ULONG failed;
  ULONG lines[FILES_MAX_FAILURES];
} FILES_RESULTS;

void files_semantics(FILES_RESULTS* results);

#endif

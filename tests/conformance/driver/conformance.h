/* Shared by the conformance suite's sources: the OK() harness (conformance.c)
 * and the suites that live in their own files. */
#pragma once
#include "kemu_sample.h"
#include <ntifs.h>

/* Counts one assertion; a failing one records its line and prints its rule. */
void ok_(BOOLEAN condition, ULONG line, const char *rule);
#define OK(condition, rule) ok_((BOOLEAN)(condition), __LINE__, rule)

/* section_rules.c: sections and views, in the System process (DriverEntry)
 * or in the client's request. */
void section_rules(BOOLEAN client_context);

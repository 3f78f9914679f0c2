// SPDX-License-Identifier: MIT
/*
 * What fsd's modules take from main.c, for the test binary, which links the
 * modules without the daemon's main.
 */
#include "../../fsd/fsd.h"

#include <stdarg.h>
#include <stdio.h>

struct config fsd_config;

/* The tests choose the example module (-o user=example). */
extern const struct user_module user_example;

const struct user_module *const user_modules[] = { &user_example, NULL };

void fsd_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void fsd_worker_exited(int err)
{
	(void)err;
}

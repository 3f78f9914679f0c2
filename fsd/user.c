// SPDX-License-Identifier: MIT
/*
 * Finding a userspace module (user.h) by name among those the program was
 * built with, and the call of a module's handler.  The program lists its
 * modules (user_modules[], fsd's in main.c): the daemon names none.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <string.h>

static const struct user_module no_module = { .name = "none" };

const struct user_module *user_module = &no_module;

const struct user_module *user_module_find(const char *name)
{
	if (!strcmp(name, no_module.name))
		return &no_module;
	for (size_t i = 0; user_modules[i]; i++)
		if (!strcmp(user_modules[i]->name, name))
			return user_modules[i];
	return NULL;
}

void user_modules_list(char *buf, size_t size)
{
	size_t used = snprintf(buf, size, "%s", no_module.name);

	for (size_t i = 0; user_modules[i] && used < size; i++)
		used += snprintf(buf + used, size - used, ", %s", user_modules[i]->name);
}

int user_handle(struct request *req)
{
	uint32_t op = req->opcode;

	atomic_fetch_add_explicit(&stats_user[op], 1, memory_order_relaxed);
	if (user_module->handler[op])
		return user_module->handler[op](req);
	return request_backing(req);
}

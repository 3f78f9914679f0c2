// SPDX-License-Identifier: MIT
/*
 * The table of built-in userspace modules (see user.h) and the call of a
 * module's handler.  An embedder adds its module here.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <string.h>

extern const struct user_module user_example;
extern const struct user_module user_media;

static const struct user_module *const modules[] = {
	&user_example,
	&user_media,
};

static const struct user_module no_module = { .name = "none" };

const struct user_module *user_module = &no_module;

const struct user_module *user_module_find(const char *name)
{
	if (!strcmp(name, no_module.name))
		return &no_module;
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
		if (!strcmp(modules[i]->name, name))
			return modules[i];
	return NULL;
}

void user_modules_list(char *buf, size_t size)
{
	size_t used = snprintf(buf, size, "%s", no_module.name);

	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]) && used < size; i++)
		used += snprintf(buf + used, size - used, ", %s", modules[i]->name);
}

int user_handle(struct request *req)
{
	uint32_t op = req->opcode;

	atomic_fetch_add_explicit(&stats_user[op], 1, memory_order_relaxed);
	if (user_module->handler[op])
		return user_module->handler[op](req);
	return request_backing(req);
}

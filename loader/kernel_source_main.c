// SPDX-License-Identifier: MIT
/*
 * build/kernel-source SOURCE.bpf.c DAEMON.bpf.o: writes the kernel-mode
 * source of a policy to stdout, for make, which builds the fusebpf tool
 * from the kernel-mode objects and so cannot ask it (loader/kernel_source.c).
 */
#include "loader.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	struct loader_error err = { 0 };

	if (argc != 3) {
		fprintf(stderr, "usage: %s SOURCE.bpf.c DAEMON.bpf.o > SOURCE.kern.c\n", argv[0]);
		return 2;
	}
	if (loader_kernel_source(argv[1], argv[2], stdout, &err)) {
		fprintf(stderr, "%s: %s\n", argv[0], err.msg);
		return 1;
	}
	return 0;
}

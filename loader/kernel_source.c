// SPDX-License-Identifier: MIT
/*
 * A policy's kernel-mode source (docs/abi.md, "Kernel mode"): a C file
 * that includes the policy's source, which is then compiled with
 * FUSEBPF_FLAVOR_KERNEL, defines one struct_ops member per opcode the
 * policy filters, found from the filter functions of its daemon-mode
 * object (<op>_prefilter, <op>_postfilter), and then the struct_ops map of
 * struct fusebpf_ops that holds them.  make (through build/kernel-source)
 * and `fusebpf build` both write it here.
 */
#include "loader.h"

#include <fusebpf/kernel.h>

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KERNEL_OP_NAME(name, op) #name,
static const char *const kernel_ops[] = { FUSEBPF_KERNEL_OPS(KERNEL_OP_NAME) };
#define KERNEL_OPS (sizeof(kernel_ops) / sizeof(*kernel_ops))

/* The programs of an object: the global functions it defines. */
struct funcs {
	char **names;
	size_t n;
};

/* err->msg says why; code returned. */
#define FAIL(err, code, ...) (snprintf((err)->msg, sizeof((err)->msg), __VA_ARGS__), (code))

static bool has(const struct funcs *f, const char *op, const char *phase)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_%s", op, phase);
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->names[i], name))
			return true;
	return false;
}

static void funcs_free(struct funcs *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
}

static int funcs_read(const char *path, struct funcs *f, struct loader_error *err)
{
	Elf_Scn *scn = NULL;
	int fd, e = 0;
	Elf *elf;

	*f = (struct funcs){ 0 };
	if (elf_version(EV_CURRENT) == EV_NONE)
		return FAIL(err, -EINVAL, "libelf: %s", elf_errmsg(-1));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		return FAIL(err, e, "%s: %s", path, strerror(-e));
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		close(fd);
		return FAIL(err, -EINVAL, "%s: not an ELF object", path);
	}
	while (!e && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *data = elf_getdata(scn, NULL);
		GElf_Shdr sh;
		GElf_Sym sym;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !data)
			continue;
		for (size_t i = 0; !e && i < sh.sh_size / sh.sh_entsize; i++) {
			const char *name;
			char **names;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_BIND(sym.st_info) != STB_GLOBAL ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			names = realloc(f->names, (f->n + 1) * sizeof(*names));
			if (!name || !names || !(names[f->n] = strdup(name))) {
				if (names)
					f->names = names;
				e = FAIL(err, -ENOMEM, "%s: out of memory", path);
				break;
			}
			f->names = names;
			f->n++;
		}
	}
	elf_end(elf);
	close(fd);
	if (e)
		funcs_free(f);
	return e;
}

int loader_kernel_source(const char *src, const char *obj, FILE *out, struct loader_error *err)
{
	bool member[KERNEL_OPS] = { false };
	struct funcs f;
	int e;

	e = funcs_read(obj, &f, err);
	if (e)
		return e;
	fprintf(out, "/* The kernel-mode build of %s, from %s's filters: do not edit. */\n", src,
		obj);
	fprintf(out, "#include <fusebpf/policy.bpf.h>\n#include \"%s\"\n\n", src);
	for (size_t i = 0; i < KERNEL_OPS; i++) {
		bool pre = has(&f, kernel_ops[i], "prefilter");
		bool post = has(&f, kernel_ops[i], "postfilter");

		if (!pre && !post)
			continue;
		member[i] = true;
		fprintf(out, "FUSEBPF_KERNEL_OP(%s, %s%s, %s%s)\n", kernel_ops[i],
			pre ? kernel_ops[i] : "fusebpf_no", "_prefilter",
			post ? kernel_ops[i] : "fusebpf_no", "_postfilter");
	}
	/* The loader sets the map's flags and name from the policy's .fusebpf info. */
	fprintf(out, "\nSEC(\".struct_ops.link\")\nstruct fusebpf_ops fusebpf_ops = {\n");
	for (size_t i = 0; i < KERNEL_OPS; i++)
		if (member[i])
			fprintf(out, "\t.%s = (void *)fusebpf_%s,\n", kernel_ops[i], kernel_ops[i]);
	fprintf(out, "};\n");
	funcs_free(&f);
	if (fflush(out) || ferror(out))
		return FAIL(err, -EIO, "writing the kernel-mode source of %s failed", src);
	return 0;
}

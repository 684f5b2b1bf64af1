// SPDX-License-Identifier: GPL-2.0
/*
 * A GPL module whose init writes through a NULL pointer, so the oops (and,
 * with panic_on_oops, the kdump) happens inside an out-of-tree module.
 */
#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/module.h>

/* Kept out of line so the oops's RIP names this function, not the init. */
static noinline void oot_oops_poke(int *target)
{
	WRITE_ONCE(*target, 0x7a);
}

static int __init oot_oops_init(void)
{
	/* An opaque NULL: the compiler may not fold the store away. */
	int *target = NULL;

	OPTIMIZER_HIDE_VAR(target);
	oot_oops_poke(target);
	return 0;
}

module_init(oot_oops_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtaint test module: NULL dereference in init");

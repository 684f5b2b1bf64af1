// SPDX-License-Identifier: GPL-2.0
/*
 * A GPL module that hands a NULL string to kstrtoint(), an exported,
 * out-of-line kernel function: the oops happens in the kernel proper
 * (kstrtoint/kstrtoll), and this module is on the call trace, not at the
 * crash site.
 */
#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>

/* Out of line and not a tail call: its frame stays on the call trace. */
static noinline int oot_core_parse(const char *text)
{
	int value = 0;
	int ret = kstrtoint(text, 10, &value);

	pr_info("oot_core: parsed %d (%d)\n", value, ret);
	return ret;
}

static int __init oot_core_init(void)
{
	/* An opaque NULL: the compiler may not see what kstrtoint gets. */
	const char *text = NULL;

	OPTIMIZER_HIDE_VAR(text);
	pr_info("oot_core: calling kstrtoint(NULL)\n");
	return oot_core_parse(text) ? -EINVAL : 0;
}

module_init(oot_core_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtaint test module: oops in a kernel function it calls");

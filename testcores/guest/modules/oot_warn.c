// SPDX-License-Identifier: GPL-2.0
/* A GPL module whose init hits a WARN(): adds W to the kernel's taint. */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/module.h>

static int __init oot_warn_init(void)
{
	WARN(1, "oot_warn: deliberate warning for vmtaint\n");
	return 0;
}

static void __exit oot_warn_exit(void)
{
}

module_init(oot_warn_init);
module_exit(oot_warn_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtaint test module: WARN in init");

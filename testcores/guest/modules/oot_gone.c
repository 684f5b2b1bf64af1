// SPDX-License-Identifier: MIT
/*
 * A proprietary module meant to be unloaded again: after rmmod the kernel
 * keeps it only in last_unloaded_module, with its taints "(POE)".
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init oot_gone_init(void)
{
	pr_info("oot_gone: loaded\n");
	return 0;
}

static void __exit oot_gone_exit(void)
{
	pr_info("oot_gone: unloaded\n");
}

module_init(oot_gone_init);
module_exit(oot_gone_exit);
MODULE_LICENSE("Proprietary");
MODULE_DESCRIPTION("vmtaint test module: proprietary, unloaded");

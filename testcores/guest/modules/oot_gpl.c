// SPDX-License-Identifier: GPL-2.0
/* A GPL out-of-tree, unsigned module: taints O and E only. */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init oot_gpl_init(void)
{
	pr_info("oot_gpl: loaded\n");
	return 0;
}

static void __exit oot_gpl_exit(void)
{
}

module_init(oot_gpl_init);
module_exit(oot_gpl_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtaint test module: GPL out-of-tree");

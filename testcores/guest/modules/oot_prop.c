// SPDX-License-Identifier: MIT
/*
 * A module with a non-GPL license: loading it taints the kernel with P
 * (proprietary), O (out-of-tree) and E (unsigned).
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init oot_prop_init(void)
{
	pr_info("oot_prop: loaded\n");
	return 0;
}

static void __exit oot_prop_exit(void)
{
}

module_init(oot_prop_init);
module_exit(oot_prop_exit);
MODULE_LICENSE("Proprietary");
MODULE_DESCRIPTION("vmtaint test module: proprietary license");

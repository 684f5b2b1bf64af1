// SPDX-License-Identifier: GPL-2.0
/*
 * Exports a symbol that oot_needsym uses. The guests never load it, so
 * loading oot_needsym fails with "Unknown symbol oot_export_hello".
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

void oot_export_hello(void)
{
	pr_info("oot_export: hello\n");
}
EXPORT_SYMBOL_GPL(oot_export_hello);

static int __init oot_export_init(void)
{
	return 0;
}

static void __exit oot_export_exit(void)
{
}

module_init(oot_export_init);
module_exit(oot_export_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtaint test module: exports a symbol nobody loads");

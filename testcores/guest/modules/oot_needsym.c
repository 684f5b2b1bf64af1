// SPDX-License-Identifier: GPL-2.0
/* Needs oot_export_hello, which no loaded module exports: insmod fails. */
#include <linux/init.h>
#include <linux/module.h>

void oot_export_hello(void);

static int __init oot_needsym_init(void)
{
	oot_export_hello();
	return 0;
}

static void __exit oot_needsym_exit(void)
{
}

module_init(oot_needsym_init);
module_exit(oot_needsym_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtaint test module: needs a symbol no loaded module exports");

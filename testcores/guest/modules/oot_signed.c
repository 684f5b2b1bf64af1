// SPDX-License-Identifier: GPL-2.0
/*
 * A GPL module the build signs with a key made for the test (openssl) and
 * the headers' scripts/sign-file: the kernel trusts no such key, so with
 * module.sig_enforce it refuses the module ("unavailable key").
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init oot_signed_init(void)
{
	pr_info("oot_signed: loaded\n");
	return 0;
}

static void __exit oot_signed_exit(void)
{
}

module_init(oot_signed_init);
module_exit(oot_signed_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtaint test module: signed with a key the kernel does not trust");

// SPDX-License-Identifier: GPL-2.0
/*
 * A GPL module that keeps a pointer to one of its own __init functions
 * after init returned. Writing to /sys/module/oot_initfree/parameters/fire
 * (once the kernel has freed the module's init sections) schedules a
 * delayed work that calls through that pointer: the kernel jumps to an
 * address in the module area that belongs to no loaded module's memory.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <linux/workqueue.h>

static void (*oot_initfree_fn)(void);

static noinline void __init oot_initfree_target(void)
{
	pr_info("oot_initfree: init-only function runs\n");
}

static void oot_initfree_run(struct work_struct *work)
{
	void (*fn)(void) = READ_ONCE(oot_initfree_fn);

	pr_info("oot_initfree: calling the freed init function at %px\n", fn);
	fn();
	pr_info("oot_initfree: survived\n");
}

static DECLARE_DELAYED_WORK(oot_initfree_work, oot_initfree_run);

static int oot_initfree_fire(const char *val, const struct kernel_param *kp)
{
	schedule_delayed_work(&oot_initfree_work, msecs_to_jiffies(100));
	return 0;
}

static const struct kernel_param_ops oot_initfree_fire_ops = {
	.set = oot_initfree_fire,
};
module_param_cb(fire, &oot_initfree_fire_ops, NULL, 0200);

static int __init oot_initfree_init(void)
{
	WRITE_ONCE(oot_initfree_fn, oot_initfree_target);
	pr_info("oot_initfree: loaded; init function at %px\n", oot_initfree_target);
	return 0;
}

static void __exit oot_initfree_exit(void)
{
	cancel_delayed_work_sync(&oot_initfree_work);
}

module_init(oot_initfree_init);
module_exit(oot_initfree_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtaint test module: calls its freed __init function from a delayed work");

// SPDX-License-Identifier: GPL-2.0
/*
 * A GPL out-of-tree module with parameters of several kinds, set on the
 * insmod command line; the guest's /sys/module/oot_params/parameters/* is
 * the truth the dump's decoded values are compared with.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static int p_int = 7;
module_param(p_int, int, 0444);
static unsigned int p_uint = 8;
module_param(p_uint, uint, 0444);
static bool p_bool;
module_param(p_bool, bool, 0444);
static bool p_invbool = true;
module_param(p_invbool, invbool, 0444);
static char *p_charp = "default";
module_param(p_charp, charp, 0444);
static int p_arr[6];
static unsigned int p_arr_num;
module_param_array(p_arr, int, &p_arr_num, 0444);
static unsigned short p_ushort = 3;
module_param(p_ushort, ushort, 0444);
static long p_long = -5;
module_param(p_long, long, 0444);
static char p_str[16] = "abc";
module_param_string(p_str, p_str, sizeof(p_str), 0444);

static int __init oot_params_init(void)
{
	return 0;
}

static void __exit oot_params_exit(void)
{
}

module_init(oot_params_init);
module_exit(oot_params_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtaint test module: parameters");

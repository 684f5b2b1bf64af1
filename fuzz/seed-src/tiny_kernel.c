/* Seed for the `vmlinux` fuzz target: a small ELF whose DWARF has the shapes the analyzers ask about. */
struct list_head { struct list_head *next, *prev; };
enum module_state { MODULE_STATE_LIVE, MODULE_STATE_COMING, MODULE_STATE_GOING, MODULE_STATE_UNFORMED };
struct kobject_stub { void *kobj; struct module *mod; };
struct module {
	enum module_state state;
	struct list_head list;
	char name[56];
	struct kobject_stub mkobj;
	unsigned long taints;
	_Bool sig_ok;
	unsigned int flag_bits : 3;
};
struct taint_flag { char c_true; char c_false; _Bool module; };
unsigned long tainted_mask = 0x3201;
const struct taint_flag taint_flags[19];
struct { char name[57]; char taints[19]; } last_unloaded_module;
struct list_head modules = { &modules, &modules };
const char linux_banner[] = "Linux version 6.1.0 (seed)\n";
struct module global;
int main(void) { return (int)tainted_mask + global.sig_ok; }

/* The facts of crash's extension interface that plugin/src/ffi.rs and vmcoreinfo.rs declare by hand,
 * compiled against one crash's defs.h (crash 8's from Debian's package, crash 9's from
 * testcores/build-crash9.sh) by the unit test `ffi::abi::every_crash_defs_h_agrees`.
 *
 * Types: every function, global and member the extension uses has exactly the type ffi.rs declares
 * (a static assertion each: a difference fails the compilation, naming it).
 * Layouts and constants: printed as `NAME VALUE` lines, compared with the Rust side. */
#include "defs.h"
#include <stddef.h>

/* What ffi.rs declares, written as C. */
#define SAME_TYPE(what, type) _Static_assert(__builtin_types_compatible_p(__typeof__(what), type), \
	#what " is not " #type " in this defs.h")
SAME_TYPE(register_extension, void(struct command_table_entry *));
SAME_TYPE(readmem, int(ulonglong, int, void *, long, char *, ulong));
SAME_TYPE(symbol_search, struct syment *(char *));
SAME_TYPE(value_search, struct syment *(ulong, ulong *));
SAME_TYPE(enumerator_value, int(char *, long *));
SAME_TYPE(gdb_pass_through, int(char *, FILE *, ulong));
SAME_TYPE(output_open, int(void));
SAME_TYPE(fp, FILE *);
SAME_TYPE(args, char *[MAXARGS]);
SAME_TYPE(argcnt, int);
SAME_TYPE(pc, struct program_context *);
SAME_TYPE(((struct command_table_entry *)0)->func, void (*)(void));
SAME_TYPE(((struct syment *)0)->value, ulong);
SAME_TYPE(((struct syment *)0)->name, char *);
/* vmcoreinfo.rs calls pc->read_vmcoreinfo as char *(*)(const char *). */
SAME_TYPE(((struct program_context *)0)->read_vmcoreinfo, char *(*)(const char *));

int main(void)
{
	printf("MAXARGS %d\n", MAXARGS);
	printf("KVADDR %d\n", KVADDR);
	printf("PHYSADDR %d\n", PHYSADDR);
	printf("RETURN_ON_ERROR|QUIET %d\n", RETURN_ON_ERROR | QUIET);
	printf("GNU_RETURN_ON_ERROR|GNU_FROM_TTY_OFF %d\n", GNU_RETURN_ON_ERROR | GNU_FROM_TTY_OFF);
	printf("sizeof(command_table_entry) %zu\n", sizeof(struct command_table_entry));
	printf("command_table_entry.name %zu\n", offsetof(struct command_table_entry, name));
	printf("command_table_entry.func %zu\n", offsetof(struct command_table_entry, func));
	printf("command_table_entry.help_data %zu\n", offsetof(struct command_table_entry, help_data));
	printf("command_table_entry.flags %zu\n", offsetof(struct command_table_entry, flags));
	printf("syment.value %zu\n", offsetof(struct syment, value));
	printf("syment.name %zu\n", offsetof(struct syment, name));
	/* read_vmcoreinfo and what follows it, to the end of the struct (vmcoreinfo.rs: TAIL_BYTES). */
	printf("program_context.read_vmcoreinfo_to_end %zu\n",
	       sizeof(struct program_context) - offsetof(struct program_context, read_vmcoreinfo));
	printf("sizeof(program_context) %zu\n", sizeof(struct program_context));
	return 0;
}

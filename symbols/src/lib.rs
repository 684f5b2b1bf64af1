//! Kernel symbols and type layouts from a debuginfo vmlinux.

//! vmtaint's batch side, shared by `vmtaint scan` / `vmtaint summary` and the Python module's `scan`: finding
//! dumps in archives ([`walk`]: by content, kdump archive layouts, `--shard K/N`) and a scan's JSON lines
//! ([`lines`]: written one per dump, read back and merged across shards).

pub mod lines;
pub mod walk;

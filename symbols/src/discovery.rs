//! Finding the debug vmlinux for a dump when no path is given.
//!
//! Places, in order: the directories given with [`Discovery::dirs`] (the CLI's repeatable
//! `--debuginfo-dir`), then those of `VMTAINT_DEBUGINFO_PATH` (colon-separated, see
//! [`Discovery::env_path`]), then the distribution places under the system root:
//! `/usr/lib/debug/boot/vmlinux-REL`, `/usr/lib/debug/lib/modules/REL/vmlinux`,
//! `/usr/lib/debug/.build-id/xx/rest.debug`, `/boot/vmlinux-REL`. A candidate whose build-id
//! note matches wins; without a build-id to compare, the first one named for the release does.

use std::path::{Path, PathBuf};

use crate::build_id::{read_build_id, BuildId};
use crate::error::{Error, Result};

/// The environment variable with extra search directories.
pub const DEBUGINFO_PATH_ENV: &str = "VMTAINT_DEBUGINFO_PATH";

/// How a discovered vmlinux was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// Its build-id note equals the dump's.
    BuildId,
    /// Its name carries the release; no build-id was available to compare.
    Release,
}

/// A vmlinux found by [`Discovery::find`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The file.
    pub path: PathBuf,
    /// Why it was chosen.
    pub matched_by: MatchedBy,
}

/// Search configuration; see the module docs.
#[derive(Debug, Clone)]
pub struct Discovery {
    dirs: Vec<PathBuf>,
    root: PathBuf,
}

impl Default for Discovery {
    fn default() -> Self {
        Self::new()
    }
}

impl Discovery {
    /// No extra directories; the system root is `/`.
    pub fn new() -> Self {
        Discovery {
            dirs: Vec::new(),
            root: PathBuf::from("/"),
        }
    }

    /// Adds directories to search first, in order.
    pub fn dirs<I, P>(mut self, dirs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.dirs.extend(dirs.into_iter().map(Into::into));
        self
    }

    /// Adds the directories of a colon-separated list (the value of `VMTAINT_DEBUGINFO_PATH`);
    /// `None` or empty adds nothing.
    pub fn env_path(self, value: Option<&std::ffi::OsStr>) -> Self {
        let dirs: Vec<PathBuf> = value
            .map(|v| {
                std::env::split_paths(v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        self.dirs(dirs)
    }

    /// Adds the directories of `VMTAINT_DEBUGINFO_PATH` from this process's environment.
    pub fn from_env(self) -> Self {
        let v = std::env::var_os(DEBUGINFO_PATH_ENV);
        self.env_path(v.as_deref())
    }

    /// Replaces `/` as the root of the distribution places (for tests and chroots).
    pub fn system_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// Every candidate path, in search order.
    pub fn candidates(&self, release: Option<&str>, build_id: Option<&BuildId>) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let build_id_path = |base: &Path| {
            build_id.filter(|b| b.0.len() >= 2).map(|b| {
                let hex = b.to_hex();
                base.join(".build-id")
                    .join(&hex[..2])
                    .join(format!("{}.debug", &hex[2..]))
            })
        };
        for dir in &self.dirs {
            if let Some(r) = release {
                out.push(dir.join(format!("vmlinux-{r}")));
                out.push(dir.join(r).join("vmlinux"));
                out.push(dir.join("boot").join(format!("vmlinux-{r}")));
                out.push(dir.join("lib/modules").join(r).join("vmlinux"));
            }
            out.extend(build_id_path(dir));
            out.push(dir.join("vmlinux"));
        }
        let debug = self.root.join("usr/lib/debug");
        if let Some(r) = release {
            out.push(debug.join("boot").join(format!("vmlinux-{r}")));
            out.push(debug.join("lib/modules").join(r).join("vmlinux"));
        }
        out.extend(build_id_path(&debug));
        if let Some(r) = release {
            out.push(self.root.join("boot").join(format!("vmlinux-{r}")));
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|p| seen.insert(p.clone()));
        out
    }

    /// Finds the vmlinux for a dump with this release (`OSRELEASE`) and build-id (`BUILD-ID`).
    /// With a build-id, only a file whose note matches is accepted; without one, the first
    /// existing candidate named for the release. The error lists every place looked at.
    pub fn find(&self, release: Option<&str>, build_id: Option<&BuildId>) -> Result<Discovered> {
        let mut looked = Vec::new();
        for path in self.candidates(release, build_id) {
            if !path.is_file() {
                looked.push((path, "not found".to_string()));
                continue;
            }
            match (build_id, read_build_id(&path)) {
                (Some(want), Ok(Some(have))) if &have == want => {
                    return Ok(Discovered {
                        path,
                        matched_by: MatchedBy::BuildId,
                    })
                }
                (Some(want), Ok(Some(have))) => {
                    looked.push((path, format!("build-id {have} is not {want}")));
                }
                (Some(_), Ok(None)) => looked.push((path, "has no build-id note".to_string())),
                (None, Ok(_)) => {
                    let named = release.is_some_and(|r| path.to_string_lossy().contains(r));
                    if named {
                        return Ok(Discovered {
                            path,
                            matched_by: MatchedBy::Release,
                        });
                    }
                    looked.push((path, "not named for the release".to_string()));
                }
                (_, Err(e)) => looked.push((path, format!("unreadable: {e}"))),
            }
        }
        Err(Error::NotDiscovered {
            release: release.map(str::to_string),
            build_id: build_id.map(BuildId::to_hex),
            looked,
        })
    }
}

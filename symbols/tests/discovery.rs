//! Discovery over temp directories (the search roots are injectable).

mod common;

use common::{Spec, BUILD_ID};
use symbols::{BuildId, Discovery, Error, MatchedBy};

fn put(dir: &std::path::Path, rel: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn user_dirs_env_and_distro_places() {
    let elf = common::build(Spec {
        version: 5,
        compress: false,
        no_dwarf: false,
    });
    let id = BuildId(BUILD_ID.to_vec());
    let other_id = BuildId(vec![0xaa; 20]);

    // A vmlinux in a user dir, named for the release.
    let user = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let p = put(user.path(), "vmlinux-9.9.9", &elf);
    let d = Discovery::new()
        .dirs([user.path()])
        .system_root(root.path());
    assert_eq!(d.find(Some("9.9.9"), Some(&id)).unwrap().path, p);
    assert_eq!(
        d.find(Some("9.9.9"), None).unwrap().matched_by,
        MatchedBy::Release
    );

    // Wrong build-id: rejected, and the error lists every place with the reason.
    match d.find(Some("9.9.9"), Some(&other_id)) {
        Err(Error::NotDiscovered {
            looked, build_id, ..
        }) => {
            assert_eq!(build_id.as_deref(), Some(other_id.to_hex().as_str()));
            let why = looked
                .iter()
                .find(|(path, _)| path == &p)
                .map(|(_, w)| w.clone())
                .unwrap();
            assert!(why.contains("build-id"), "{why}");
            assert!(looked
                .iter()
                .any(|(path, _)| path.ends_with("usr/lib/debug/boot/vmlinux-9.9.9")));
            assert!(looked
                .iter()
                .any(|(path, _)| path.ends_with("boot/vmlinux-9.9.9")));
            assert!(looked
                .iter()
                .any(|(path, _)| path.to_string_lossy().contains(".build-id/aa/")));
            let text = Error::NotDiscovered {
                release: Some("9.9.9".into()),
                build_id: None,
                looked,
            }
            .to_string();
            assert!(text.contains("linux-image-9.9.9-dbg"), "{text}");
        }
        other => panic!("{other:?}"),
    }

    // Env list (colon-separated) and the distro .build-id place under the system root.
    let env_dir = tempfile::tempdir().unwrap();
    let q = put(env_dir.path(), "9.9.9/vmlinux", &elf);
    let list =
        std::env::join_paths([std::path::Path::new("/nonexistent"), env_dir.path()]).unwrap();
    let d = Discovery::new()
        .env_path(Some(&list))
        .system_root(root.path());
    assert_eq!(d.find(Some("9.9.9"), Some(&id)).unwrap().path, q);

    let hex = id.to_hex();
    let r = put(
        root.path(),
        &format!("usr/lib/debug/.build-id/{}/{}.debug", &hex[..2], &hex[2..]),
        &elf,
    );
    let d = Discovery::new().system_root(root.path());
    // Found by build-id even for a release it is not named for.
    let found = d.find(Some("other-release"), Some(&id)).unwrap();
    assert_eq!((found.path, found.matched_by), (r, MatchedBy::BuildId));

    // Nothing anywhere.
    let empty = tempfile::tempdir().unwrap();
    let d = Discovery::new().system_root(empty.path());
    assert!(matches!(
        d.find(Some("1.2.3"), None),
        Err(Error::NotDiscovered { .. })
    ));
}

#[test]
fn user_dirs_come_first_and_garbage_is_skipped() {
    let elf = common::build(Spec {
        version: 4,
        compress: false,
        no_dwarf: false,
    });
    let id = BuildId(BUILD_ID.to_vec());
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    put(first.path(), "vmlinux-9.9.9", b"not an elf");
    let good = put(second.path(), "vmlinux-9.9.9", &elf);
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "usr/lib/debug/boot/vmlinux-9.9.9", &elf);
    let d = Discovery::new()
        .dirs([first.path(), second.path()])
        .system_root(root.path());
    assert_eq!(d.find(Some("9.9.9"), Some(&id)).unwrap().path, good);
    let c = d.candidates(Some("9.9.9"), Some(&id));
    assert!(c[0].starts_with(first.path()));
    assert!(c.last().unwrap().ends_with("boot/vmlinux-9.9.9"));
}

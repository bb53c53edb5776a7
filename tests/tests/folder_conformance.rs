//! The folder target passes the conformance suite.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use picday_core::{Profile, Subject, Target, TargetIo};
use picday_target_folder::FolderTarget;
use picday_testkit::{Harness, conformance};

struct Folder {
    root: tempfile::TempDir,
    current: Mutex<Option<PathBuf>>,
}

#[async_trait]
impl Harness for Folder {
    async fn target(&self) -> Arc<dyn Target> {
        let fresh = tempfile::tempdir_in(self.root.path()).unwrap().keep();
        *self.current.lock().unwrap() = Some(fresh.clone());
        Arc::new(FolderTarget::new("out", fresh, "{student_id}.jpg", Profile::square(128)).unwrap())
    }
    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>> {
        // Read the file directly, not through the target.
        let dir = self.current.lock().unwrap().clone()?;
        std::fs::read(dir.join(&subject.key)).ok()
    }
}

#[tokio::test]
async fn folder_target_passes_the_conformance_suite() {
    let harness = Folder {
        root: tempfile::tempdir().unwrap(),
        current: Mutex::new(None),
    };
    conformance::run(&harness).await;
}

/// A link planted under the folder (a careless copy, or someone else with write access to the
/// share) never makes picday write outside the folder, read a file it points to, or delete
/// it (issue 24 item 8). The folder itself may be a link: the configuration chose it.
#[cfg(unix)]
#[tokio::test]
async fn links_under_the_folder_are_never_followed() {
    use picday_testkit::fixtures;
    use std::os::unix::fs::symlink;

    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("real");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(real.join("9")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    // The configured `dir` is a link to `real`: fine.
    let dir = root.path().join("share");
    symlink(&real, &dir).unwrap();
    let by_grade =
        FolderTarget::new("out", &dir, "{grade}/{student_id}.jpg", Profile::square(64)).unwrap();
    let photo = fixtures::photo(Profile::square(64), 1);
    let person = |n: usize, grade: &str| {
        let mut p = fixtures::person(n);
        p.fields.insert("grade".into(), grade.into());
        by_grade.subject(Arc::new(p)).unwrap()
    };

    // A real subfolder under a linked `dir` is written.
    let ok = person(1, "9");
    by_grade.put_photo(&ok, &photo).await.unwrap();
    assert!(real.join("9/0000001.jpg").is_file());

    // A subfolder that is a link to somewhere else is refused; nothing lands there.
    symlink(&outside, real.join("10")).unwrap();
    let linked = person(2, "10");
    let e = by_grade.put_photo(&linked, &photo).await.unwrap_err();
    assert!(e.to_string().contains("is a symbolic link"), "{e}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

    // A photo file that is a link to a private file: not read for the backup, not replaced
    // (the file it points to is untouched), not deleted.
    std::fs::write(outside.join("private.txt"), b"root only").unwrap();
    symlink(outside.join("private.txt"), real.join("9/0000003.jpg")).unwrap();
    let planted = person(3, "9");
    let read = by_grade.get_photo(&planted).await.unwrap_err();
    assert!(!read.to_string().contains("root only"), "{read}");
    assert!(by_grade.put_photo(&planted, &photo).await.is_err());
    assert!(by_grade.delete_photo(&planted).await.is_err());
    assert_eq!(
        std::fs::read(outside.join("private.txt")).unwrap(),
        b"root only"
    );
    assert!(real.join("9/0000003.jpg").is_symlink());
}

#[tokio::test]
async fn windows_device_names_are_refused_on_every_system() {
    let root = tempfile::tempdir().unwrap();
    let target =
        FolderTarget::new("out", root.path(), "{first_name}.jpg", Profile::square(64)).unwrap();
    let mut p = picday_testkit::fixtures::person(1);
    p.fields.insert("first_name".into(), "Con".into());
    let e = target.subject(Arc::new(p)).unwrap_err();
    assert!(e.to_string().contains("reserved device name"), "{e}");
}

//! Tests of the file blob store.

use std::{process::Command, time::Duration};

use super::*;
use crate::domain::THUMBNAIL_SUFFIX;
use crate::post_policy::PostPolicyError;

const ID: &str = "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b";
const CRASH_DIR_VAR: &str = "UDAGRAM_TEST_BLOB_CRASH_DIR";
const CRASH_BLOB_LEN: usize = 2 * 1024 * 1024;

fn store(dir: &Path) -> FileBlobStore {
    FileBlobStore::open(dir, "http://127.0.0.1:9/", b"test key".to_vec()).unwrap()
}

#[test]
fn keys_are_uuids_or_thumbnails_only() {
    let thumb = format!("{ID}{THUMBNAIL_SUFFIX}");
    assert!(validate_key(ID).is_ok());
    assert!(validate_key(&thumb).is_ok());
    let bad = [
        "",
        "..",
        "../etc/passwd",
        "/etc/passwd",
        "a/b",
        &format!("{ID}/x"),
        &format!("../{ID}"),
        &format!("/{ID}"),
        &format!("{ID}\0"),
        &format!("{ID}.thumb.png.thumb.png"),
        &format!("{ID}.png"),
        &ID.to_uppercase(),
        &ID.replace('-', ""),
        &format!("{{{ID}}}"),
        &format!("urn:uuid:{ID}"),
        &format!(".{ID}"),
        THUMBNAIL_SUFFIX,
    ];
    for key in bad {
        assert!(
            matches!(validate_key(key), Err(PortError::Invalid(_))),
            "{key:?}"
        );
    }
}

#[tokio::test]
async fn put_get_replace_and_bad_keys() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = store(dir.path());
    assert_eq!(blobs.get_blob(ID).await.unwrap(), None);
    blobs
        .put_blob(ID, Bytes::from_static(b"one"), "image/png")
        .await
        .unwrap();
    blobs
        .put_blob(ID, Bytes::from_static(b"\ntwo\n"), "image/jpeg")
        .await
        .unwrap();
    let got = blobs.get_blob(ID).await.unwrap().unwrap();
    assert_eq!(
        got,
        (Bytes::from_static(b"\ntwo\n"), "image/jpeg".to_owned())
    );
    blobs.put_blob(ID, Bytes::new(), "image/gif").await.unwrap();
    assert_eq!(blobs.get_blob(ID).await.unwrap().unwrap().0.len(), 0);
    for key in ["../x", "/tmp/x", ""] {
        let put = blobs
            .put_blob(key, Bytes::from_static(b"x"), "image/png")
            .await;
        assert!(matches!(put, Err(PortError::Invalid(_))), "{key}");
        assert!(
            matches!(blobs.get_blob(key).await, Err(PortError::Invalid(_))),
            "{key}"
        );
    }
    for kind in ["", "image/png\nX: y", "\u{e9}"] {
        let put = blobs.put_blob(ID, Bytes::from_static(b"x"), kind).await;
        assert!(matches!(put, Err(PortError::Invalid(_))), "{kind:?}");
    }
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [ID], "one file per blob, no temp files left");
}

#[tokio::test]
async fn upload_forms_are_signed_with_the_key_and_post_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = store(dir.path());
    assert_eq!(blobs.read_url(ID), format!("http://127.0.0.1:9/files/{ID}"));
    let form = blobs
        .upload_form(ID, "image/png", 1000, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(form.url, "http://127.0.0.1:9/uploads");
    let fields: Vec<(String, String)> = form.fields.clone().into_iter().collect();
    let now = SystemTime::now();
    let accepted = blobs.verify_form(&fields, 1000, now).unwrap();
    assert_eq!(
        (accepted.key.as_str(), accepted.content_type.as_str()),
        (ID, "image/png")
    );
    assert_eq!(
        blobs.verify_form(&fields, 1001, now),
        Err(PostPolicyError::EntityTooLarge(1000))
    );
    assert_eq!(
        blobs.verify_form(&fields, 10, now + Duration::from_secs(302)),
        Err(PostPolicyError::Expired)
    );
    let other =
        FileBlobStore::open(&dir.path().join("other"), "http://x", b"other key".to_vec()).unwrap();
    assert_eq!(
        other.verify_form(&fields, 10, now),
        Err(PostPolicyError::SignatureDoesNotMatch)
    );
    assert!(matches!(
        blobs
            .upload_form("../x", "image/png", 1, Duration::ZERO)
            .await,
        Err(PortError::Invalid(_))
    ));
    assert!(!format!("{blobs:?}").contains("test key"));
}

#[tokio::test]
async fn a_write_interrupted_before_rename_leaves_the_old_blob() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = store(dir.path());
    blobs
        .put_blob(ID, Bytes::from_static(b"old"), "image/png")
        .await
        .unwrap();
    // What a writer killed mid-write leaves behind: a partial temp file.
    let temp = dir.path().join(format!(".{ID}.deadbeef{TEMP_SUFFIX}"));
    fs::write(&temp, b"udagram-blob/1 image/png\nhalf of the ne").unwrap();
    let blobs = store(dir.path());
    assert!(!temp.exists(), "leftover temp files are removed on open");
    let got = blobs.get_blob(ID).await.unwrap().unwrap();
    assert_eq!(got, (Bytes::from_static(b"old"), "image/png".to_owned()));
    // A blob file that is not ours is reported, not served.
    fs::write(dir.path().join(ID), b"garbage").unwrap();
    assert!(matches!(
        blobs.get_blob(ID).await,
        Err(PortError::Unavailable(_))
    ));
}

/// Run by [`sigkill_mid_write_leaves_old_or_new_bytes`] in a child process: writes blobs
/// of uniform bytes, each with a content type naming its byte, until killed.
#[tokio::test]
#[ignore = "run as a child process by sigkill_mid_write_leaves_old_or_new_bytes"]
async fn child_writer() {
    let Some(dir) = std::env::var_os(CRASH_DIR_VAR) else {
        return;
    };
    let blobs = store(Path::new(&dir));
    for n in 0u32.. {
        let fill = (n % 256) as u8;
        let bytes = Bytes::from(vec![fill; CRASH_BLOB_LEN]);
        blobs.put_blob(ID, bytes, kind_of(fill)).await.unwrap();
    }
}

/// The content type written with the bytes `fill`: consecutive writes differ in both.
fn kind_of(fill: u8) -> &'static str {
    crate::domain::ALLOWED_CONTENT_TYPES[usize::from(fill) % 4]
}

#[tokio::test]
async fn sigkill_mid_write_leaves_old_or_new_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = store(dir.path());
    blobs
        .put_blob(ID, Bytes::from(vec![255; CRASH_BLOB_LEN]), kind_of(255))
        .await
        .unwrap();
    let mut fills = Vec::new();
    for delay_ms in [150, 400, 700] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "embedded::blobs::tests::child_writer",
            ])
            .env(CRASH_DIR_VAR, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let blobs = store(dir.path());
        let (bytes, kind) = blobs.get_blob(ID).await.unwrap().unwrap();
        assert_eq!(bytes.len(), CRASH_BLOB_LEN);
        let fill = bytes[0];
        fills.push(fill);
        assert!(bytes.iter().all(|&b| b == fill), "a mix of two writes");
        assert_eq!(kind, kind_of(fill), "type and bytes from different writes");
        let temps = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(TEMP_SUFFIX)
            })
            .count();
        assert_eq!(temps, 0);
    }
    assert!(
        fills.iter().any(|&f| f != 255),
        "the child never wrote: {fills:?}"
    );
}

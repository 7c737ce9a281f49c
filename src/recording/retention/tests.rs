//! Retention on real files: ages are set through file mtimes, "today" comes from `now`.

use super::run_retention;
use crate::config::RetentionConfig;
use crate::recording::clock::{day_name, day_of_ms};
use crate::recording::jsonl::tests::temp_dir;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const DAY: Duration = Duration::from_secs(86_400);

/// The day folder `days_ago` days before `now` (UTC).
fn day_dir(dir: &Path, now: SystemTime, days_ago: i64) -> PathBuf {
    let ms = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    dir.join(day_name(day_of_ms(ms) - days_ago))
}

/// Writes `bytes` at `path` (making folders) and sets its mtime `age` before `now`.
fn put(path: &Path, bytes: &[u8], now: SystemTime, age: Duration) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(now - age)
        .unwrap();
}

fn cfg(
    max_age_days: Option<u64>,
    max_size_mb: Option<u64>,
    compress_after_days: Option<u64>,
) -> RetentionConfig {
    RetentionConfig {
        max_age_days,
        max_size_mb,
        compress_after_days,
        ..RetentionConfig::default()
    }
}

#[test]
fn compresses_finished_days_only_and_keeps_the_mtime() {
    let (dir, now) = (temp_dir("ret-compress"), SystemTime::now());
    let old = day_dir(&dir, now, 3).join("a.jsonl");
    let today = day_dir(&dir, now, 0).join("b.jsonl");
    let busy = day_dir(&dir, now, 1).join("c.jsonl");
    let recent = day_dir(&dir, now, 1).join("d.jsonl");
    let text = "{\"type\":\"request\"}\n".repeat(500);
    put(&old, text.as_bytes(), now, 3 * DAY);
    put(&today, b"{}\n", now, 3 * DAY); // today's folder is still being written
    put(&busy, b"{}\n", now, Duration::from_secs(30));
    put(&recent, b"{}\n", now, DAY / 2); // younger than compress_after_days

    let report = run_retention(&dir, &cfg(None, None, Some(1)), now).unwrap();
    assert_eq!(
        (report.compressed_files, report.errors.len()),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(report.compressed_from_bytes, text.len() as u64);
    assert!(report.compressed_to_bytes < report.compressed_from_bytes / 10);
    let zst = old.with_extension("jsonl.zst");
    assert!(!old.exists() && zst.exists());
    assert!(today.exists() && busy.exists() && recent.exists());
    assert_eq!(
        zstd::decode_all(&std::fs::read(&zst).unwrap()[..]).unwrap(),
        text.as_bytes()
    );
    let meta = std::fs::metadata(&zst).unwrap();
    assert_eq!(
        meta.modified().unwrap(),
        now - 3 * DAY,
        "the compressed file keeps its age"
    );
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
}

#[test]
fn a_new_part_is_appended_to_the_existing_zst_as_a_frame() {
    let (dir, now) = (temp_dir("ret-frames"), SystemTime::now());
    let day = day_dir(&dir, now, 5);
    put(
        &day.join("s.jsonl.zst"),
        &zstd::encode_all(&b"part one\n"[..], 3).unwrap(),
        now,
        5 * DAY,
    );
    put(&day.join("s.jsonl"), b"part two\n", now, 2 * DAY);
    put(&day.join("stale.jsonl.zst.tmp"), b"junk", now, DAY);
    let report = run_retention(&dir, &cfg(None, None, Some(1)), now).unwrap();
    assert_eq!(report.compressed_files, 1, "{report:?}");
    assert_eq!(
        std::fs::read_dir(&day).unwrap().count(),
        1,
        "the .jsonl and the stale .tmp are gone"
    );
    let all = zstd::decode_all(&std::fs::read(day.join("s.jsonl.zst")).unwrap()[..]).unwrap();
    assert_eq!(all, b"part one\npart two\n");
}

#[test]
fn max_age_deletes_whole_units_by_their_last_write_and_removes_empty_days() {
    let (dir, now) = (temp_dir("ret-age"), SystemTime::now());
    let d40 = day_dir(&dir, now, 40);
    let d50 = day_dir(&dir, now, 50);
    put(&d40.join("old.jsonl"), b"x\n", now, 40 * DAY);
    // A long session: its compressed part is old, but it was written two days ago.
    put(&d40.join("long.jsonl.zst"), b"zz", now, 40 * DAY);
    put(&d40.join("long.jsonl"), b"y\n", now, 2 * DAY);
    put(&d50.join("older.jsonl"), b"x\n", now, 50 * DAY);
    put(
        &dir.join("not-a-day").join("keep.jsonl"),
        b"x\n",
        now,
        90 * DAY,
    );
    put(&dir.join("sessions.db"), b"db", now, 90 * DAY);

    let report = run_retention(&dir, &cfg(Some(30), None, None), now).unwrap();
    assert_eq!(
        (report.deleted_files, report.removed_dirs),
        (2, 1),
        "{report:?}"
    );
    assert!(!d40.join("old.jsonl").exists() && !d50.exists());
    assert!(d40.join("long.jsonl.zst").exists() && d40.join("long.jsonl").exists());
    assert!(dir.join("not-a-day/keep.jsonl").exists() && dir.join("sessions.db").exists());
}

#[test]
fn max_size_deletes_the_least_recently_written_until_under_the_cap() {
    let (dir, now) = (temp_dir("ret-size"), SystemTime::now());
    let blob = vec![b'x'; 400 * 1024];
    for (i, days) in [4u32, 3, 2, 1].iter().enumerate() {
        put(
            &day_dir(&dir, now, i64::from(*days)).join(format!("s{i}.jsonl")),
            &blob,
            now,
            DAY * *days,
        );
    }
    put(
        &day_dir(&dir, now, 0).join("live.jsonl"),
        &blob,
        now,
        Duration::from_secs(5),
    );

    // 2000 KiB against a 1 MiB cap: s0, s1 and s2 go; the live file is spared.
    let report = run_retention(&dir, &cfg(None, Some(1), None), now).unwrap();
    assert_eq!(report.deleted_files, 3, "{report:?}");
    assert_eq!(report.total_bytes, 2 * blob.len() as u64);
    assert!(day_dir(&dir, now, 1).join("s3.jsonl").exists());
    assert!(day_dir(&dir, now, 0).join("live.jsonl").exists());
    assert_eq!(report.removed_dirs, 3);
}

#[test]
fn nothing_configured_changes_nothing_and_a_missing_dir_is_fine() {
    let (dir, now) = (temp_dir("ret-none"), SystemTime::now());
    assert_eq!(
        run_retention(&dir, &cfg(None, None, None), now).unwrap(),
        Default::default()
    );
    put(&day_dir(&dir, now, 9).join("a.jsonl"), b"x\n", now, 9 * DAY);
    let report = run_retention(&dir, &cfg(None, None, None), now).unwrap();
    assert_eq!((report.deleted_files, report.total_bytes), (0, 2));
}

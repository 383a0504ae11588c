//! Everything a daemon writes is its owner's alone.
//!
//! Masters keep every source's and task's connection settings in their
//! Raft data, workers their checkpoints' view of the world, and both write
//! logs: none of it is for other users of the machine. Rather than set a
//! mode on each file (sled, the log appender and the tests' helpers create
//! their own), the daemons clear the group and other bits of their umask
//! before creating anything, so new directories are 0700 and new files
//! 0600 whoever creates them.

use rustix::fs::Mode;

/// Sets the process umask to 077. Called first thing by `dm-master` and
/// `dm-worker` (not by the simulation, which runs in one test process).
pub fn owner_only() {
    rustix::process::umask(Mode::from_raw_mode(0o077));
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn new_files_and_directories_are_the_owners_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        // This test runs in its own process (the binary of this crate's
        // unit tests, where nothing depends on the umask).
        super::owner_only();
        let sub = dir.path().join("data");
        std::fs::create_dir(&sub).expect("dir");
        let file = sub.join("f");
        std::fs::write(&file, b"x").expect("file");
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
        };
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&file), 0o600);
    }
}

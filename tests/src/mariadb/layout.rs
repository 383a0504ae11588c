//! Where a throwaway server keeps its files, all inside its own temp directory.

use std::path::{Path, PathBuf};

use crate::error::{HarnessError, Result};

/// Longest Unix socket path the kernel accepts (`sun_path` is 108 bytes incl. the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Paths of one server's files.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    /// The temp directory holding everything below.
    pub root: PathBuf,
    /// `--datadir`.
    pub data_dir: PathBuf,
    /// Directory of the binlog files.
    pub binlog_dir: PathBuf,
    /// `--log-bin` base name (files are `mysql-bin.000001`, ...).
    pub binlog_base: PathBuf,
    /// `--tmpdir`, private to this server: a starting `mariadbd` deletes every `#sql*`
    /// temp file in its tmpdir, which breaks other servers sharing `/tmp` (seen as
    /// "Error on delete of '/tmp/#sql-temptable-...'" in a parallel `mariadb-install-db`).
    pub tmp_dir: PathBuf,
    /// `--socket`.
    pub socket: PathBuf,
    /// `--pid-file`.
    pub pid_file: PathBuf,
    /// The server's stdout + stderr (its error log).
    pub error_log: PathBuf,
    /// Output of `mariadb-install-db`.
    pub install_log: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        let binlog_dir = root.join("binlog");
        Self {
            root: root.to_path_buf(),
            data_dir: root.join("data"),
            binlog_base: binlog_dir.join("mysql-bin"),
            binlog_dir,
            tmp_dir: root.join("tmp"),
            socket: root.join("mysqld.sock"),
            pid_file: root.join("mysqld.pid"),
            error_log: root.join("error.log"),
            install_log: root.join("install.log"),
        }
    }

    /// Creates the directories the server expects to exist (data_dir is created by
    /// `mariadb-install-db`).
    pub fn create_dirs(&self) -> Result<()> {
        for dir in [&self.binlog_dir, &self.tmp_dir] {
            std::fs::create_dir(dir)
                .map_err(|e| HarnessError::io(format!("creating {}", dir.display()), e))?;
        }
        Ok(())
    }

    /// Fails early with a clear message instead of an obscure server error if `TMPDIR` is
    /// so deep that the socket path would not fit.
    pub fn check_socket_path(&self) -> Result<()> {
        let len = self.socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(HarnessError::SocketPathTooLong {
                path: self.socket.clone(),
                len,
            });
        }
        Ok(())
    }
}

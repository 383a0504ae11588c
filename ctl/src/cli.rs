//! dmctl's command line, with DM 2.x's command names, flags and arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The whole command line: global flags and, optionally, one command.
/// Without a command dmctl reads commands from standard input, one per line.
#[derive(Debug, Parser)]
#[command(name = "dmctl", about = "dmctl: control a DM cluster", version)]
pub struct Cli {
    /// Master addresses (host:port), comma-separated; any master will do.
    #[arg(
        long,
        env = "DM_MASTER_ADDR",
        default_value = "127.0.0.1:8261",
        global = true
    )]
    pub master_addr: String,
    /// Timeout of one request, e.g. 30s or 10m.
    #[arg(long, default_value = "10m", global = true)]
    pub rpc_timeout: String,
    /// TLS: the cluster's CA certificate (PEM), to check the masters'
    /// certificates; with it dmctl connects with TLS.
    #[arg(long, default_value = "", hide_default_value = true, global = true)]
    pub ssl_ca: String,
    /// TLS: dmctl's certificate (PEM), signed by the cluster's CA.
    #[arg(long, default_value = "", hide_default_value = true, global = true)]
    pub ssl_cert: String,
    /// TLS: the key of --ssl-cert (PEM).
    #[arg(long, default_value = "", hide_default_value = true, global = true)]
    pub ssl_key: String,
    /// Restrict the command to these sources (repeatable, comma-separated).
    #[arg(short = 's', long = "source", global = true, value_delimiter = ',')]
    pub sources: Vec<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// One command line typed at the interactive prompt (no global flags).
#[derive(Debug, Parser)]
#[command(name = "dmctl", no_binary_name = true, disable_version_flag = true)]
pub struct Line {
    /// Restrict the command to these sources (repeatable, comma-separated).
    #[arg(short = 's', long = "source", global = true, value_delimiter = ',')]
    pub sources: Vec<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a task from its file.
    StartTask {
        /// The task file.
        config_file: PathBuf,
        /// Remove the task's checkpoints and shard-DDL locks before starting.
        #[arg(long)]
        remove_meta: bool,
        /// Begin the sync at the first binlog transaction at or after this
        /// time, e.g. '2021-10-21 00:01:00' (the upstream's time zone) or
        /// '2021-10-21T00:01:00+08:00'. Incremental tasks without
        /// checkpoints (or with --remove-meta).
        #[arg(long)]
        start_time: Option<String>,
    },
    /// Stop a task.
    StopTask(TaskArg),
    /// Pause a task.
    PauseTask(TaskArg),
    /// Resume a paused task.
    ResumeTask(TaskArg),
    /// Show the status of one task or of all tasks.
    QueryStatus {
        /// Task name or task file; all tasks when omitted.
        task: Option<String>,
        /// Show the full status even without a task name.
        #[arg(long)]
        more: bool,
    },
    /// Check a task file and its sources without starting it.
    CheckTask {
        config_file: PathBuf,
        /// Show at most this many errors.
        #[arg(short = 'e', long = "error", default_value_t = 10)]
        error_count: i64,
        /// Show at most this many warnings.
        #[arg(short = 'w', long = "warn", default_value_t = 10)]
        warn_count: i64,
        /// Check the task as `start-task --start-time` would start it.
        #[arg(long)]
        start_time: Option<String>,
    },
    /// Create, stop or show upstream sources.
    OperateSource {
        op: SourceOp,
        /// Source files (create, stop) or source ids (stop, show).
        args: Vec<String>,
        /// Print a sample source file.
        #[arg(short = 'p', long)]
        print_sample_config: bool,
    },
    /// List the cluster's members.
    ListMember {
        #[arg(short = 'l', long)]
        leader: bool,
        #[arg(short = 'm', long)]
        master: bool,
        #[arg(short = 'w', long)]
        worker: bool,
        /// Only these members (repeatable, comma-separated).
        #[arg(short = 'n', long = "name", value_delimiter = ',')]
        names: Vec<String>,
    },
    /// Remove a master from the Raft group, or forget an offline worker.
    OfflineMember {
        #[arg(short = 'm', long, conflicts_with = "worker")]
        master: bool,
        #[arg(short = 'w', long)]
        worker: bool,
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Bind a source to another (free) worker.
    TransferSource {
        source_id: String,
        worker_id: String,
    },
    /// Show the shard-DDL locks.
    ShowDdlLocks {
        /// Task name or task file; all tasks when omitted.
        task: Option<String>,
    },
    /// Resolve a shard-DDL lock by hand.
    UnlockDdlLock {
        lock_id: String,
        /// Source that executes the DDL instead of the lock's owner.
        #[arg(short = 'o', long)]
        owner: Option<String>,
        /// Remove the lock even if some sources did not finish.
        #[arg(short = 'f', long)]
        force_remove: bool,
    },
    /// Show the configuration of a task, master, worker or source.
    #[command(alias = "get-task-config")]
    GetConfig {
        kind: ConfigKind,
        name: String,
        /// Write the configuration to this file instead of printing it.
        #[arg(short = 'f', long)]
        file: Option<PathBuf>,
    },
    /// Compare a task's upstream tables with its downstream tables: chunk
    /// checksums over the primary key, then row by row where they differ.
    CheckDiff {
        /// Task name or task file.
        task: String,
        /// Rows per chunk (cut along the downstream's primary key).
        #[arg(long, default_value_t = 10_000)]
        chunk_size: u64,
        /// Differing rows listed per table (all are counted).
        #[arg(long, default_value_t = 20)]
        max_rows: u32,
    },
    /// Show, replace or drop a table definition a subtask tracks.
    ///
    /// Operations are held by the masters until the source's worker
    /// applies them: they take effect when the paused subtask resumes.
    #[command(subcommand)]
    BinlogSchema(BinlogSchemaOp),
    /// DM 2.0.7's name for binlog-schema: `get` (list), `set` (update),
    /// `remove` (delete).
    OperateSchema {
        op: OperateSchemaOp,
        /// Task name or task file.
        task: String,
        /// The file holding the CREATE TABLE statement (`set`).
        schema_file: Option<PathBuf>,
        /// Database of the upstream table.
        #[arg(short = 'd', long)]
        database: Option<String>,
        /// The upstream table.
        #[arg(short = 't', long)]
        table: Option<String>,
        /// Accepted for DM's command lines; no effect (the definition is
        /// always persisted with the checkpoint).
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        flush: Option<bool>,
        /// Accepted for DM's command lines; no effect (DM's optimistic
        /// shard mode only).
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        sync: Option<bool>,
    },
    /// Keep a master from leading (`evict`) or let it lead again
    /// (`cancel-evict`). An evicted leader hands leadership to an
    /// up-to-date master at once; the eviction lasts across restarts.
    OperateLeader {
        /// `evict` or `cancel-evict`.
        op: String,
        /// The master; default: the current leader (`evict`), every
        /// evicted master (`cancel-evict`).
        #[arg(short = 'n', long)]
        name: Option<String>,
    },
    /// Export, import or show configurations (`config export|import`,
    /// `config task|source|master|worker NAME`).
    #[command(subcommand)]
    Config(crate::config_io::ConfigCommand),
    /// Show the shard-DDL locks (`shard-ddl-lock [TASK]`) or resolve one by
    /// hand (`shard-ddl-lock unlock LOCK_ID`).
    ShardDdlLock(crate::shard_lock::ShardDdlLockArgs),
    /// Encrypt a password as DM does (base64 of IV, '@', AES-256-CFB under
    /// DM's key, or the masters' `--secret-key-path` key): any file's
    /// password may be written so.
    Encrypt {
        /// The plaintext.
        text: String,
        /// The key file the masters were given (`secret-key-path`); default:
        /// DM's built-in key.
        #[arg(long)]
        secret_key_path: Option<std::path::PathBuf>,
    },
    /// Decrypt a password `encrypt` (or DM's dmctl) wrote.
    Decrypt {
        /// The encrypted text.
        text: String,
        /// The key file it was encrypted with (see `encrypt`).
        #[arg(long)]
        secret_key_path: Option<std::path::PathBuf>,
    },
    /// What to do with the binlog event a subtask is paused on (or the one
    /// at `-b`): skip it, replace it, run statements before it; revert an
    /// operation not applied yet; list the ones held.
    Binlog(BinlogCmd),
    /// DM 2.0.7's name for `binlog`: `handle-error TASK [-b POS]
    /// skip|replace|revert [SQLS]`.
    HandleError {
        /// TASK OPERATION [STATEMENTS...]
        #[arg(num_args = 0..)]
        args: Vec<String>,
        /// Where the event starts: `mysql-bin.000003:1234`,
        /// `mysql-bin|000001.000003:1234`, or a GTID `0-1-42`.
        #[arg(short = 'b', long = "binlog-pos")]
        binlog_pos: Option<String>,
    },
    /// Leave the interactive prompt.
    Exit,
}

/// `binlog` with its `-b`.
#[derive(Debug, Args)]
pub struct BinlogCmd {
    /// Where the event starts: `mysql-bin.000003:1234`,
    /// `mysql-bin|000001.000003:1234`, or a GTID `0-1-42` (a subtask that
    /// uses GTID); without it, the event the subtask is paused on.
    #[arg(short = 'b', long = "binlog-pos", global = true)]
    pub binlog_pos: Option<String>,
    #[command(subcommand)]
    pub op: BinlogOp,
}

/// `binlog` commands.
#[derive(Debug, Subcommand)]
pub enum BinlogOp {
    /// Do not apply the event (a DDL); the task goes on after it.
    Skip {
        /// TASK
        #[arg(num_args = 0..)]
        args: Vec<String>,
    },
    /// Run these DDL statements instead of the event.
    Replace {
        /// TASK STATEMENT...
        #[arg(num_args = 0..)]
        args: Vec<String>,
    },
    /// Cancel an operation not applied yet.
    Revert {
        /// TASK
        #[arg(num_args = 0..)]
        args: Vec<String>,
    },
    /// Run these DDL statements before the event.
    Inject {
        /// TASK STATEMENT...
        #[arg(num_args = 0..)]
        args: Vec<String>,
    },
    /// Show the operations held for the task's sources.
    List {
        /// TASK
        #[arg(num_args = 0..)]
        args: Vec<String>,
    },
}

/// `binlog-schema` commands. The table is given as `TASK SOURCE DATABASE
/// TABLE`, or as `TASK DATABASE TABLE` with `-s SOURCE` (DM's form).
#[derive(Debug, Subcommand)]
pub enum BinlogSchemaOp {
    /// Show the tracked CREATE TABLE of a table, and the operations held
    /// for it.
    List {
        /// TASK SOURCE DATABASE TABLE, or TASK DATABASE TABLE with -s.
        #[arg(num_args = 0..)]
        args: Vec<String>,
    },
    /// Replace the tracked definition with a file's CREATE TABLE
    /// statement, or with the upstream's (`--from-source`) or the routed
    /// downstream table's (`--from-target`) current one.
    Update {
        /// TASK SOURCE DATABASE TABLE [FILE], or TASK DATABASE TABLE
        /// [FILE] with -s.
        #[arg(num_args = 0..)]
        args: Vec<String>,
        /// Read the definition from the source's upstream table.
        #[arg(long)]
        from_source: bool,
        /// Read the definition from the downstream table the upstream
        /// table is routed to.
        #[arg(long)]
        from_target: bool,
        /// Accepted for DM's command lines; no effect (the definition is
        /// always persisted with the checkpoint).
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        flush: Option<bool>,
        /// Accepted for DM's command lines; no effect (DM's optimistic
        /// shard mode only).
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        sync: Option<bool>,
    },
    /// Forget the tracked definition of a table.
    Delete {
        /// TASK SOURCE DATABASE TABLE, or TASK DATABASE TABLE with -s.
        #[arg(num_args = 0..)]
        args: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OperateSchemaOp {
    Get,
    Set,
    Remove,
}

/// A task given by name or by its file; without one, every task of the
/// `-s` sources.
#[derive(Debug, Args)]
pub struct TaskArg {
    /// Task name or task file; without one, every task of the `-s` sources.
    pub task: Option<String>,
    /// Without a task: how many tasks are operated on at once.
    #[arg(long, default_value_t = crate::batch::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceOp {
    Create,
    Update,
    Stop,
    Show,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigKind {
    Task,
    Master,
    Worker,
    Source,
}

//! The task file's keys (and the connection block it shares with source
//! and worker files).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::Status::{Implemented, NoOp, Refused};
use super::{defaults, keys_of, reasons, refusals, Refusal, Section};
use crate::config::task::{
    BinlogEventRule, BlockAllowList, ColumnMappingRule, ExpressionFilter, LoaderConfig, Meta,
    MySqlInstance, MydumperConfig, RouteRule, SyncerConfig, TableRef,
};
use crate::config::{DbConfig, Security, TaskConfig};

const HEARTBEAT: &str = "replication lag is measured from the binlog events' own timestamps; no heartbeat table is written upstream";
const ANSI_QUOTES: &str =
    "deprecated in DM 2.x; the SQL mode of each statement is read from its binlog event";
const NO_DUMP_FILES: &str =
    "the full copy streams chunks straight downstream and writes no dump files";

/// Top-level keys of a task file.
pub static TASK: Section = Section {
    name: "task file",
    keys: &[
        ("name", Implemented),
        ("task-mode", Implemented),
        ("shard-mode", Implemented),
        ("is-sharding", Implemented),
        ("ignore-checking-items", Implemented),
        ("meta-schema", Implemented),
        ("enable-heartbeat", NoOp(HEARTBEAT)),
        ("heartbeat-update-interval", NoOp(HEARTBEAT)),
        ("heartbeat-report-interval", NoOp(HEARTBEAT)),
        ("timezone", Implemented),
        ("case-sensitive", Implemented),
        ("target-database", Implemented),
        ("mysql-instances", Implemented),
        ("online-ddl", Refused(reasons::ONLINE_DDL)),
        ("online-ddl-scheme", Refused(reasons::ONLINE_DDL)),
        ("shadow-table-rules", Refused(reasons::ONLINE_DDL)),
        ("trash-table-rules", Refused(reasons::ONLINE_DDL)),
        ("routes", Implemented),
        ("filters", Implemented),
        ("column-mappings", Implemented),
        ("expression-filter", Implemented),
        ("block-allow-list", Implemented),
        ("black-white-list", Implemented),
        ("mydumpers", Implemented),
        ("loaders", Implemented),
        ("syncers", Implemented),
        ("clean-dump-file", NoOp(NO_DUMP_FILES)),
        ("ansi-quotes", NoOp(ANSI_QUOTES)),
        ("remove-meta", Implemented),
    ],
    real_keys: keys_of::<TaskConfig>,
};

/// A database connection: a task's `target-database`, a source's `from`.
pub static CONNECTION: Section = Section {
    name: "target-database, from",
    keys: &[
        ("host", Implemented),
        ("port", Implemented),
        ("user", Implemented),
        ("password", Implemented),
        (
            "max-allowed-packet",
            NoOp(
                "deprecated in DM 2.x; statements are sized by the server's own max_allowed_packet",
            ),
        ),
        ("session", Implemented),
        ("security", Implemented),
    ],
    real_keys: keys_of::<DbConfig>,
};

/// DM checks the common names of a database server's certificate chain
/// against this list (and only then the host name). Here the server's
/// certificate must always chain to `ssl-ca` and be valid for the
/// configured `host`, which is what identifies the server; the TLS library
/// offers no hook for a common-name check on top. DM's own sample files
/// write the key, so it is accepted, with this said.
const DB_CERT_ALLOWED_CN: &str = "the server's certificate must chain to `ssl-ca` and be valid for the configured `host` (its subject alternative names), which identifies the server; its common name is not compared with this list (DM compares it): a certificate for the host from the trusted CA is accepted whatever its common name";

/// A connection's `security` block.
pub static SECURITY: Section = Section {
    name: "target-database.security, from.security",
    keys: &[
        ("ssl-ca", Implemented),
        ("ssl-cert", Implemented),
        ("ssl-key", Implemented),
        ("cert-allowed-cn", NoOp(DB_CERT_ALLOWED_CN)),
    ],
    real_keys: keys_of::<Security>,
};

/// `mysql-instances[]`.
pub static INSTANCE: Section = Section {
    name: "task file: mysql-instances[]",
    keys: &[
        ("source-id", Implemented),
        ("meta", Implemented),
        (
            "server-id",
            NoOp("DM 1.x; the replication server-id is the source's (`server-id` in the source file)"),
        ),
        ("route-rules", Implemented),
        ("filter-rules", Implemented),
        ("column-mapping-rules", Implemented),
        ("expression-filters", Implemented),
        ("block-allow-list", Implemented),
        ("black-white-list", Implemented),
        ("mydumper-config-name", Implemented),
        ("mydumper", Implemented),
        ("mydumper-thread", Implemented),
        ("loader-config-name", Implemented),
        ("loader", Implemented),
        ("loader-thread", Implemented),
        ("syncer-config-name", Implemented),
        ("syncer", Implemented),
        ("syncer-thread", Implemented),
    ],
    real_keys: keys_of::<MySqlInstance>,
};

/// `mysql-instances[].meta`.
pub static META: Section = Section {
    name: "task file: mysql-instances[].meta",
    keys: &[
        ("binlog-name", Implemented),
        ("binlog-pos", Implemented),
        ("binlog-gtid", Implemented),
    ],
    real_keys: keys_of::<Meta>,
};

/// `mydumpers.<name>` and `mysql-instances[].mydumper`.
pub static MYDUMPER: Section = Section {
    name: "task file: mydumpers",
    keys: &[
        (
            "mydumper-path",
            NoOp("no external dump program runs: the worker reads the snapshot itself"),
        ),
        ("threads", Implemented),
        (
            "chunk-filesize",
            NoOp("the copy streams chunks and writes no files; a chunk's size is set by `rows`"),
        ),
        ("statement-size", Implemented),
        ("rows", Implemented),
        ("where", Implemented),
        (
            "skip-tz-utc",
            NoOp("the copy reads and writes TIMESTAMP values in one session time zone (the task's `timezone`), so no conversion to UTC is involved"),
        ),
        (
            "extra-args",
            Refused("is not supported yet: there is no dump program to pass arguments to; remove it, and use `where`, `threads` and `rows` instead"),
        ),
    ],
    real_keys: keys_of::<MydumperConfig>,
};

/// `loaders.<name>` and `mysql-instances[].loader`.
pub static LOADER: Section = Section {
    name: "task file: loaders",
    keys: &[
        ("pool-size", Implemented),
        ("dir", NoOp(NO_DUMP_FILES)),
        ("import-mode", Implemented),
        ("on-duplicate-logical", Implemented),
        ("on-duplicate", Implemented),
    ],
    real_keys: keys_of::<LoaderConfig>,
};

/// `syncers.<name>` and `mysql-instances[].syncer`.
pub static SYNCER: Section = Section {
    name: "task file: syncers",
    keys: &[
        (
            "meta-file",
            NoOp("DM 1.x; positions are checkpointed downstream in `meta-schema`"),
        ),
        ("worker-count", Implemented),
        ("batch", Implemented),
        (
            "queue-size",
            NoOp("each lane's queue has a fixed bound and the reader waits on it, so memory stays bounded whatever the value"),
        ),
        (
            "checkpoint-flush-interval",
            NoOp("the checkpoint is committed with every batch, in the batch's own downstream transaction"),
        ),
        (
            "max-retry",
            NoOp("deprecated in DM 2.x; a statement that fails pauses the subtask and the source's `checker` resumes it"),
        ),
        (
            "auto-fix-gtid",
            NoOp("deprecated in DM 2.x; it concerned relay logs, which are not kept"),
        ),
        (
            "enable-gtid",
            NoOp("deprecated in DM 2.x, where the source's `enable-gtid` applies"),
        ),
        (
            "disable-detect",
            NoOp("deprecated in DM 2.x; the changes of one row are always applied in binlog order"),
        ),
        (
            "safe-mode",
            NoOp("delivery is exactly-once: each batch commits with its checkpoint in one downstream transaction, so no replay window needs idempotent rewriting"),
        ),
        ("enable-ansi-quotes", NoOp(ANSI_QUOTES)),
        (
            "compact",
            NoOp("the lanes apply every change of a row in binlog order; the downstream ends the same as with merged changes"),
        ),
        (
            "multiple-rows",
            NoOp("the lanes always write consecutive inserts of a table as multi-row statements"),
        ),
    ],
    real_keys: keys_of::<SyncerConfig>,
};

/// `block-allow-list.<name>`.
pub static BLOCK_ALLOW_LIST: Section = Section {
    name: "task file: block-allow-list",
    keys: &[
        ("do-dbs", Implemented),
        ("ignore-dbs", Implemented),
        ("do-tables", Implemented),
        ("ignore-tables", Implemented),
    ],
    real_keys: keys_of::<BlockAllowList>,
};

/// `do-tables[]` / `ignore-tables[]`.
pub static TABLE_REF: Section = Section {
    name: "task file: block-allow-list tables",
    keys: &[("db-name", Implemented), ("tbl-name", Implemented)],
    real_keys: keys_of::<TableRef>,
};

/// `routes.<name>`.
pub static ROUTE: Section = Section {
    name: "task file: routes",
    keys: &[
        ("schema-pattern", Implemented),
        ("table-pattern", Implemented),
        ("target-schema", Implemented),
        ("target-table", Implemented),
    ],
    real_keys: keys_of::<RouteRule>,
};

/// `filters.<name>` of a task and `filters[]` of a source.
pub static FILTER: Section = Section {
    name: "task file: filters; source file: filters[]",
    keys: &[
        ("schema-pattern", Implemented),
        ("table-pattern", Implemented),
        ("events", Implemented),
        ("sql-pattern", Implemented),
        ("action", Implemented),
    ],
    real_keys: keys_of::<BinlogEventRule>,
};

/// `column-mappings.<name>`.
pub static COLUMN_MAPPING: Section = Section {
    name: "task file: column-mappings",
    keys: &[
        ("schema-pattern", Implemented),
        ("table-pattern", Implemented),
        ("source-column", Implemented),
        ("target-column", Implemented),
        ("expression", Implemented),
        ("arguments", Implemented),
        (
            "create-table-query",
            NoOp("DM 2.x does not read it either; target tables are created from the upstream's own definition"),
        ),
    ],
    real_keys: keys_of::<ColumnMappingRule>,
};

/// `expression-filter.<name>`.
pub static EXPRESSION_FILTER: Section = Section {
    name: "task file: expression-filter",
    keys: &[
        ("schema", Implemented),
        ("table", Implemented),
        ("insert-value-expr", Implemented),
        ("update-old-value-expr", Implemented),
        ("update-new-value-expr", Implemented),
        ("delete-value-expr", Implemented),
    ],
    real_keys: keys_of::<ExpressionFilter>,
};

/// Every section of a task file.
pub static SECTIONS: &[&Section] = &[
    &TASK,
    &CONNECTION,
    &SECURITY,
    &INSTANCE,
    &META,
    &MYDUMPER,
    &LOADER,
    &SYNCER,
    &BLOCK_ALLOW_LIST,
    &TABLE_REF,
    &ROUTE,
    &FILTER,
    &COLUMN_MAPPING,
    &EXPRESSION_FILTER,
];

/// A struct's values when only its required keys are written.
fn minimal<T: DeserializeOwned + Serialize>(required: &str) -> Value {
    crate::config::yaml::from_str::<T>("defaults", required)
        .ok()
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or(Value::Null)
}

/// The refused keys a connection block at `path` sets.
pub(crate) fn connection_refusals(db: &DbConfig, path: &str) -> Vec<Refusal> {
    let mut found = Vec::new();
    if let Some(security) = &db.security {
        found.extend(refusals(
            &SECURITY,
            security,
            &defaults::<Security>(),
            &format!("{path}.security"),
        ));
    }
    found.extend(refusals(
        &CONNECTION,
        db,
        &minimal::<DbConfig>("{host: h, user: u}"),
        path,
    ));
    found
}

/// The refused keys a task sets.
pub fn task_refusals(task: &TaskConfig) -> Vec<Refusal> {
    let base = minimal::<TaskConfig>(
        "{name: t, task-mode: all, target-database: {host: h, user: u}, mysql-instances: []}",
    );
    let mut found = refusals(&TASK, task, &base, "");
    found.extend(connection_refusals(
        &task.target_database,
        "target-database",
    ));
    let instance_base = minimal::<MySqlInstance>("{source-id: s}");
    for (i, instance) in task.mysql_instances.iter().enumerate() {
        let at = format!("mysql-instances[{i}]");
        found.extend(refusals(&INSTANCE, instance, &instance_base, &at));
        if let Some(m) = &instance.mydumper {
            found.extend(refusals(
                &MYDUMPER,
                m,
                &defaults::<MydumperConfig>(),
                &format!("{at}.mydumper"),
            ));
        }
        if let Some(l) = &instance.loader {
            found.extend(refusals(
                &LOADER,
                l,
                &defaults::<LoaderConfig>(),
                &format!("{at}.loader"),
            ));
        }
        if let Some(s) = &instance.syncer {
            found.extend(refusals(
                &SYNCER,
                s,
                &defaults::<SyncerConfig>(),
                &format!("{at}.syncer"),
            ));
        }
    }
    for (name, m) in &task.mydumpers {
        found.extend(refusals(
            &MYDUMPER,
            m,
            &defaults::<MydumperConfig>(),
            &format!("mydumpers.{name}"),
        ));
    }
    for (name, l) in &task.loaders {
        found.extend(refusals(
            &LOADER,
            l,
            &defaults::<LoaderConfig>(),
            &format!("loaders.{name}"),
        ));
    }
    for (name, s) in &task.syncers {
        found.extend(refusals(
            &SYNCER,
            s,
            &defaults::<SyncerConfig>(),
            &format!("syncers.{name}"),
        ));
    }
    found
}

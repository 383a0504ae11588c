//! The keys of the dm-master and dm-worker TOML files (with `[log]`) and
//! the flags of their command lines.

use clap::CommandFactory;

use super::task::connection_refusals;
use super::Status::{Implemented, NoOp, Refused};
use super::{defaults, keys_of, reasons, refusals, Refusal, Section};
use crate::config::{
    DeployEntry, LogFileConfig, MasterArgs, MasterConfig, WorkerArgs, WorkerConfig,
};

const LOG_ROTATE: &str = "DM 1.x's time rotation; DM 2.x ignores it too: the log file rotates by size and age ([log] max-size, max-days, max-backups)";
const ETCD: &str = "tunes DM's embedded etcd; the cluster's state is kept in our own Raft log, which has no such limits";
const WORKER_ALLOWED_CN: &str = "names the clients a server accepts, and a worker serves no gRPC: the masters never dial it. Set cert-allowed-cn on the masters, which check every client (dmctl, workers, other masters)";
const RPC_RATE: &str = "limits DM's calls from the master to workers; here workers fetch their work with their heartbeat, so there are no such calls to limit";

/// dm-master's TOML file.
pub static MASTER: Section = Section {
    name: "dm-master file",
    keys: &[
        ("name", Implemented),
        ("master-addr", Implemented),
        ("advertise-addr", Implemented),
        ("log-level", Implemented),
        ("log-file", Implemented),
        ("log-format", Implemented),
        ("log-rotate", NoOp(LOG_ROTATE)),
        ("log", Implemented),
        ("data-dir", Implemented),
        ("peer-urls", Implemented),
        ("advertise-peer-urls", Implemented),
        ("initial-cluster", Implemented),
        (
            "initial-cluster-state",
            NoOp("a restarted master takes its membership from data-dir, a new one from initial-cluster or join; nothing else is needed to choose"),
        ),
        ("join", Implemented),
        ("raft-heartbeat-interval-ms", Implemented),
        ("raft-election-timeout-ms", Implemented),
        ("rpc-timeout", Implemented),
        ("rpc-rate-limit", NoOp(RPC_RATE)),
        ("rpc-rate-burst", NoOp(RPC_RATE)),
        ("max-txn-ops", NoOp(ETCD)),
        ("max-request-bytes", NoOp(ETCD)),
        ("auto-compaction-mode", NoOp(ETCD)),
        ("auto-compaction-retention", NoOp(ETCD)),
        ("quota-backend-bytes", NoOp(ETCD)),
        ("v1-sources-path", Implemented),
        ("secret-key-path", Implemented),
        ("ssl-ca", Implemented),
        ("ssl-cert", Implemented),
        ("ssl-key", Implemented),
        ("cert-allowed-cn", Implemented),
        (
            "deploy",
            NoOp("DM 1.x's source-to-worker table; the scheduler binds sources to workers"),
        ),
    ],
    real_keys: keys_of::<MasterConfig>,
};

/// The `[log]` section of both daemons' files.
pub static LOG: Section = Section {
    name: "dm-master, dm-worker file: [log]",
    keys: &[
        ("max-size", Implemented),
        ("max-days", Implemented),
        ("max-backups", Implemented),
    ],
    real_keys: keys_of::<LogFileConfig>,
};

const DEPLOY: &str = "DM 1.x's source-to-worker table; the scheduler binds sources to workers";

/// DM 1.x's `[[deploy]]` entries of a master file.
pub static DEPLOY_ENTRY: Section = Section {
    name: "dm-master file: [[deploy]]",
    keys: &[
        ("source-id", NoOp(DEPLOY)),
        ("mysql-instance", NoOp(DEPLOY)),
        ("dm-worker", NoOp(DEPLOY)),
    ],
    real_keys: keys_of::<DeployEntry>,
};

/// dm-worker's TOML file (with DM 1.x's embedded source).
pub static WORKER: Section = Section {
    name: "dm-worker file",
    keys: &[
        ("name", Implemented),
        ("worker-addr", Implemented),
        ("advertise-addr", Implemented),
        ("join", Implemented),
        ("keepalive-ttl", Implemented),
        (
            "relay-keepalive-ttl",
            NoOp("the TTL of workers that keep relay logs, which are not kept"),
        ),
        ("log-level", Implemented),
        ("log-file", Implemented),
        ("log-format", Implemented),
        ("log-rotate", NoOp(LOG_ROTATE)),
        ("log", Implemented),
        ("ssl-ca", Implemented),
        ("ssl-cert", Implemented),
        ("ssl-key", Implemented),
        ("cert-allowed-cn", NoOp(WORKER_ALLOWED_CN)),
        ("server-id", Implemented),
        ("source-id", Implemented),
        (
            "flavor",
            NoOp("the reader speaks to MySQL and MariaDB alike and learns the kind from the server"),
        ),
        (
            "enable-gtid",
            NoOp("checkpoints keep the binlog file and position together with the server's GTID set; the reader needs no choice between them"),
        ),
        ("auto-fix-gtid", NoOp("it repairs relay logs, which are not kept")),
        ("enable-relay", Refused(reasons::RELAY)),
        ("relay-dir", NoOp(reasons::RELAY_DIR)),
        ("relay-binlog-name", Refused(reasons::RELAY_SETTING)),
        ("relay-binlog-gtid", Refused(reasons::RELAY_SETTING)),
        (
            "meta-dir",
            NoOp("positions are checkpointed downstream with the data, not in local files"),
        ),
        (
            "dir",
            NoOp("the full copy streams chunks straight downstream and writes no dump files"),
        ),
        (
            "charset",
            NoOp("row values are decoded with each column's own character set"),
        ),
        ("from", Implemented),
        ("purge", NoOp(reasons::PURGE)),
        ("checker", Implemented),
        ("tracer", NoOp(reasons::TRACER)),
    ],
    real_keys: keys_of::<WorkerConfig>,
};

fn flags_of<C: CommandFactory>() -> Vec<String> {
    let mut command = C::command();
    command.build();
    command
        .get_arguments()
        .filter_map(|arg| arg.get_long().map(str::to_string))
        .collect()
}

/// The flags both daemons take ([`crate::config::DaemonArgs`], clap's own).
const COMMON_FLAGS: [(&str, super::Status); 10] = [
    ("config", Implemented),
    ("log-file", Implemented),
    ("log-level", Implemented),
    ("log-format", Implemented),
    ("print-sample-config", Implemented),
    ("ssl-ca", Implemented),
    ("ssl-cert", Implemented),
    ("ssl-key", Implemented),
    ("help", Implemented),
    ("version", Implemented),
];

/// A daemon's own flags followed by [`COMMON_FLAGS`]; `M` is their sum
/// (a wrong length does not compile).
const fn with_common<const N: usize, const M: usize>(
    own: [(&'static str, super::Status); N],
) -> [(&'static str, super::Status); M] {
    let mut all = [("", Implemented); M];
    let mut i = 0;
    while i < N {
        all[i] = own[i];
        i += 1;
    }
    let mut j = 0;
    while j < COMMON_FLAGS.len() {
        all[N + j] = COMMON_FLAGS[j];
        j += 1;
    }
    all
}

static MASTER_FLAG_KEYS: [(&str, super::Status); 21] = with_common([
    ("name", Implemented),
    ("master-addr", Implemented),
    ("advertise-addr", Implemented),
    ("peer-urls", Implemented),
    ("advertise-peer-urls", Implemented),
    ("initial-cluster", Implemented),
    ("join", Implemented),
    ("data-dir", Implemented),
    ("v1-sources-path", Implemented),
    ("secret-key-path", Implemented),
    ("cert-allowed-cn", Implemented),
]);

static WORKER_FLAG_KEYS: [(&str, super::Status); 16] = with_common([
    ("name", Implemented),
    ("worker-addr", Implemented),
    ("advertise-addr", Implemented),
    ("join", Implemented),
    ("keepalive-ttl", Implemented),
    ("cert-allowed-cn", NoOp(WORKER_ALLOWED_CN)),
]);

/// dm-master's command line.
pub static MASTER_FLAGS: Section = Section {
    name: "dm-master flags",
    keys: &MASTER_FLAG_KEYS,
    real_keys: flags_of::<MasterArgs>,
};

/// dm-worker's command line.
pub static WORKER_FLAGS: Section = Section {
    name: "dm-worker flags",
    keys: &WORKER_FLAG_KEYS,
    real_keys: flags_of::<WorkerArgs>,
};

/// Every section of the daemons' files and command lines.
pub static SECTIONS: &[&Section] = &[
    &MASTER,
    &LOG,
    &DEPLOY_ENTRY,
    &WORKER,
    &MASTER_FLAGS,
    &WORKER_FLAGS,
];

/// The refused keys a master's configuration (file and flags) sets.
pub fn master_refusals(cfg: &MasterConfig) -> Vec<Refusal> {
    refusals(&MASTER, cfg, &defaults::<MasterConfig>(), "")
}

/// The refused keys a worker's configuration (file and flags) sets.
pub fn worker_refusals(cfg: &WorkerConfig) -> Vec<Refusal> {
    let mut found = refusals(&WORKER, cfg, &defaults::<WorkerConfig>(), "");
    if let Some(from) = &cfg.from {
        found.extend(connection_refusals(from, "from"));
    }
    found
}

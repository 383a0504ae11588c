//! Source files as `operate-source create` takes them.

use std::path::Path;
use std::time::Duration;

use dm_proto::config::{duration, Flavor, SourceConfig};

#[test]
fn a_dm2_source_file_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/source.yaml");
    let source = SourceConfig::from_file(&path).expect("source parses");
    assert_eq!(source.source_id, "mysql-replica-01");
    assert_eq!(source.flavor, Flavor::Mariadb);
    assert_eq!(source.server_id, Some(101));
    assert_eq!(source.from.port, 3307);
    assert_eq!(source.from.user, "root");
    assert_eq!(source.purge.remain_space, 15);
    assert_eq!(
        duration::parse(&source.checker.backoff_max),
        Ok(Duration::from_secs(300))
    );
    assert_eq!(source.filters.len(), 1);
}

#[test]
fn a_minimal_source_file_gets_dm_defaults() {
    let text = "source-id: s1\nfrom:\n  host: 127.0.0.1\n  user: root\n";
    let source = SourceConfig::parse("s1.yaml", text).expect("parses");
    assert_eq!(source.flavor, Flavor::Detect);
    assert_eq!(source.from.port, 3306);
    assert!(!source.enable_gtid);
    assert!(source.checker.check_enable);
    assert_eq!(source.relay_dir, "relay-dir");
    let again =
        SourceConfig::parse("again.yaml", &source.to_yaml().expect("yaml")).expect("round trip");
    assert_eq!(source, again);
}

#[test]
fn the_sample_source_file_is_valid() {
    SourceConfig::parse("sample.yaml", SourceConfig::sample()).expect("sample parses");
}

#[test]
fn passwords_never_show_in_debug_output_or_masked_copies() {
    let text = "source-id: s1\nfrom:\n  host: 127.0.0.1\n  user: root\n  password: hunter2\n";
    let source = SourceConfig::parse("s1.yaml", text).expect("parses");
    assert!(!format!("{source:?}").contains("hunter2"));
    assert_eq!(source.from.masked().password, "******");
    assert_eq!(source.from.password, "hunter2");
}

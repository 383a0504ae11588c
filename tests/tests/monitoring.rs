//! The shipped monitoring files (`monitoring/`): promtool accepts the alert
//! rules and the sample Prometheus configuration, the Grafana dashboard is
//! JSON with a query in every panel, and every metric the rules and the
//! dashboard name is one README.md documents.

use std::collections::BTreeSet;
use std::process::Command;

use dm_tests::find_program;
use dm_tests::prometheus::monitoring_file;

fn promtool(args: &[&str]) -> String {
    let promtool = find_program(
        "promtool",
        "install the Debian package `prometheus` (scripts/install-deps.sh does)",
    )
    .expect("promtool");
    let output = Command::new(promtool)
        .args(args)
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}: {text}");
    text
}

#[test]
fn promtool_accepts_the_rules_and_the_sample_configuration() {
    let rules = monitoring_file("dm.rules.yml");
    let out = promtool(&["check", "rules", &rules.display().to_string()]);
    assert!(out.contains("SUCCESS: 9 rules found"), "{out}");
    let config = monitoring_file("prometheus.yml");
    let out = promtool(&["check", "config", &config.display().to_string()]);
    assert!(
        out.contains("is valid prometheus config file syntax"),
        "{out}"
    );
}

/// The `dm_...` names in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(found) = text[i..].find("dm_") {
        let start = i + found;
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |n| start + n);
        if boundary && end > start + 3 {
            names.insert(text[start..end].to_string());
        }
        i = end.max(start + 3);
    }
    names
}

#[test]
fn every_metric_the_rules_and_the_dashboard_name_is_documented() {
    let readme = std::fs::read_to_string(monitoring_file("../README.md")).expect("README.md");
    let documented = metric_names(&readme);
    let dashboard_text =
        std::fs::read_to_string(monitoring_file("dm-dashboard.json")).expect("dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard_text).expect("JSON");
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        if panel["type"] == "row" {
            continue;
        }
        let targets = panel["targets"].as_array().map_or(0, Vec::len);
        assert!(targets > 0, "a panel without a query: {panel}");
        queries += targets;
    }
    assert!(queries >= 20, "{queries} queries");
    let rules = std::fs::read_to_string(monitoring_file("dm.rules.yml")).expect("rules");
    let used: BTreeSet<String> = metric_names(&rules)
        .into_iter()
        .chain(metric_names(&dashboard_text))
        .collect();
    assert!(used.len() >= 15, "{used:?}");
    for name in &used {
        // A histogram's series carry _bucket, _sum and _count.
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|family| documented.contains(*family));
        assert!(
            documented.contains(name) || family.is_some(),
            "{name} is used by monitoring/ but README.md does not document it"
        );
    }
}

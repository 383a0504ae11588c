//! A real Prometheus server for the monitoring tests: the Debian package's
//! `prometheus` binary, started in a temp dir with its own configuration
//! on a free port, scraping the masters and workers every second and
//! evaluating alert rules every second; and its HTTP API (`/api/v1/query`,
//! `/api/v1/alerts`) read back as JSON. Also a daemon's own `GET /metrics`
//! read directly ([`scrape`]), for tests that check one process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::binaries::find_program;
use crate::error::{HarnessError, Result};
use crate::port::free_port;
use crate::process::ChildGuard;
use crate::wait::wait_until;

/// One sample: its family's name, its labels and value (from a query
/// answer, the name is the `__name__` label, empty after aggregation).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, empty when absent.
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// An alert as `/api/v1/alerts` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub name: String,
    /// `pending` or `firing`.
    pub state: String,
    pub labels: BTreeMap<String, String>,
}

/// A running Prometheus server.
#[derive(Debug)]
pub struct Prometheus {
    process: ChildGuard,
    addr: String,
    // Last: removed after the process is stopped.
    dir: TempDir,
}

/// `rules` with every `for:` duration replaced by `for_secs` seconds (a
/// test copy of the shipped rules that fires at once).
pub fn with_short_for(rules: &str, for_secs: u64) -> String {
    rules
        .lines()
        .map(|line| match line.split_once("for:") {
            Some((indent, _)) if indent.trim().is_empty() => format!("{indent}for: {for_secs}s"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The shipped monitoring files (`monitoring/` at the workspace root).
pub fn monitoring_file(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("monitoring")
        .join(name)
}

impl Prometheus {
    /// Starts Prometheus scraping `masters` (job `dm-master`) and `workers`
    /// (job `dm-worker`), both `host:port` lists, every second, with
    /// `rules` (rule-file text) evaluated every second when given. Returns
    /// once it answers `/-/ready`.
    pub async fn start(
        masters: &[String],
        workers: &[String],
        rules: Option<&str>,
    ) -> Result<Self> {
        let binary = find_program(
            "prometheus",
            "install the Debian package `prometheus` (scripts/install-deps.sh does)",
        )?;
        let mut dir = tempfile::Builder::new()
            .prefix("dm-prometheus-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating Prometheus's temp dir", e))?;
        if std::env::var_os("DM_KEEP_TEST_DIRS").is_some() {
            dir.disable_cleanup(true);
        }
        let targets = |addrs: &[String]| {
            addrs
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: dm-master\n    static_configs:\n      - targets: [{}]\n\
             \x20 - job_name: dm-worker\n    static_configs:\n      - targets: [{}]\n",
            targets(masters),
            targets(workers)
        );
        if let Some(rules) = rules {
            let path = dir.path().join("rules.yml");
            std::fs::write(&path, rules).map_err(|e| HarnessError::io("writing rules.yml", e))?;
            config.push_str(&format!("rule_files:\n  - {}\n", path.display()));
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config)
            .map_err(|e| HarnessError::io("writing prometheus.yml", e))?;
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut cmd = Command::new(binary);
        cmd.arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn");
        let process = ChildGuard::spawn("prometheus", cmd, dir.path().join("prometheus.log"))?;
        let prometheus = Self { process, addr, dir };
        wait_until(
            "Prometheus answers /-/ready",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async { prometheus.get("/-/ready").await.ok().map(|_| ()) },
        )
        .await?;
        Ok(prometheus)
    }

    /// Its HTTP address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Its directory (configuration, log, data).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// `GET path` over HTTP/1.0 (whole bodies, no chunking): the body of a
    /// 200 answer, an error otherwise.
    async fn get(&self, path: &str) -> Result<String> {
        let io = |e| HarnessError::io(format!("GET {path} from Prometheus at {}", self.addr), e);
        let mut stream = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(io)?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.map_err(io)?;
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
            return Err(HarnessError::Task(format!(
                "GET {path}: {}",
                head.lines().next().unwrap_or_default()
            )));
        }
        Ok(body.to_string())
    }

    /// `path` as JSON; an error unless Prometheus says `"status": "success"`.
    async fn get_json(&self, path: &str) -> Result<Value> {
        let body = self.get(path).await?;
        let value: Value = serde_json::from_str(&body)
            .map_err(|e| HarnessError::Task(format!("GET {path}: not JSON ({e}): {body}")))?;
        if value["status"] != "success" {
            return Err(HarnessError::Task(format!("GET {path}: {value}")));
        }
        Ok(value)
    }

    /// The instant vector `promql` evaluates to now.
    pub async fn query(&self, promql: &str) -> Result<Vec<Sample>> {
        let value = self
            .get_json(&format!("/api/v1/query?query={}", percent_encode(promql)))
            .await?;
        let result = value["data"]["result"]
            .as_array()
            .ok_or_else(|| HarnessError::Task(format!("{promql}: not a vector: {value}")))?;
        Ok(result
            .iter()
            .map(|sample| Sample {
                name: sample["metric"]["__name__"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                labels: labels(&sample["metric"]),
                value: sample["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN),
            })
            .collect())
    }

    /// The alerts pending or firing now.
    pub async fn alerts(&self) -> Result<Vec<Alert>> {
        let value = self.get_json("/api/v1/alerts").await?;
        Ok(value["data"]["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|alert| {
                let labels = labels(&alert["labels"]);
                Alert {
                    name: labels.get("alertname").cloned().unwrap_or_default(),
                    state: alert["state"].as_str().unwrap_or_default().to_string(),
                    labels,
                }
            })
            .collect())
    }
}

/// Parses Prometheus's text format (label values holding no quotes or
/// commas, as the daemons' are).
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    Some((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect();
            Some(Sample {
                name: name.to_string(),
                labels,
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// `GET /metrics` on a daemon's `addr`: the body, which must come with a
/// 200 in Prometheus's text format (version 0.0.4).
pub async fn fetch_metrics(addr: &str) -> std::result::Result<String, String> {
    let answer = crate::http::http_get(addr, "/metrics")
        .await
        .map_err(|e| format!("GET /metrics on {addr}: {e}"))?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP answer: {answer}"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("GET /metrics on {addr}: {head}"));
    }
    if !head
        .to_ascii_lowercase()
        .contains("content-type: text/plain; version=0.0.4")
    {
        return Err(format!("not Prometheus's text format: {head}"));
    }
    Ok(body.to_string())
}

/// [`fetch_metrics`], parsed.
pub async fn scrape(addr: &str) -> std::result::Result<Vec<Sample>, String> {
    Ok(parse_metrics(&fetch_metrics(addr).await?))
}

/// The `name` samples whose labels include every `labels` pair.
fn matching<'a>(
    samples: &'a [Sample],
    name: &'a str,
    labels: &'a [(&str, &str)],
) -> impl Iterator<Item = &'a Sample> {
    samples.iter().filter(move |s| {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
    })
}

/// The value of `name` whose labels include every `labels` pair, when
/// exactly one sample matches.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = matching(samples, name, labels).collect();
    match found.as_slice() {
        [one] => Some(one.value),
        _ => None,
    }
}

/// The sum of every `name` sample whose labels include every `labels`
/// pair (over the lanes, say); `None` when there is none.
pub fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = matching(samples, name, labels).map(|s| s.value).collect();
    (!found.is_empty()).then(|| found.iter().sum())
}

fn labels(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// `text` for a URL's query string: every byte but unreserved ones as %XX.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_for_rewrites_every_for_and_nothing_else() {
        let rules = "      - alert: A\n        expr: x > 1 # for: no\n        for: 5m\n      - alert: B\n        for: 30s\n";
        assert_eq!(
            super::with_short_for(rules, 1),
            "      - alert: A\n        expr: x > 1 # for: no\n        for: 1s\n      - alert: B\n        for: 1s"
        );
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            super::percent_encode("up{job=\"dm\"} == 1"),
            "up%7Bjob%3D%22dm%22%7D%20%3D%3D%201"
        );
    }
}

//! Address forms DM's flags and files use: `host:port` (host may be empty,
//! meaning every interface), `http://host:port` peer URLs, comma lists, and
//! `name=url,...` initial clusters.
//!
//! Deployment tools write URLs without a scheme (TiUP's start scripts pass
//! `--peer-urls="10.0.0.1:8291"`). DM completes such values as its
//! `WrapSchemes` does, and so do we: a scheme-less URL in `peer-urls`,
//! `advertise-peer-urls`, `initial-cluster` (`name=host:port`) and `join`
//! takes `http://` (`https://` when TLS is configured), and a listen or
//! advertise address given as a URL loses its scheme.

use super::error::ValueError;

/// Checks `host:port` (host may be empty); returns the port.
pub fn parse_host_port(value: &str) -> Result<(String, u16), ValueError> {
    let invalid = || ValueError::NotAddress(value.to_string());
    let (host, port) = value.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    if port == 0 {
        return Err(invalid());
    }
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
    ))
}

/// `host:port` to advertise for a listen address: an empty or unspecified host
/// becomes 127.0.0.1, the address every process on this machine reaches.
pub fn advertise_for(listen: &str) -> Result<String, ValueError> {
    let (host, port) = parse_host_port(listen)?;
    let host = match host.as_str() {
        "" | "0.0.0.0" | "::" => "127.0.0.1".to_string(),
        _ => host,
    };
    Ok(format!("{host}:{port}"))
}

/// `http://host:port` (or `https://`); returns `host:port`.
pub fn parse_peer_url(value: &str) -> Result<String, ValueError> {
    let invalid = || ValueError::NotPeerUrl(value.to_string());
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or_else(invalid)?;
    parse_host_port(rest).map_err(|_| invalid())?;
    Ok(rest.to_string())
}

/// `value` without a leading `http://` or `https://`.
pub fn unwrap_scheme(value: &str) -> &str {
    value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .unwrap_or(value)
}

/// One URL with DM's scheme: `http://` (or `https://` when `https`),
/// replacing any scheme it had. An empty value stays empty.
fn wrap_scheme(value: &str, https: bool) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{}", unwrap_scheme(value))
}

/// A comma list of URLs with DM's scheme on each (`WrapSchemes`).
pub fn wrap_schemes(list: &str, https: bool) -> String {
    list.split(',')
        .map(|item| wrap_scheme(item, https))
        .collect::<Vec<_>>()
        .join(",")
}

/// `name=url,...` with DM's scheme on each URL; an item that is not
/// `name=url` is left for [`parse_initial_cluster`] to refuse.
pub fn wrap_schemes_for_initial_cluster(list: &str, https: bool) -> String {
    list.split(',')
        .map(|item| match item.split_once('=') {
            Some((name, url)) if !url.contains('=') => {
                format!("{}={}", name.trim(), wrap_scheme(url, https))
            }
            _ => item.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The `host:port` addresses to dial for a `join` list (with or without
/// schemes), an empty or unspecified host read as 127.0.0.1; items that do
/// not parse are left out (the configuration refused them already).
pub fn join_addresses(list: &str) -> Vec<String> {
    split_list(list)
        .iter()
        .filter_map(|item| advertise_for(unwrap_scheme(item)).ok())
        .collect()
}

/// Splits a comma list, dropping empty items.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses `name=url,name=url`.
pub fn parse_initial_cluster(value: &str) -> Result<Vec<(String, String)>, ValueError> {
    split_list(value)
        .into_iter()
        .map(|item| {
            let (name, url) = item
                .split_once('=')
                .ok_or_else(|| ValueError::NotMember(item.clone()))?;
            if name.trim().is_empty() {
                return Err(ValueError::EmptyName(item.clone()));
            }
            parse_peer_url(url.trim())?;
            Ok((name.trim().to_string(), url.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(parse_host_port(":8261"), Ok((String::new(), 8261)));
        assert_eq!(
            parse_host_port("127.0.0.1:8262"),
            Ok(("127.0.0.1".into(), 8262))
        );
        assert!(parse_host_port("8261").is_err());
        assert!(parse_host_port("h:70000").is_err());
        assert_eq!(advertise_for(":8262").as_deref(), Ok("127.0.0.1:8262"));
        assert_eq!(
            advertise_for("10.0.0.1:8262").as_deref(),
            Ok("10.0.0.1:8262")
        );
    }

    #[test]
    fn initial_cluster_forms() {
        let parsed = parse_initial_cluster("m1=http://127.0.0.1:8291, m2=http://127.0.0.1:8292");
        assert_eq!(
            parsed,
            Ok(vec![
                ("m1".into(), "http://127.0.0.1:8291".into()),
                ("m2".into(), "http://127.0.0.1:8292".into())
            ])
        );
        assert!(parse_initial_cluster("m1").is_err());
        assert!(parse_initial_cluster("m1=127.0.0.1:8291").is_err());
    }

    #[test]
    fn scheme_less_urls_take_http() {
        assert_eq!(wrap_schemes("10.0.0.1:8291", false), "http://10.0.0.1:8291");
        assert_eq!(
            wrap_schemes("10.0.0.1:8291,http://10.0.0.2:8291", false),
            "http://10.0.0.1:8291,http://10.0.0.2:8291"
        );
        assert_eq!(wrap_schemes("0.0.0.0:8291", true), "https://0.0.0.0:8291");
        // As DM: the scheme follows the TLS settings, not what was written.
        assert_eq!(wrap_schemes("https://h:1", false), "http://h:1");
        assert_eq!(wrap_schemes("", false), "");
        assert_eq!(
            wrap_schemes_for_initial_cluster("m1=10.0.0.1:8291,m2=http://10.0.0.2:8291", false),
            "m1=http://10.0.0.1:8291,m2=http://10.0.0.2:8291"
        );
        assert_eq!(
            wrap_schemes_for_initial_cluster("m1", false),
            "m1",
            "left for the parser to refuse"
        );
        assert!(parse_initial_cluster(&wrap_schemes_for_initial_cluster("m1=h:1", false)).is_ok());
        assert!(parse_initial_cluster(&wrap_schemes_for_initial_cluster("m1=h", false)).is_err());
    }

    #[test]
    fn addresses_lose_their_scheme() {
        assert_eq!(unwrap_scheme("http://10.0.0.1:8261"), "10.0.0.1:8261");
        assert_eq!(unwrap_scheme("https://10.0.0.1:8261"), "10.0.0.1:8261");
        assert_eq!(unwrap_scheme("10.0.0.1:8261"), "10.0.0.1:8261");
        assert_eq!(
            join_addresses("http://10.0.0.1:8261, :8361,10.0.0.3:8461,bad"),
            vec!["10.0.0.1:8261", "127.0.0.1:8361", "10.0.0.3:8461"]
        );
    }
}

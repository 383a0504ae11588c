//! Address forms DM's flags and files use: `host:port` (host may be empty,
//! meaning every interface), `http://host:port` peer URLs, comma lists, and
//! `name=url,...` initial clusters.

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
}

//! Which process owns the other end of a loopback connection.
//!
//! The partition proxy ([`super::proxy`]) sees a connection from
//! `127.0.0.1:PORT` and must know whether it came from the worker being
//! partitioned. Linux tells: `/proc/net/tcp` maps a local address to a
//! socket inode, and `/proc/PID/fd/*` links name the inodes a process
//! holds. Only the runner's own children are asked about, so this needs no
//! privileges.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// Every loopback connection's socket inode, by (local port, remote
/// port), from the text of `/proc/net/tcp`. Pure.
pub fn connections(proc_net_tcp: &str) -> HashMap<(u16, u16), u64> {
    proc_net_tcp
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = |field: &str| {
                let (ip, port) = field.split_once(':')?;
                (ip == "0100007F")
                    .then(|| u16::from_str_radix(port, 16).ok())
                    .flatten()
            };
            let local = port(fields.get(1)?)?;
            let remote = port(fields.get(2)?)?;
            let inode = fields.get(9)?.parse().ok()?;
            Some(((local, remote), inode))
        })
        .collect()
}

/// The socket inodes process `pid` holds.
pub fn socket_inodes(pid: u32) -> HashSet<u64> {
    let dir = Path::new("/proc").join(pid.to_string()).join("fd");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashSet::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let target = std::fs::read_link(entry.path()).ok()?;
            let text = target.to_str()?;
            text.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// A shared, time-stamped reading of `/proc`, so that many connections
/// asking at once cost one reading: a reading taken after a connection
/// was accepted shows it. Reading `/proc/net/tcp` takes milliseconds on a
/// busy machine; callers run [`Sockets::owner`] off the async threads.
#[derive(Debug, Default)]
pub struct Sockets {
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    connections: HashMap<(u16, u16), u64>,
    connections_read: Option<Instant>,
    held: HashMap<u32, (HashSet<u64>, Instant)>,
}

impl Sockets {
    /// Which of `pids` holds the client end of the connection from
    /// `peer_port` to `proxy_port`, accepted at `accepted`. Blocking.
    pub fn owner(
        &self,
        peer_port: u16,
        proxy_port: u16,
        accepted: Instant,
        pids: &[u32],
    ) -> Option<u32> {
        let mut cache = self.cache.lock().ok()?;
        if cache.connections_read.is_none_or(|read| read < accepted) {
            let read = Instant::now();
            let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
            cache.connections = connections(&table);
            cache.connections_read = Some(read);
        }
        let inode = *cache.connections.get(&(peer_port, proxy_port))?;
        for pid in pids {
            let fresh = cache
                .held
                .get(pid)
                .is_some_and(|(_, read)| *read >= accepted);
            if !fresh {
                let read = Instant::now();
                cache.held.insert(*pid, (socket_inodes(*pid), read));
            }
            if cache
                .held
                .get(pid)
                .is_some_and(|(held, _)| held.contains(&inode))
            {
                return Some(*pid);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn reads_loopback_connections() {
        let table = connections(TABLE);
        assert_eq!(table.get(&(0xC350, 8080)), Some(&777));
        assert_eq!(table.get(&(0xC350, 8081)), None);
        assert_eq!(table.len(), 1, "the listener is no connection: {table:?}");
    }

    #[test]
    fn finds_the_process_holding_a_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let accepted = Instant::now();
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let port = client.local_addr().expect("local").port();
        let server = listener.local_addr().expect("addr").port();
        let me = std::process::id();
        let sockets = Sockets::default();
        assert_eq!(sockets.owner(port, server, accepted, &[1, me]), Some(me));
        assert_eq!(sockets.owner(port, server, accepted, &[1]), None);
    }
}

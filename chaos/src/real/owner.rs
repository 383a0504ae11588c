//! Which process owns the other end of a loopback connection.
//!
//! The partition proxy ([`super::proxy`]) sees a connection from
//! `127.0.0.1:PORT` and must know whether it came from the worker being
//! partitioned. Linux tells: `/proc/net/tcp` maps a local address to a
//! socket inode, and `/proc/PID/fd/*` links name the inodes a process
//! holds. Only the runner's own children are asked about, so this needs no
//! privileges.

use std::path::Path;

/// The socket inode of the TCP connection from `127.0.0.1:local_port` to
/// `127.0.0.1:remote_port`, from the text of `/proc/net/tcp`. (A local
/// port alone is not enough: connections to different destinations may
/// share one.) Pure.
pub fn inode_of(proc_net_tcp: &str, local_port: u16, remote_port: u16) -> Option<u64> {
    let local = format!("0100007F:{local_port:04X}");
    let remote = format!("0100007F:{remote_port:04X}");
    proc_net_tcp.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
        if fields.get(1) == Some(&local.as_str()) && fields.get(2) == Some(&remote.as_str()) {
            fields.get(9).and_then(|inode| inode.parse().ok())
        } else {
            None
        }
    })
}

/// Whether process `pid` holds the socket with `inode`.
pub fn holds(pid: u32, inode: u64) -> bool {
    let wanted = format!("socket:[{inode}]");
    let dir = Path::new("/proc").join(pid.to_string()).join("fd");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read_link(entry.path())
            .map(|target| target.as_os_str() == wanted.as_str())
            .unwrap_or(false)
    })
}

/// Which of `pids` holds the client end of the loopback connection from
/// `peer_port` to `proxy_port`.
pub fn owner(peer_port: u16, proxy_port: u16, pids: &[u32]) -> Option<u32> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = inode_of(&table, peer_port, proxy_port)?;
    pids.iter().copied().find(|pid| holds(*pid, inode))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn finds_the_inode_of_a_local_port() {
        assert_eq!(inode_of(TABLE, 0xC350, 8080), Some(777));
        assert_eq!(inode_of(TABLE, 0xC350, 8081), None);
        assert_eq!(inode_of(TABLE, 8080, 0), None); // a listener, no connection
        assert_eq!(inode_of(TABLE, 1, 0), None);
    }

    #[test]
    fn finds_the_process_holding_a_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let port = client.local_addr().expect("local").port();
        let server = listener.local_addr().expect("addr").port();
        let me = std::process::id();
        assert_eq!(owner(port, server, &[1, me]), Some(me));
    }
}

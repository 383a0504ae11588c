//! Free TCP port picking on 127.0.0.1.
//!
//! The kernel picks a free port when we bind port 0; we close the listener and hand the port
//! to a server. That leaves a race (someone else can take the port before the server binds
//! it), so callers must retry with a new port when the bind fails; [`crate::MariaDb`] does.
//! Within this process the race is closed completely: a port is never handed out twice, so
//! tests running in parallel threads cannot collide with each other.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, PoisonError};

use crate::error::{HarnessError, Result};

/// Ports already handed out by this process.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// How many kernel picks to try before giving up on finding a port not yet handed out.
const PICKS: usize = 64;

/// Returns a port on 127.0.0.1 that was free a moment ago and that this process has not
/// handed out before.
pub fn free_port() -> Result<u16> {
    let mut last_error = String::from("every port the kernel offered was already handed out");
    for _ in 0..PICKS {
        let port = match pick() {
            Ok(port) => port,
            Err(e) => {
                last_error = e.to_string();
                continue;
            }
        };
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
    Err(HarnessError::NoFreePort(last_error))
}

/// Returns `n` distinct free ports.
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    (0..n).map(|_| free_port()).collect()
}

fn pick() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract: non-zero and never handed out twice by this process.
    /// (Whether a port is still free when used cannot be promised: other
    /// tests' client connections draw ephemeral ports from the same range,
    /// which is why servers retry on a new port.)
    #[test]
    fn ports_are_distinct_and_nonzero() {
        let ports = free_ports(20).unwrap();
        let more = free_ports(20).unwrap();
        let distinct: BTreeSet<_> = ports.iter().chain(&more).copied().collect();
        assert_eq!(distinct.len(), ports.len() + more.len());
        assert!(!distinct.contains(&0));
    }
}

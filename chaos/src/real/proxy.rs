//! A loopback TCP proxy in front of each master, able to cut one process
//! off from the masters.
//!
//! Every master advertises its proxy's address, and workers join through
//! the proxies, so every connection a worker makes to a master (the
//! `--join` addresses and the leader a master points it to) passes here.
//! A partition of worker W stops relaying, in both directions, every
//! connection W holds, including connections it opens while cut off: bytes
//! stay in the sockets' buffers, as packets would on a dead link, and the
//! worker's requests time out. The worker keeps its connections to the
//! databases, so it runs on, cut off from the masters, until its lease
//! runs out; meanwhile the masters move its source to another worker. That
//! is the case the downstream's epoch fence exists for. Healing relays
//! again whatever is still connected.
//!
//! A connection's owner is found in `/proc` ([`super::owner`]) when a
//! partition needs it, so the proxy needs no help from the processes.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Mutex};

use super::owner::Sockets;

/// Which processes exist and which are cut off.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Processes a connection may belong to.
    pub pids: Vec<u32>,
    /// Processes cut off from the masters.
    pub cut: Vec<u32>,
}

/// The partition switch shared by every proxy.
#[derive(Debug, Clone)]
pub struct Partitions {
    view: Arc<watch::Sender<View>>,
    sockets: Arc<Sockets>,
}

impl Default for Partitions {
    fn default() -> Self {
        Self {
            view: Arc::new(watch::channel(View::default()).0),
            sockets: Arc::new(Sockets::default()),
        }
    }
}

impl Partitions {
    /// The processes connections may belong to (after a restart, a new pid).
    pub fn set_pids(&self, pids: Vec<u32>) {
        self.view.send_modify(|v| v.pids = pids);
    }

    /// Cuts `pid` off from the masters.
    pub fn cut(&self, pid: u32) {
        self.view.send_modify(|v| v.cut.push(pid));
    }

    /// Lets `pid` reach the masters again.
    pub fn heal(&self, pid: u32) {
        self.view.send_modify(|v| v.cut.retain(|p| *p != pid));
    }

    fn watch(&self) -> watch::Receiver<View> {
        self.view.subscribe()
    }
}

/// Starts a proxy on a free loopback port relaying to `target`; returns
/// the port. It runs until the runtime ends.
pub async fn start(target: SocketAddr, partitions: &Partitions) -> io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let partitions = partitions.clone();
    tokio::spawn(async move {
        while let Ok((client, peer)) = listener.accept().await {
            let view = partitions.watch();
            let client_end = Owner::Unknown {
                peer_port: peer.port(),
                proxy_port: port,
                accepted: Instant::now(),
                sockets: partitions.sockets.clone(),
            };
            tokio::spawn(relay(client, client_end, target, view));
        }
    });
    Ok(port)
}

/// Relays one connection until either side closes it.
async fn relay(client: TcpStream, owner: Owner, target: SocketAddr, view: watch::Receiver<View>) {
    let Ok(server) = TcpStream::connect(target).await else {
        return; // the master is down: the client sees its connection closed
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let owner = Arc::new(Mutex::new(owner));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, owner.clone(), view.clone());
    let down = pump(server_read, client_write, owner, view);
    let _ = tokio::join!(up, down);
}

/// Who holds a connection's client end, once asked.
#[derive(Debug, Clone)]
enum Owner {
    /// Not asked yet: the client's port, the proxy's it connected to, and
    /// when.
    Unknown {
        peer_port: u16,
        proxy_port: u16,
        accepted: Instant,
        sockets: Arc<Sockets>,
    },
    Known(Option<u32>),
}

impl Owner {
    /// Whether the connection belongs to a process cut off in `view`. The
    /// first time a partition asks, `/proc` is read off the async threads.
    async fn is_cut(&mut self, view: &View) -> bool {
        if view.cut.is_empty() {
            return false;
        }
        let pid = match self.clone() {
            Owner::Known(pid) => pid,
            Owner::Unknown {
                peer_port,
                proxy_port,
                accepted,
                sockets,
            } => {
                let pids = view.pids.clone();
                let pid = tokio::task::spawn_blocking(move || {
                    sockets.owner(peer_port, proxy_port, accepted, &pids)
                })
                .await
                .unwrap_or(None);
                *self = Owner::Known(pid);
                pid
            }
        };
        pid.is_some_and(|pid| view.cut.contains(&pid))
    }
}

/// Copies one direction, pausing while the connection is cut off. Whether
/// it is cut is decided again only when the partitions change.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    owner: Arc<Mutex<Owner>>,
    mut view: watch::Receiver<View>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let current = view.borrow_and_update().clone();
        if owner.lock().await.is_cut(&current).await {
            if view.changed().await.is_err() {
                return Ok(());
            }
            continue;
        }
        // Relays until the partitions change.
        loop {
            tokio::select! {
                read = from.read(&mut buf) => {
                    let n = read?;
                    if n == 0 {
                        return to.shutdown().await;
                    }
                    to.write_all(buf.get(..n).unwrap_or_default()).await?;
                }
                changed = view.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    break;
                }
            }
        }
    }
}

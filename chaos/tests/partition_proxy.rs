//! The partition proxy relays, cuts one process off (connections it holds
//! and connections it opens while cut off), and relays again after healing.

use std::time::Duration;

use dm_chaos::real::proxy::{self, Partitions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a cut connection is watched for bytes that must not arrive.
const SILENCE: Duration = Duration::from_millis(300);
const DEADLINE: Duration = Duration::from_secs(10);

async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// An echo server behind a proxy that knows this process, and a
/// connection through it: (switch, proxy port, connection).
async fn proxied() -> (Partitions, u16, TcpStream) {
    let partitions = Partitions::default();
    partitions.set_pids(vec![std::process::id()]);
    let port = proxy::start(echo_server().await, &partitions)
        .await
        .expect("proxy");
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    (partitions, port, stream)
}

async fn ping(stream: &mut TcpStream, byte: u8, within: Duration) -> Option<u8> {
    stream.write_all(&[byte]).await.expect("write");
    let mut got = [0u8; 1];
    match tokio::time::timeout(within, stream.read_exact(&mut got)).await {
        Ok(Ok(_)) => Some(got[0]),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_a_process_off_and_heals() {
    let (partitions, port, mut held) = proxied().await;
    let me = std::process::id();
    assert_eq!(ping(&mut held, 1, DEADLINE).await, Some(1));

    partitions.cut(me);
    assert_eq!(ping(&mut held, 2, SILENCE).await, None, "relayed while cut");
    let mut opened = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect while cut");
    assert_eq!(
        ping(&mut opened, 3, SILENCE).await,
        None,
        "relayed while cut"
    );

    partitions.heal(me);
    let mut got = [0u8; 1];
    tokio::time::timeout(DEADLINE, held.read_exact(&mut got))
        .await
        .expect("the held byte after healing")
        .expect("read");
    assert_eq!(got[0], 2);
    tokio::time::timeout(DEADLINE, opened.read_exact(&mut got))
        .await
        .expect("the new connection's byte after healing")
        .expect("read");
    assert_eq!(got[0], 3);
    assert_eq!(ping(&mut held, 4, DEADLINE).await, Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaves_other_processes_alone() {
    let (partitions, _, mut stream) = proxied().await;
    let me = std::process::id();
    partitions.cut(me + 1_000_000);
    assert_eq!(ping(&mut stream, 9, DEADLINE).await, Some(9));
}

//! The downstream conformance suite (`dm_worker::downstream::conformance`)
//! against a real MariaDB server: the in-memory downstream of the
//! simulation passes the same suite in the worker's unit tests.

use dm_tests::{MariaDb, MariaDbOptions};
use dm_worker::downstream::{conformance, MySqlDownstream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_passes_the_downstream_conformance_suite() {
    let server = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("downstream");
    let downstream = MySqlDownstream::new(server.opts());
    conformance::run(&downstream, "conformance")
        .await
        .expect("conformance");
    // Twice: the suite cleans up after itself.
    conformance::run(&downstream, "conformance")
        .await
        .expect("conformance, again");
}

//! The tutorial's upstream data, on real MariaDB servers configured as the
//! tutorial configures its MySQL servers, matches the tutorial's printed
//! output row for row; and the tutorial's config files load.

use dm_tests::tutorial::{self, Ports, Row};

fn row(id: u64, c: &str, shard: usize, ports: &[u16]) -> Row {
    (id, Some(c.to_string()), Some(i32::from(ports[shard])))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_data_matches_the_tutorials_output() {
    let dbs = tutorial::start_databases(Ports::Free)
        .await
        .expect("servers start");
    let ports: Vec<u16> = dbs.upstreams.iter().map(|s| s.port()).collect();

    let mut dmtest1 = Vec::new();
    for server in &dbs.upstreams {
        tutorial::run_sql(server, tutorial::DMTEST1_SQL)
            .await
            .expect("dmtest1 loads");
        let rows = tutorial::rows(server, "dmtest1").await.expect("rows");
        assert_eq!(rows.len(), 256, "8 rows doubled 5 times");
        dmtest1.extend(rows);
    }
    dmtest1.sort_by_key(|r| r.0);
    assert!(
        dmtest1.windows(2).all(|w| w[0].0 < w[1].0),
        "ids never collide"
    );
    // The last lines the tutorial prints for `select * from t1 ... | sort -n`.
    assert_eq!(
        dmtest1[dmtest1.len() - 6..],
        [
            row(1851, "ff1418e8cc993fe8abcfe3ce2003e5c5", 0, &ports),
            row(1852, "eb1e78328c46506b46a4ac4a1e378b91", 1, &ports),
            row(1853, "7503cfacd12053d309b6bed5c89de212", 2, &ports),
            row(1856, "3c947bc2f7ff007b86a9428b74654de5", 0, &ports),
            row(1857, "a3545bd79d31f9a72d3a78690adf73fc", 1, &ports),
            row(1858, "d7fd118e6f226a71b5f1ffe10efd0a78", 2, &ports),
        ]
    );

    for (shard, server) in dbs.upstreams.iter().enumerate() {
        tutorial::run_sql(server, tutorial::DMTEST2_SQL)
            .await
            .expect("dmtest2 loads");
        let rows = tutorial::rows(server, "dmtest2").await.expect("rows");
        assert_eq!(rows.len(), 256);
        // "The last auto-increment ID assigned by the upstream MySQL servers was 372."
        assert_eq!(
            rows.last(),
            Some(&row(372, "24b16fede9a67c9251d3e7c7161c83ac", shard, &ports))
        );
    }

    for server in dbs.upstreams {
        server.stop().await.expect("stops");
    }
    dbs.downstream.stop().await.expect("stops");
}

#[test]
fn tutorial_config_files_load() {
    let report = tutorial::check_config_files(&tutorial::config_dir()).expect("dm-cnf loads");
    assert_eq!(report.len(), 6, "{report:?}");
}

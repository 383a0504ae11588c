//! States the pure cores' unit tests start from.

use dm_proto::config::SourceConfig;

use super::{ClusterState, Command, TaskStage};

/// Sources `s1` and `s2` and task `t` on both, its subtasks in `stage`.
pub fn task_on_two_sources(stage: TaskStage) -> ClusterState {
    let mut state = ClusterState::default();
    for source in ["s1", "s2"] {
        let text = format!("source-id: {source}\nfrom:\n  host: 127.0.0.1\n  user: root\n");
        let config = SourceConfig::parse("s.yaml", &text).expect("valid source");
        state.apply(
            &Command::CreateSource {
                config: Box::new(config),
            },
            1,
        );
    }
    state.apply(
        &Command::StartTask {
            name: "t".into(),
            config_yaml: "name: t".into(),
            sources: vec!["s1".into(), "s2".into()],
            stage,
            start_time: String::new(),
        },
        2,
    );
    state
}

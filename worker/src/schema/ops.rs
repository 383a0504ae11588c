//! `binlog-schema update` / `delete` as the worker receives them.
//!
//! The leader holds every operation in Raft and sends a subtask's pending
//! ones (ascending id) in each heartbeat answer until the subtask reports
//! an applied id at or above them. The sync applies the operations whose
//! id is above the one persisted with its checkpoint when it starts, and
//! records the new id in the same fenced write, so an operation delivered
//! twice (a retried heartbeat, a new leader, another worker) applies once.

use dm_proto::pb;

/// One operation on a tracked table definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaOp {
    /// Unique and growing across the cluster.
    pub id: u64,
    /// The upstream table.
    pub schema: String,
    pub table: String,
    /// `Some`: track this CREATE TABLE text from now on; `None`: forget the
    /// tracked definition.
    pub create: Option<String>,
}

impl SchemaOp {
    /// A heartbeat's operations, ascending id.
    pub fn from_assignment(ops: &[pb::SchemaOperation]) -> Vec<SchemaOp> {
        let mut out: Vec<SchemaOp> = ops
            .iter()
            .map(|op| SchemaOp {
                id: op.id,
                schema: op.database.clone(),
                table: op.table.clone(),
                create: (!op.delete).then(|| op.create_sql.clone()),
            })
            .collect();
        out.sort_by_key(|op| op.id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assignment_gives_updates_and_deletes_in_id_order() {
        let wire = [
            pb::SchemaOperation {
                id: 7,
                database: "db".into(),
                table: "a".into(),
                create_sql: String::new(),
                delete: true,
            },
            pb::SchemaOperation {
                id: 3,
                database: "db".into(),
                table: "a".into(),
                create_sql: "CREATE TABLE a (id INT)".into(),
                delete: false,
            },
        ];
        assert_eq!(
            SchemaOp::from_assignment(&wire),
            [
                SchemaOp {
                    id: 3,
                    schema: "db".into(),
                    table: "a".into(),
                    create: Some("CREATE TABLE a (id INT)".into()),
                },
                SchemaOp {
                    id: 7,
                    schema: "db".into(),
                    table: "a".into(),
                    create: None,
                },
            ]
        );
    }
}

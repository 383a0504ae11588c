//! `check-diff`'s answer as printed. The protocol's JSON mapping writes
//! 64-bit counts as strings (JavaScript cannot hold them exactly); a report
//! is read by people and scripts that expect numbers, so the counts of rows
//! and chunks are printed as numbers, in the answer's field order.

use dm_proto::pb;
use serde::Serialize;

/// The whole answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report<'a> {
    result: bool,
    msg: &'a str,
    task: &'a str,
    rows_compared: u64,
    rows_differing: u64,
    chunks_compared: u64,
    chunks_differing: u64,
    tables: Vec<Table<'a>>,
}

/// One downstream table.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Table<'a> {
    target: &'a str,
    sources: &'a [String],
    rows_compared: u64,
    rows_differing: u64,
    chunks_compared: u64,
    chunks_differing: u64,
    error: &'a str,
    /// The condition the compared rows meet (`mydumpers.where`); empty:
    /// every row.
    filter: &'a str,
    differences: &'a [pb::RowDifference],
}

/// `answer` in its printed shape.
pub fn printable(answer: &pb::CheckDiffResponse) -> Report<'_> {
    Report {
        result: answer.result,
        msg: &answer.msg,
        task: &answer.task,
        rows_compared: answer.rows_compared,
        rows_differing: answer.rows_differing,
        chunks_compared: answer.chunks_compared,
        chunks_differing: answer.chunks_differing,
        tables: answer
            .tables
            .iter()
            .map(|t| Table {
                target: &t.target,
                sources: &t.sources,
                rows_compared: t.rows_compared,
                rows_differing: t.rows_differing,
                chunks_compared: t.chunks_compared,
                chunks_differing: t.chunks_differing,
                error: &t.error,
                filter: &t.filter,
                differences: &t.differences,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_numbers_at_both_levels() {
        let answer = pb::CheckDiffResponse {
            result: true,
            task: "t".into(),
            rows_compared: 12,
            tables: vec![pb::TableDiff {
                target: "`d`.`t`".into(),
                rows_differing: 1,
                differences: vec![pb::RowDifference {
                    kind: "extra".into(),
                    key: "id=5".into(),
                    upstream: String::new(),
                    downstream: "id=5, c=NULL".into(),
                }],
                ..pb::TableDiff::default()
            }],
            ..pb::CheckDiffResponse::default()
        };
        let text = serde_json::to_string(&printable(&answer)).expect("serializes");
        assert!(
            text.starts_with(r#"{"result":true,"msg":"","task":"t","rowsCompared":12,"#),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&text).expect("parses");
        assert_eq!(json["chunksDiffering"], 0);
        assert_eq!(json["tables"][0]["rowsDiffering"], 1);
        assert_eq!(json["tables"][0]["error"], "");
        assert_eq!(json["tables"][0]["differences"][0]["key"], "id=5");
        assert_eq!(json["tables"][0]["differences"][0]["upstream"], "");
    }
}

//! One table altered step by step while a task replicates it, rows written
//! between each DDL: a column added AFTER another and one FIRST, a column
//! dropped, one made UNSIGNED, one renamed, the primary key dropped (the
//! rows then found by a UNIQUE key over a NOT NULL column) and added back,
//! a column changed (new name and type), one moved, an index added and the
//! unique key dropped.
//!
//! Each row event after a DDL has the table's new shape; an upstream that
//! logs no column names (`binlog_row_metadata=NO_LOG` / `MINIMAL`) leaves
//! the sync to know that shape from the DDL itself. After every step the
//! downstream must read the same rows (`SELECT *`, so the column order too)
//! and have the same columns with the same types.
//!
//! Shared by `sync_types.rs` (FULL row metadata) and `no_column_names.rs`.

use crate::error::Result;
use crate::scenario::OneSource;
use crate::types_table::DEADLINE;

/// The table, with rows; `app` must exist (see [`crate::types_table::SEED`]).
pub const SEED: &[&str] = &[
    "CREATE TABLE app.evolve (id INT NOT NULL, k INT NOT NULL, a VARCHAR(20) NOT NULL DEFAULT '', \
     b INT, PRIMARY KEY (id), UNIQUE KEY k_uk (k)) DEFAULT CHARSET=utf8mb4",
    "INSERT INTO app.evolve (id, k, a, b) VALUES (1, 10, 'one', 1), (2, 20, 'two', 2), (3, 30, 'three', 3)",
];

/// Each DDL, then the writes that follow it.
pub const STEPS: &[(&str, &[&str])] = &[
    (
        "ALTER TABLE app.evolve ADD COLUMN x INT NOT NULL DEFAULT 5 AFTER id",
        &[
            "INSERT INTO app.evolve (id, k, x, a, b) VALUES (4, 40, 7, 'four', 4)",
            "UPDATE app.evolve SET x = 2147483647, b = NULL WHERE id = 1",
            "DELETE FROM app.evolve WHERE id = 2",
        ],
    ),
    (
        "ALTER TABLE app.evolve ADD COLUMN f VARCHAR(10) CHARACTER SET latin1 FIRST",
        &[
            "INSERT INTO app.evolve (f, id, k, a) VALUES ('été', 5, 50, 'five')",
            "UPDATE app.evolve SET f = 'ÿø', a = 'uno' WHERE id = 1",
        ],
    ),
    (
        "ALTER TABLE app.evolve DROP COLUMN b",
        &[
            "INSERT INTO app.evolve (id, k, a) VALUES (6, 60, 'six')",
            "UPDATE app.evolve SET a = 'drei' WHERE id = 3",
            "DELETE FROM app.evolve WHERE id = 4",
        ],
    ),
    (
        "ALTER TABLE app.evolve MODIFY COLUMN x INT UNSIGNED NOT NULL DEFAULT 5",
        &[
            "INSERT INTO app.evolve (id, k, x, a) VALUES (7, 70, 4294967295, 'seven')",
            "UPDATE app.evolve SET x = 4294967294 WHERE id = 1",
        ],
    ),
    (
        "ALTER TABLE app.evolve RENAME COLUMN a TO name",
        &[
            "INSERT INTO app.evolve (id, k, name) VALUES (8, 80, 'eight')",
            "UPDATE app.evolve SET name = 'sechs' WHERE id = 6",
            "DELETE FROM app.evolve WHERE id = 5",
        ],
    ),
    (
        "ALTER TABLE app.evolve DROP PRIMARY KEY",
        &[
            "INSERT INTO app.evolve (id, k, name) VALUES (9, 90, 'nine')",
            "UPDATE app.evolve SET id = 10, name = 'ten' WHERE k = 90",
            "UPDATE app.evolve SET k = 11 WHERE id = 1",
            "DELETE FROM app.evolve WHERE k = 80",
        ],
    ),
    (
        "ALTER TABLE app.evolve ADD PRIMARY KEY (id)",
        &[
            "INSERT INTO app.evolve (id, k, name) VALUES (12, 120, 'twelve')",
            "UPDATE app.evolve SET k = 130, name = 'thirteen' WHERE id = 12",
            "DELETE FROM app.evolve WHERE id = 3",
        ],
    ),
    (
        "ALTER TABLE app.evolve CHANGE COLUMN name title VARCHAR(40) NOT NULL DEFAULT 'none'",
        &[
            "INSERT INTO app.evolve (id, k) VALUES (14, 140)",
            "UPDATE app.evolve SET title = REPEAT('t', 40) WHERE id = 6",
        ],
    ),
    (
        "ALTER TABLE app.evolve MODIFY COLUMN f VARCHAR(10) CHARACTER SET latin1 AFTER title",
        &[
            "INSERT INTO app.evolve (id, k, title, f) VALUES (15, 150, 'fifteen', 'ñ')",
            "UPDATE app.evolve SET f = 'ü', x = 0 WHERE id = 1",
            "DELETE FROM app.evolve WHERE id = 7",
        ],
    ),
    (
        "ALTER TABLE app.evolve ADD INDEX x_idx (x), DROP INDEX k_uk",
        &[
            "INSERT INTO app.evolve (id, k, title) VALUES (16, 150, 'same k')",
            "UPDATE app.evolve SET k = 150 WHERE id = 12",
            "DELETE FROM app.evolve WHERE id = 14",
        ],
    ),
];

/// The rows, all columns in table order.
const ROWS: &str = "SELECT * FROM app.evolve ORDER BY id";

/// The columns: names, types, nullability, defaults, in table order.
const COLUMNS: &str = "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT \
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'evolve' \
     ORDER BY ORDINAL_POSITION";

/// Runs [`STEPS`] on `c`'s upstream while `task` (which selects `app`)
/// replicates, checking the downstream's rows and columns after the seed
/// and after each step.
pub async fn replicate(c: &OneSource, task: &str) -> Result<()> {
    c.wait_same_unpaused(task, ROWS, DEADLINE).await?;
    for (ddl, writes) in STEPS {
        crate::tutorial::run_sql(&c.upstream, &[ddl]).await?;
        crate::tutorial::run_sql(&c.upstream, writes).await?;
        c.wait_same_unpaused(task, ROWS, DEADLINE).await?;
        c.wait_same_unpaused(task, COLUMNS, DEADLINE).await?;
    }
    Ok(())
}

/// The type table replicated exactly ([`crate::types_table::replicate`]),
/// then every step on this table, in the same task.
pub async fn replicate_after_types(c: &OneSource) -> Result<()> {
    crate::types_table::replicate(c).await?;
    replicate(c, crate::types_table::TASK_NAME).await
}

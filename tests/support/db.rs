//! A test's own look into the archive's database, on either backend: counts and rows by plain
//! SQL that both dialects read alike, for what a user could not see through stet (how many
//! outbox rows wait, whether a version has its event), and bulk rows a test sets up faster
//! than `watch add` would. A test that tampers with rows to see `verify` catch it does so on
//! SQLite only and says so.

use super::{Stet, Storage};

pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

impl Db {
    pub fn open(stet: &Stet) -> Self {
        match &stet.storage {
            Storage::Sqlite => Self::Sqlite(rusqlite::Connection::open(stet.db_path()).unwrap()),
            Storage::Postgres { url, .. } => Self::Postgres(Box::new(
                postgres::Client::connect(url, postgres::NoTls).expect("connect"),
            )),
        }
    }

    /// The one integer `sql` selects (a `count(*)`).
    pub fn count(&mut self, sql: &str) -> i64 {
        match self {
            Self::Sqlite(c) => c
                .query_row(sql, [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Self::Postgres(c) => c
                .query_one(sql, &[])
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .get(0),
        }
    }

    /// The first column of every row `sql` selects, as text.
    pub fn strings(&mut self, sql: &str) -> Vec<String> {
        match self {
            Self::Sqlite(c) => {
                let mut stmt = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                stmt.query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Self::Postgres(c) => c
                .query(sql, &[])
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| r.get(0))
                .collect(),
        }
    }

    /// Every row `sql` selects, each column as a `Cell`.
    pub fn rows(&mut self, sql: &str) -> Vec<Vec<Cell>> {
        self.try_rows(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Every row `sql` selects, or the database's error.
    pub fn try_rows(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        match self {
            Self::Sqlite(c) => {
                let mut stmt = c.prepare(sql).map_err(|e| e.to_string())?;
                let n = stmt.column_count();
                stmt.query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            use rusqlite::types::ValueRef;
                            Ok(match r.get_ref(i)? {
                                ValueRef::Null => Cell::Null,
                                ValueRef::Integer(v) => Cell::Int(v),
                                ValueRef::Real(v) => Cell::Text(v.to_string()),
                                ValueRef::Text(v) => {
                                    Cell::Text(String::from_utf8_lossy(v).into_owned())
                                }
                                ValueRef::Blob(v) => Cell::Bytes(v.to_vec()),
                            })
                        })
                        .collect()
                })
                .and_then(|rows| rows.collect::<Result<_, _>>())
                .map_err(|e| e.to_string())
            }
            Self::Postgres(c) => {
                use postgres::types::Type;
                let rows = c.query(sql, &[]).map_err(|e| e.to_string())?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| {
                                let t = r.columns()[i].type_().clone();
                                let cell = if t == Type::INT8 {
                                    r.get::<_, Option<i64>>(i).map(Cell::Int)
                                } else if t == Type::INT4 {
                                    r.get::<_, Option<i32>>(i).map(|v| Cell::Int(v.into()))
                                } else if t == Type::INT2 {
                                    r.get::<_, Option<i16>>(i).map(|v| Cell::Int(v.into()))
                                } else if t == Type::BOOL {
                                    r.get::<_, Option<bool>>(i).map(|v| Cell::Int(v.into()))
                                } else if t == Type::BYTEA {
                                    r.get::<_, Option<Vec<u8>>>(i).map(Cell::Bytes)
                                } else {
                                    r.get::<_, Option<String>>(i).map(Cell::Text)
                                };
                                cell.unwrap_or(Cell::Null)
                            })
                            .collect()
                    })
                    .collect())
            }
        }
    }

    /// Runs statements that set rows up (no results).
    pub fn execute(&mut self, sql: &str) {
        match self {
            Self::Sqlite(c) => c
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Self::Postgres(c) => c
                .batch_execute(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        }
    }

    /// SQLite's own check of its file (`PRAGMA integrity_check`). PostgreSQL has no such check
    /// of a database; there the archive's consistency is what `stet verify` and the counts show.
    pub fn integrity_ok(&mut self) {
        if let Self::Sqlite(c) = self {
            let ok: String = c
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(ok, "ok", "SQLite's integrity check");
        }
    }
}

impl Stet {
    /// A connection to this `Stet`'s archive database.
    pub fn db(&self) -> Db {
        Db::open(self)
    }
}

/// One column of one row, as both backends store it (a boolean is an integer, as in SQLite).
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Cell {
    pub fn int(&self) -> i64 {
        match self {
            Self::Int(v) => *v,
            other => panic!("not an integer: {other:?}"),
        }
    }

    pub fn text(&self) -> String {
        match self {
            Self::Text(v) => v.clone(),
            other => panic!("not text: {other:?}"),
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Bytes(v) => v.clone(),
            other => panic!("not bytes: {other:?}"),
        }
    }
}

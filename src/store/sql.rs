//! The dialect seam: one way to run a statement on SQLite or on PostgreSQL, so that every store
//! operation is written once.
//!
//! Owns the [`Tx`] trait (query one row, query many, execute, insert and return the new id),
//! its one value type ([`Value`]) both ways, and the two implementations: rusqlite's connection
//! and transaction ([`Lite`]) and any postgres client or transaction. Queries are written with
//! SQLite's numbered placeholders (`?1`); PostgreSQL gets them as `$1`. Never holds a query of
//! its own, and never decides what a row means.

use std::borrow::Cow;

use super::{Result, StoreError};

/// Which SQL an archive speaks, for the few statements that differ in more than placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// One value to or from a column: the types both backends store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    /// The value as a ledger entry commits to it: text as is, numbers in decimal, bytes in hex,
    /// NULL absent.
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Self::Null => None,
            Self::Int(i) => Some(i.to_string()),
            Self::Bool(b) => Some(i64::from(*b).to_string()),
            Self::Real(f) => Some(f.to_string()),
            Self::Text(t) => Some(t.clone()),
            Self::Blob(b) => Some(hex::encode(b)),
        }
    }
}

/// A parameter of a statement.
pub(crate) trait Param {
    fn value(&self) -> Value;
}

impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value {
        (**self).value()
    }
}

impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}

impl Param for Value {
    fn value(&self) -> Value {
        self.clone()
    }
}

impl Param for str {
    fn value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl Param for String {
    fn value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl Param for Vec<u8> {
    fn value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl Param for bool {
    fn value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl Param for f64 {
    fn value(&self) -> Value {
        Value::Real(*self)
    }
}

impl Param for i64 {
    fn value(&self) -> Value {
        Value::Int(*self)
    }
}

impl Param for u16 {
    fn value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl Param for u32 {
    fn value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl Param for usize {
    fn value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

/// A column value read back into a Rust type.
pub(crate) trait FromValue: Sized {
    fn from_value(v: Value) -> std::result::Result<Self, String>;
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl FromValue for i64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Int(i) => Ok(i),
            Value::Bool(b) => Ok(i64::from(b)),
            // SQLite keeps `checks.count` as a real.
            Value::Real(f) if f.fract() == 0.0 => Ok(f as i64),
            v => Err(format!("expected an integer, found {v:?}")),
        }
    }
}

/// An integer column read into a narrower type.
fn narrow<T: TryFrom<i64>>(v: Value) -> std::result::Result<T, String> {
    let i = i64::from_value(v)?;
    T::try_from(i).map_err(|_| format!("{i} is out of range"))
}

impl FromValue for u32 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        narrow(v)
    }
}

impl FromValue for u16 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        narrow(v)
    }
}

impl FromValue for f64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Real(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            v => Err(format!("expected a number, found {v:?}")),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Bool(b) => Ok(b),
            Value::Int(i) => Ok(i != 0),
            v => Err(format!("expected a boolean, found {v:?}")),
        }
    }
}

impl FromValue for String {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s),
            v => Err(format!("expected text, found {v:?}")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b),
            Value::Text(s) => Ok(s.into_bytes()),
            v => Err(format!("expected bytes, found {v:?}")),
        }
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    /// Column `i` as a `T`.
    pub(crate) fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.0.get(i).cloned().unwrap_or(Value::Null);
        T::from_value(v).map_err(|why| StoreError::Corrupt(format!("column {i}: {why}")))
    }

    /// A text column (a hash, a kind, a status) parsed into its type.
    pub(crate) fn parse<T: std::str::FromStr<Err = String>>(&self, i: usize) -> Result<T> {
        self.get::<String>(i)?.parse().map_err(StoreError::Corrupt)
    }

    pub(crate) fn parse_opt<T: std::str::FromStr<Err = String>>(
        &self,
        i: usize,
    ) -> Result<Option<T>> {
        self.get::<Option<String>>(i)?
            .map(|s| s.parse().map_err(StoreError::Corrupt))
            .transpose()
    }

    /// The values of the columns from `from` on, as a ledger entry commits to them.
    pub(crate) fn texts(&self, from: usize) -> Vec<Option<String>> {
        self.0.iter().skip(from).map(Value::text).collect()
    }
}

/// A connection or open transaction of either backend. Statements use `?1`-style placeholders.
pub(crate) trait Tx {
    /// The SQL this archive speaks.
    fn dialect(&self) -> Dialect;

    /// Every row the query returns.
    fn query(&mut self, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>>;

    /// The first row the query returns, if any.
    fn query_opt(&mut self, sql: &str, params: &[&dyn Param]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The one row the query must return.
    fn query_one(&mut self, sql: &str, params: &[&dyn Param]) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Corrupt("a query that returns a row returned none".into()))
    }

    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<u64>;

    /// Runs an `INSERT` into a table with an `id` key; returns the new row's id.
    fn insert_id(&mut self, sql: &str, params: &[&dyn Param]) -> Result<i64>;
}

/// SQLite: a connection (or a transaction, through its `Deref`).
pub(crate) struct Lite<'c>(pub(crate) &'c rusqlite::Connection);

fn values(params: &[&dyn Param]) -> Vec<Value> {
    params.iter().map(|p| p.value()).collect()
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn lite_row(r: &rusqlite::Row<'_>) -> Result<Row> {
    use rusqlite::types::ValueRef;
    let values = (0..r.as_ref().column_count()).map(|i| {
        Ok(match r.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Int(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        })
    });
    Ok(Row(values.collect::<rusqlite::Result<_>>()?))
}

impl Tx for Lite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(values(params)))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(lite_row(r)?);
        }
        Ok(out)
    }

    fn query_opt(&mut self, sql: &str, params: &[&dyn Param]) -> Result<Option<Row>> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(values(params)))?;
        rows.next()?.map(lite_row).transpose()
    }

    fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<u64> {
        let mut stmt = self.0.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(values(params)))? as u64)
    }

    fn insert_id(&mut self, sql: &str, params: &[&dyn Param]) -> Result<i64> {
        self.execute(sql, params)?;
        Ok(self.0.last_insert_rowid())
    }
}

/// `?1` placeholders as PostgreSQL's `$1` (outside quoted text).
fn pg_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => quoted = !quoted,
            '?' if !quoted => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    Cow::Owned(out)
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        use postgres::types::Type;
        match (self, ty) {
            (Value::Null, _) => Ok(postgres::types::IsNull::Yes),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), _) => i.to_sql(ty, out),
            (Value::Bool(b), &Type::INT8) => i64::from(*b).to_sql(ty, out),
            (Value::Bool(b), _) => b.to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Real(f), _) => f.to_sql(ty, out),
            (Value::Text(s), _) => s.as_str().to_sql(ty, out),
            (Value::Blob(b), _) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A driver row as a [`Row`].
pub(crate) fn pg_row(r: &postgres::Row) -> Result<Row> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map(Value::Real),
            Type::FLOAT4 => r
                .try_get::<_, Option<f32>>(i)?
                .map(|v| Value::Real(v.into())),
            Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                r.try_get::<_, Option<String>>(i)?.map(Value::Text)
            }
            ref other => {
                return Err(StoreError::Corrupt(format!(
                    "column {} has type {other}, which the store does not read (cast it)",
                    col.name()
                )));
            }
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

/// PostgreSQL: a client or a transaction. Callers step off the async threads first
/// (`blocking`).
impl<C: postgres::GenericClient> Tx for C {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>> {
        let vals = values(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = vals
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let rows = postgres::GenericClient::query(self, &*pg_sql(sql), &refs)?;
        rows.iter().map(pg_row).collect()
    }

    fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<u64> {
        let vals = values(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = vals
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect();
        Ok(postgres::GenericClient::execute(
            self,
            &*pg_sql(sql),
            &refs,
        )?)
    }

    fn insert_id(&mut self, sql: &str, params: &[&dyn Param]) -> Result<i64> {
        Tx::query_one(self, &format!("{sql} RETURNING id"), params)?.get(0)
    }
}

/// SQL that ends this worker's lease on a watch, added to the statements that finish a check
/// (PostgreSQL's work queue; SQLite has one writer and no leases).
pub(super) fn end_lease(tx: &dyn Tx) -> &'static str {
    match tx.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => ", lease_owner = NULL, lease_until = NULL",
    }
}

/// Runs blocking driver work from wherever the store is called: on an async worker thread it
/// steps out of the runtime first (the driver runs its own), elsewhere it just runs.
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quoted_text() {
        assert_eq!(
            pg_sql("SELECT '?1', x FROM t WHERE a = ?1 AND b IS ?2"),
            "SELECT '?1', x FROM t WHERE a = $1 AND b IS $2"
        );
    }

    #[test]
    fn sqlite_round_trips_every_value() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut tx = Lite(&conn);
        tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a, b, c, d)", &[])
            .unwrap();
        let id = tx
            .insert_id(
                "INSERT INTO t (a, b, c, d) VALUES (?1, ?2, ?3, ?4)",
                &[&7i64, &"x", &Some(vec![1u8, 2]), &None::<String>],
            )
            .unwrap();
        let r = tx
            .query_one("SELECT a, b, c, d FROM t WHERE id = ?1", &[&id])
            .unwrap();
        assert_eq!(r.get::<i64>(0).unwrap(), 7);
        assert_eq!(r.get::<String>(1).unwrap(), "x");
        assert_eq!(r.get::<Vec<u8>>(2).unwrap(), vec![1, 2]);
        assert_eq!(r.get::<Option<String>>(3).unwrap(), None);
        assert!(r.get::<String>(0).is_err(), "an integer is not text");
    }
}

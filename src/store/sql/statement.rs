//! Statements built at run time (multi-row inserts, `IN` lists), with the placeholders of the
//! connection's backend: `$N` for PostgreSQL (sqlx's `QueryBuilder` writes `?` for the `Any`
//! driver, which PostgreSQL rejects), plain `?` for SQLite. Not `$N` on SQLite: sqlx binds
//! each argument by asking SQLite for the parameter's name, a linear search of the statement's
//! named parameters, so a 30,000-value insert with `$N` names cost 30,000² / 2 string
//! comparisons, three quarters of an NDJSON import's time (measured with perf); unnamed `?`
//! parameters have no names to search.

use std::fmt::Write;

use sqlx::any::AnyArguments;
use sqlx::{Any, AnyConnection, Arguments};

use crate::error::{Error, Result};

/// SQL text and the values bound to its placeholders, in order.
pub(super) struct Statement {
    sql: String,
    arguments: AnyArguments,
    /// `$N` placeholders (PostgreSQL) rather than `?` (SQLite).
    numbered: bool,
    /// The first value that could not be encoded; reported when the statement is built.
    failed: Option<sqlx::error::BoxDynError>,
}

impl Statement {
    /// A statement for `conn`'s backend, starting with `head` (which binds nothing).
    pub(super) fn new(head: &str, conn: &AnyConnection) -> Statement {
        Statement {
            sql: head.to_string(),
            arguments: AnyArguments::default(),
            numbered: conn.backend_name() != <sqlx::Sqlite as sqlx::Database>::NAME,
            failed: None,
        }
    }

    pub(super) fn push(&mut self, sql: &str) -> &mut Statement {
        self.sql.push_str(sql);
        self
    }

    /// Binds `value` to the next placeholder, written at the end of the SQL.
    pub(super) fn push_bind<T: Value>(&mut self, value: T) -> &mut Statement {
        if let Err(error) = value.add_to(&mut self.arguments) {
            self.failed.get_or_insert(error);
        }
        if self.numbered {
            let _ = write!(self.sql, "${}", self.arguments.len());
        } else {
            self.sql.push('?');
        }
        self
    }

    /// `(v1, v2, ...)` of `values`, each bound.
    pub(super) fn push_list<T: Value, I: IntoIterator<Item = T>>(
        &mut self,
        values: I,
    ) -> &mut Statement {
        self.push("(");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(value);
        }
        self.push(")")
    }

    /// The query to execute, or the encoding error of a bound value.
    pub(super) fn build(self) -> Result<sqlx::query::Query<'static, Any, AnyArguments>> {
        if let Some(source) = self.failed {
            return Err(Error::Database {
                context: "encoding a value to store".to_string(),
                source: sqlx::Error::Encode(source),
            });
        }
        Ok(sqlx::query_with(
            sqlx::AssertSqlSafe(self.sql),
            self.arguments,
        ))
    }

    /// As [`Statement::build`], for a query whose rows are read as `O`.
    pub(super) fn build_query_as<O>(
        self,
    ) -> Result<sqlx::query::QueryAs<'static, Any, O, AnyArguments>>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        if let Some(source) = self.failed {
            return Err(Error::Database {
                context: "encoding a value to store".to_string(),
                source: sqlx::Error::Encode(source),
            });
        }
        Ok(sqlx::query_as_with(
            sqlx::AssertSqlSafe(self.sql),
            self.arguments,
        ))
    }
}

/// The values of one row of a multi-row insert, separated by commas.
pub(super) struct RowValues<'a> {
    statement: &'a mut Statement,
    first: bool,
}

impl RowValues<'_> {
    pub(super) fn push_bind<T: Value>(&mut self, value: T) -> &mut Self {
        if !self.first {
            self.statement.push(", ");
        }
        self.first = false;
        self.statement.push_bind(value);
        self
    }
}

impl Statement {
    /// `VALUES (...), (...)`: one parenthesized row per item, its values bound by `bind`.
    pub(super) fn push_values<I, F>(&mut self, rows: I, mut bind: F) -> &mut Statement
    where
        I: IntoIterator,
        F: FnMut(&mut RowValues<'_>, I::Item),
    {
        self.push("VALUES ");
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push("(");
            let mut values = RowValues {
                statement: self,
                first: true,
            };
            bind(&mut values, row);
            self.push(")");
        }
        self
    }
}

/// A value a statement can bind: the types both backends store. A flag is bound as the
/// integer 0 or 1, because its column is an integer on both (PostgreSQL will not put a
/// boolean into a `BIGINT`).
pub(super) trait Value {
    fn add_to(
        self,
        arguments: &mut AnyArguments,
    ) -> std::result::Result<(), sqlx::error::BoxDynError>;
}

macro_rules! bound_as_is {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn add_to(self, arguments: &mut AnyArguments) -> std::result::Result<(), sqlx::error::BoxDynError> {
                arguments.add(self)
            }
        }
    )*};
}
bound_as_is!(
    i64,
    Option<i64>,
    String,
    Option<String>,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<f64>
);

impl Value for &str {
    fn add_to(
        self,
        arguments: &mut AnyArguments,
    ) -> std::result::Result<(), sqlx::error::BoxDynError> {
        arguments.add(self.to_string())
    }
}

impl Value for bool {
    fn add_to(
        self,
        arguments: &mut AnyArguments,
    ) -> std::result::Result<(), sqlx::error::BoxDynError> {
        arguments.add(i64::from(self))
    }
}

impl Value for Option<bool> {
    fn add_to(
        self,
        arguments: &mut AnyArguments,
    ) -> std::result::Result<(), sqlx::error::BoxDynError> {
        arguments.add(self.map(i64::from))
    }
}

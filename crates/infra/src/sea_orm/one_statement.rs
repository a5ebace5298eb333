//! Several writes as one PostgreSQL statement.

use sea_orm::{DatabaseBackend, QueryTrait, Statement};

/// `first` and `then`, two PostgreSQL inserts built by SeaORM, as one
/// statement: `WITH first AS (...) then`. A statement is atomic on its own,
/// so this is one round trip and one commit where a transaction takes four
/// (`BEGIN`, the inserts, `COMMIT`). PostgreSQL runs a data-modifying `WITH`
/// part to completion whether or not the rest reads it.
pub(crate) fn both(first: &impl QueryTrait, then: &impl QueryTrait) -> Statement {
    let first = first.build(DatabaseBackend::Postgres);
    let then = then.build(DatabaseBackend::Postgres);
    let offset = first.values.as_ref().map_or(0, |v| v.0.len());
    let sql = format!(
        "WITH first AS ({}) {}",
        first.sql,
        shift_placeholders(&then.sql, offset)
    );
    let values = first
        .values
        .into_iter()
        .chain(then.values)
        .flat_map(|v| v.0)
        .collect::<Vec<_>>();
    Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values)
}

/// `query` built for PostgreSQL with its placeholders numbered from
/// `$(offset + 1)`, to follow `offset` values of another statement.
pub(crate) fn after(query: &impl QueryTrait, offset: usize) -> (String, Vec<sea_orm::Value>) {
    let built = query.build(DatabaseBackend::Postgres);
    let values = built.values.into_iter().flat_map(|v| v.0).collect();
    (shift_placeholders(&built.sql, offset), values)
}

/// `sql` with every placeholder `$n` renumbered `$(n + offset)`. SeaORM
/// writes values as placeholders, never inline, and quotes no identifier
/// with a `$` in it, so every `$` followed by digits is a placeholder.
fn shift_placeholders(sql: &str, offset: usize) -> String {
    let mut shifted = String::with_capacity(sql.len() + 8);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        shifted.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Ok(n) = rest[..digits].parse::<usize>() {
            shifted.push_str(&(n + offset).to_string());
        } else {
            shifted.push_str(&rest[..digits]);
        }
        rest = &rest[digits..];
    }
    shifted.push_str(rest);
    shifted
}

#[cfg(test)]
mod tests {
    use super::shift_placeholders;

    #[test]
    fn placeholders_are_renumbered_and_nothing_else_changes() {
        assert_eq!(
            shift_placeholders(r#"INSERT INTO "t" ("a", "b") VALUES ($1, $12)"#, 10),
            r#"INSERT INTO "t" ("a", "b") VALUES ($11, $22)"#
        );
        assert_eq!(shift_placeholders("no placeholders", 3), "no placeholders");
        assert_eq!(shift_placeholders("a lone $ sign", 3), "a lone $ sign");
    }
}

//! Multi-row statements: one round trip writes many rows.

/// `INSERT INTO {table} ({columns}) VALUES ($1, …), (…)` for `rows` rows, parameters numbered
/// row by row in column order.
pub(crate) fn insert_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    for row in 0..rows {
        let params: Vec<String> =
            (1..=columns.len()).map(|c| format!("${}", row * columns.len() + c)).collect();
        sql.push_str(if row == 0 { "(" } else { ", (" });
        sql.push_str(&params.join(", "));
        sql.push(')');
    }
    sql
}

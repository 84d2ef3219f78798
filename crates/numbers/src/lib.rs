//! Counts and amounts as people read them. One crate with no dependencies, so the policy's 429
//! bodies, the server-rendered pages and the browser's live updates write numbers alike.

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount as the dashboard and the spend-cap body write it: `$50.00`, `$1,055.00` for US
/// dollars, `0.07 EUR` for any other currency code.
pub fn money(cents: u64, currency: &str) -> String {
    let amount = format!("{}.{:02}", thousands(cents / 100), cents % 100);
    if currency == "USD" { format!("${amount}") } else { format!("{amount} {currency}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_in_threes() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn money_is_written_with_cents() {
        assert_eq!(money(5_000, "USD"), "$50.00");
        assert_eq!(money(5_012, "USD"), "$50.12");
        assert_eq!(money(7, "EUR"), "0.07 EUR");
        assert_eq!(money(105_500, "USD"), "$1,055.00");
        assert_eq!(money(123_456_789, "USD"), "$1,234,567.89");
    }
}

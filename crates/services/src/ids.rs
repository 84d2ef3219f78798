//! Random identifiers and secrets in base62 (`acc_3kTmd…`), and digests written as hex.

use rand::Rng;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` base62 characters from the thread's CSPRNG (ChaCha, seeded and reseeded from the OS);
/// 22 characters carry 130 bits.
pub fn random_base62(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len).map(|_| BASE62[rng.gen_range(0..62)] as char).collect()
}

/// A new id such as `acc_3kTmdQ0r…`: a readable kind prefix and 128+ random bits.
pub fn new_id(kind: &str) -> String {
    format!("{kind}_{}", random_base62(22))
}

/// `bytes` in lowercase hex, two characters a byte: how SHA-256 digests are stored and compared.
pub fn lowercase_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_kind_and_are_distinct() {
        let a = new_id("acc");
        let b = new_id("acc");
        assert!(a.starts_with("acc_"));
        assert_eq!(a.len(), 4 + 22);
        assert_ne!(a, b);
        assert!(a[4..].bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}

//! The shape of an API key secret: `<prefix>_<22 base62 characters>_<6 base62 checksum>`.
//!
//! 22 base62 characters carry 130 random bits. The checksum is CRC-32 of everything before it,
//! so a typo or a string that merely looks like a key is rejected before any database look-up,
//! and secret scanners can confirm a find without asking us. Only SHA-256 digests are stored.

use sha2::{Digest, Sha256};

use crate::ids::{lowercase_hex, random_base62};

const RANDOM_LEN: usize = 22;
const CHECKSUM_LEN: usize = 6;
/// Characters of the random part shown in `start` (about 36 bits: recognisable, not usable).
const VISIBLE_LEN: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretFormatError {
    #[error("the key prefix must be 1-16 lowercase letters or digits")]
    BadPrefix,
}

/// The deployment's key prefix, e.g. `ks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFormat {
    prefix: String,
}

impl KeyFormat {
    pub fn new(prefix: &str) -> Result<Self, SecretFormatError> {
        let valid = (1..=16).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if valid { Ok(Self { prefix: prefix.to_owned() }) } else { Err(SecretFormatError::BadPrefix) }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A fresh secret, with its visible start and its digest.
    pub fn generate(&self) -> GeneratedSecret {
        let body = format!("{}_{}", self.prefix, random_base62(RANDOM_LEN));
        let secret = format!("{body}_{}", String::from_utf8_lossy(&checksum(&body)));
        GeneratedSecret { start: visible_start(&secret, &self.prefix), hash: digest(&secret), secret }
    }

    /// The digest to look `candidate` up by, if it is well formed: right prefix, right lengths,
    /// base62 only, matching checksum. Anything else is refused without a look-up.
    pub fn parse(&self, candidate: &str) -> Option<String> {
        let (body, check) = candidate.rsplit_once('_')?;
        let (prefix, random) = body.split_once('_')?;
        let well_formed = prefix == self.prefix
            && random.len() == RANDOM_LEN
            && check.len() == CHECKSUM_LEN
            && random.bytes().chain(check.bytes()).all(|b| b.is_ascii_alphanumeric())
            && checksum(body) == check.as_bytes();
        well_formed.then(|| digest(candidate))
    }
}

pub struct GeneratedSecret {
    /// The plaintext: returned to the user once, never stored.
    pub secret: String,
    pub start: String,
    pub hash: String,
}

fn visible_start(secret: &str, prefix: &str) -> String {
    secret.chars().take(prefix.len() + 1 + VISIBLE_LEN).collect()
}

/// SHA-256 in hex: what the database keeps and looks keys up by.
pub fn digest(secret: &str) -> String {
    lowercase_hex(&Sha256::digest(secret.as_bytes()))
}

/// The six base62 characters of CRC-32 over `body`: bytes, so the gateway compares without
/// allocating.
fn checksum(body: &str) -> [u8; CHECKSUM_LEN] {
    const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut value = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format() -> KeyFormat {
        KeyFormat::new("ks").unwrap()
    }

    #[test]
    fn a_generated_secret_parses_to_its_digest() {
        let generated = format().generate();
        assert_eq!(generated.secret.len(), 2 + 1 + 22 + 1 + 6);
        assert!(generated.secret.starts_with("ks_"));
        assert_eq!(generated.start.len(), 9);
        assert!(generated.secret.starts_with(&generated.start));
        assert_eq!(format().parse(&generated.secret), Some(generated.hash));
    }

    #[test]
    fn the_digest_is_sha256_in_lowercase_hex() {
        // FIPS 180-2's first example.
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_single_typo_is_caught_by_the_checksum() {
        let secret = format().generate().secret;
        for position in 3..secret.len() {
            let mut typo = secret.clone().into_bytes();
            if typo[position] == b'_' {
                continue;
            }
            typo[position] = if typo[position] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(typo).unwrap();
            assert_eq!(format().parse(&typo), None, "typo at {position} accepted: {typo}");
        }
    }

    #[test]
    fn look_alikes_and_other_prefixes_are_refused() {
        let secret = format().generate().secret;
        let other = KeyFormat::new("acme").unwrap();
        assert_eq!(other.parse(&secret), None);
        for junk in [
            "",
            "ks",
            "ks__",
            "Bearer ks_x_y",
            "ks_😀😀😀😀😀😀😀😀😀😀😀_abcdef",
            &secret[..secret.len() - 1],
        ] {
            assert_eq!(format().parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn prefixes_are_short_lowercase_words() {
        assert!(KeyFormat::new("ks").is_ok());
        assert!(KeyFormat::new("live2").is_ok());
        for bad in ["", "KS", "k_s", "a-very-long-prefix-indeed"] {
            assert!(KeyFormat::new(bad).is_err(), "{bad:?}");
        }
    }
}

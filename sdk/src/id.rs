//! Entity id rules: 1–128 characters of `[A-Za-z0-9._:-]`.

/// Longest id accepted.
pub const MAX_ID_LEN: usize = 128;

/// True if `id` is a valid client-supplied entity id.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_rules() {
        assert!(is_valid_id("task-1"));
        assert!(is_valid_id("a.b_c:d-E9"));
        assert!(is_valid_id(&"x".repeat(128)));
        assert!(!is_valid_id(&"x".repeat(129)));
        assert!(!is_valid_id(""));
        for bad in ["a b", "a/b", "ü", "a\0", "../x", "a?b", "a%20"] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }
}

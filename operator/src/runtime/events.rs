//! Kubernetes Events, as both controllers publish them: notes cut to what the API
//! server accepts.

/// Event notes are limited to 1 KiB by the API server: longer ones are cut (at a char
/// boundary) and end in `…`.
pub fn truncate(mut s: String) -> String {
    const MAX: usize = 1000;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_notes_are_cut_on_a_char_boundary() {
        let s = truncate("é".repeat(800));
        assert!(s.len() <= 1003);
        assert!(s.ends_with('…'));
    }
}

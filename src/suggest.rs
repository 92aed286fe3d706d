//! "did you mean …?" for unknown names, shared by every stage.

/// The closest candidate, if it is close enough to be a plausible typo.
pub fn suggest<S: AsRef<str>>(name: &str, candidates: impl IntoIterator<Item = S>) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| c.as_ref() != name)
        .map(|c| (strsim::damerau_levenshtein(name, c.as_ref()), c))
        .filter(|(d, c)| *d <= limit || (c.as_ref().starts_with(name) && name.len() >= 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_ref().to_string())
}

/// A help line: "did you mean `x`?" or the fallback.
pub fn help<S: AsRef<str>>(name: &str, candidates: impl IntoIterator<Item = S>, fallback: impl Into<String>) -> String {
    match suggest(name, candidates) {
        Some(s) => format!("did you mean `{s}`?"),
        None => fallback.into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn typos_are_suggested() {
        assert_eq!(super::suggest("conv2", ["conv2d", "linear"]), Some("conv2d".into()));
        assert_eq!(super::suggest("xyz", ["conv2d", "linear"]), None);
    }
}

//! "did you mean …?" for unknown names, shared by every stage.

/// A name with case, underscores and PyTorch's suffixes removed: `BatchNorm2d`, `batch_norm` and
/// `CrossEntropyLoss` meet `batch_norm` and `cross_entropy` here.
fn folded(name: &str) -> String {
    let mut s: String = name.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect();
    for suffix in ["2d", "1d", "loss", "lr"] {
        if s.len() > suffix.len() + 2 && s.ends_with(suffix) {
            s.truncate(s.len() - suffix.len());
        }
    }
    s
}

/// The closest candidate, if it is close enough to be a plausible typo.
pub fn suggest<S: AsRef<str>>(name: &str, candidates: impl IntoIterator<Item = S>) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
    let candidates: Vec<S> = candidates.into_iter().collect();
    // What a PyTorch user would write first (`BatchNorm2d`, `MaxPool2d`, `AdamW`).
    if let Some(c) = candidates.iter().find(|c| c.as_ref() != name && folded(c.as_ref()) == folded(name)) {
        return Some(c.as_ref().to_string());
    }
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
        assert_eq!(super::suggest("BatchNorm2d", ["batch_norm", "conv2d"]), Some("batch_norm".into()));
        assert_eq!(super::suggest("CrossEntropyLoss", ["cross_entropy", "focal"]), Some("cross_entropy".into()));
    }
}

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

/// Keys of the configs trainc replaces (Lightning's `Trainer`, Hydra/`argparse` templates,
/// `DataLoader`): the foreign key, the trainc key it becomes, and how to write it. A key can
/// appear twice; the first entry whose trainc key is allowed where the foreign one was written wins.
const FOREIGN_KEYS: &[(&str, &str, &str)] = &[
    ("max_epochs", "epochs", "`epochs = 10`"),
    ("num_epochs", "epochs", "`epochs = 10`"),
    ("n_epochs", "epochs", "`epochs = 10`"),
    ("batch_size", "batch", "`batch = 64`"),
    ("batch_size", "data", "a data option: `data = NAME { batch = 64 }`"),
    ("num_workers", "workers", "`workers = 4`"),
    ("lr", "optimizer", "an optimizer argument: `optimizer = adamw(lr = 1e-3)`"),
    ("learning_rate", "optimizer", "an optimizer argument: `optimizer = adamw(lr = 1e-3)`"),
    ("weight_decay", "optimizer", "an optimizer argument: `optimizer = adamw(weight_decay = 0.01)`"),
    ("momentum", "optimizer", "an optimizer argument: `optimizer = sgd(lr = 0.1, momentum = 0.9)`"),
    ("gradient_clip_val", "clip_grad", "`clip_grad = 1.0`"),
    ("grad_clip", "clip_grad", "`clip_grad = 1.0`"),
    ("accumulate_grad_batches", "accumulate", "`accumulate = 4`"),
    ("gradient_accumulation_steps", "accumulate", "`accumulate = 4`"),
    ("scheduler", "schedule", "`schedule = warmup(epochs = 1) then cosine()`"),
    ("lr_scheduler", "schedule", "`schedule = warmup(epochs = 1) then cosine()`"),
    ("optim", "optimizer", "`optimizer = adamw(lr = 1e-3)`"),
    ("random_seed", "seed", "`seed = 0`"),
    ("manual_seed", "seed", "`seed = 0`"),
    ("log_every_n_steps", "log_every", "`log_every = 50`"),
];

/// How trainc spells a key another framework's config uses, when it is allowed here:
/// "`max_epochs` is Lightning's name; here it is `epochs = 10`".
pub fn foreign_key(key: &str, allowed: &[&str]) -> Option<String> {
    FOREIGN_KEYS
        .iter()
        .find(|(foreign, ours, _)| *foreign == key && allowed.contains(ours))
        .map(|(_, _, how)| format!("`{key}` is another framework's name; here it is {how}"))
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
    fn foreign_keys_get_their_trainc_spelling_where_it_is_allowed() {
        let train = ["epochs", "data", "optimizer"];
        assert!(super::foreign_key("max_epochs", &train).is_some_and(|h| h.contains("`epochs = 10`")));
        assert!(super::foreign_key("batch_size", &train).is_some_and(|h| h.contains("{ batch = 64 }")));
        assert!(super::foreign_key("batch_size", &["batch", "workers"]).is_some_and(|h| h.ends_with("`batch = 64`")));
        assert_eq!(super::foreign_key("max_epochs", &["batch"]), None);
    }

    #[test]
    fn typos_are_suggested() {
        assert_eq!(super::suggest("conv2", ["conv2d", "linear"]), Some("conv2d".into()));
        assert_eq!(super::suggest("xyz", ["conv2d", "linear"]), None);
        assert_eq!(super::suggest("BatchNorm2d", ["batch_norm", "conv2d"]), Some("batch_norm".into()));
        assert_eq!(super::suggest("CrossEntropyLoss", ["cross_entropy", "focal"]), Some("cross_entropy".into()));
    }
}

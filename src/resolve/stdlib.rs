//! The stdlib, embedded in the binary so `use std/…` never touches the disk.

pub static MODULES: &[(&str, &str)] = &[
    ("std/augment", include_str!("../../stdlib/augment.train")),
    ("std/backbones", include_str!("../../stdlib/backbones.train")),
    ("std/necks", include_str!("../../stdlib/necks.train")),
    ("std/heads", include_str!("../../stdlib/heads.train")),
    ("std/segmentation", include_str!("../../stdlib/segmentation.train")),
    ("std/vit", include_str!("../../stdlib/vit.train")),
];

pub fn get(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// The stdlib module that declares a block or augment pipeline `name` (for "add `use std/…`"
/// help on an unknown name). Item declarations start a line: `block NAME(` or `augment NAME {`.
pub fn exporting(name: &str) -> Option<&'static str> {
    MODULES.iter().find_map(|(module, text)| {
        let declares = text.lines().any(|l| {
            let rest = l.strip_prefix("block ").or_else(|| l.strip_prefix("augment ")).unwrap_or("");
            rest.strip_prefix(name).is_some_and(|r| r.starts_with(['(', ' ', '{']))
        });
        declares.then_some(*module)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn stdlib_items_are_found_by_name() {
        assert_eq!(super::exporting("basic_block"), Some("std/backbones"));
        assert_eq!(super::exporting("resnet18"), Some("std/backbones"));
        assert_eq!(super::exporting("classifier"), Some("std/heads"));
        assert_eq!(super::exporting("resnet1"), None);
        assert_eq!(super::exporting("conv2d"), None);
    }
}

//! The stdlib, embedded in the binary so `use std/…` never touches the disk.

pub static MODULES: &[(&str, &str)] = &[
    ("std/augment", include_str!("../../stdlib/augment.train")),
    ("std/backbones", include_str!("../../stdlib/backbones.train")),
    ("std/necks", include_str!("../../stdlib/necks.train")),
    ("std/heads", include_str!("../../stdlib/heads.train")),
    ("std/segmentation", include_str!("../../stdlib/segmentation.train")),
];

pub fn get(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

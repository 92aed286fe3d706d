//! Warm start across a model edit: every weight of the old network whose checkpoint key (module
//! path, see [`super::layers`]) and shape still exist in the new one is copied, with its
//! parameter id, so the optimizer state that belongs to it follows (burn keys optimizer state by
//! id). Like PyTorch's `load_state_dict(strict=False)` with shape-mismatched keys skipped.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Bool, Int, Tensor};

use super::Net;

/// What a transplant did, by checkpoint key.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Transplant {
    /// Same key and shape: copied.
    pub copied: Vec<String>,
    /// Only in the new model, or with another shape: freshly initialised.
    pub fresh: Vec<String>,
    /// Only in the old model, or with another shape: dropped.
    pub dropped: Vec<String>,
}

/// Every tensor's key and shape (and, when asked, its bytes).
#[derive(Default)]
struct Shapes {
    path: Vec<String>,
    out: BTreeMap<String, Vec<usize>>,
    bytes: Option<BTreeMap<String, Vec<u8>>>,
}

impl Shapes {
    fn add(&mut self, dims: Vec<usize>, data: impl FnOnce() -> burn::tensor::TensorData) {
        let key = self.path.join(".");
        if let Some(bytes) = &mut self.bytes {
            bytes.insert(key.clone(), data().as_bytes().to_vec());
        }
        self.out.insert(key, dims);
    }
}

impl ModuleVisitor for Shapes {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.add(param.lazy_shape().to_vec(), || param.val().into_data());
    }

    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
        self.add(param.lazy_shape().to_vec(), || param.val().into_data());
    }

    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
        self.add(param.lazy_shape().to_vec(), || param.val().into_data());
    }
}

/// The checkpoint key and shape of every tensor of a network.
pub fn shapes(net: &Net) -> BTreeMap<String, Vec<usize>> {
    let mut v = Shapes::default();
    net.visit(&mut v);
    v.out
}

/// Every tensor's value as bytes, by key (to tell which ones a partial load replaced).
pub fn values(net: &Net) -> BTreeMap<String, Vec<u8>> {
    let mut v = Shapes { bytes: Some(BTreeMap::new()), ..Shapes::default() };
    net.visit(&mut v);
    v.bytes.unwrap_or_default()
}

/// Which keys a transplant from `old` to `new` copies, initialises and drops.
pub fn plan(old: &BTreeMap<String, Vec<usize>>, new: &BTreeMap<String, Vec<usize>>) -> Transplant {
    let mut t = Transplant::default();
    for (key, shape) in new {
        match old.get(key) {
            Some(s) if s == shape => t.copied.push(key.clone()),
            _ => t.fresh.push(key.clone()),
        }
    }
    t.dropped = old.iter().filter(|(k, s)| new.get(*k) != Some(*s)).map(|(k, _)| k.clone()).collect();
    t
}

/// Copies into `new` every weight of `old` with the same key and shape.
pub fn transplant(old: &Net, new: Net) -> Result<(Net, Transplant), burn::store::RecordError> {
    let report = plan(&shapes(old), &shapes(&new));
    // Shape mismatches are left out by `plan`; without validation the record skips them too.
    let record = old.clone().into_record().allow_partial(true).allow_unused(true).validate(false);
    Ok((new.try_load_record(record)?, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(items: &[(&str, &[usize])]) -> BTreeMap<String, Vec<usize>> {
        items.iter().map(|(k, s)| (k.to_string(), s.to_vec())).collect()
    }

    #[test]
    fn same_key_and_shape_is_copied_the_rest_is_fresh_or_dropped() {
        let old = map(&[("a.w", &[2, 3]), ("b.w", &[4]), ("c.w", &[1])]);
        let new = map(&[("a.w", &[2, 3]), ("b.w", &[5]), ("d.w", &[1])]);
        let t = plan(&old, &new);
        assert_eq!(t.copied, ["a.w"]);
        assert_eq!(t.fresh, ["b.w", "d.w"]);
        assert_eq!(t.dropped, ["b.w", "c.w"]);
    }
}

//! [`Layers`]: the layers of a compiled model, each named by its node's module path
//! (`conv2d0`, `layer1.0.conv1`). burn builds checkpoint keys from the names a module reports
//! while it is visited, so the keys are `layers.<module path>.<Variant>.<param>` instead of
//! `layers.<index>…`: a checkpoint survives edits that add or remove unrelated layers, and
//! `watch` copies weights across a graph change by key (see [`super::transplant`]).

use burn::module::{Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor};
use burn::tensor::Device;

use super::net::Layer;

/// Layers in plan order, with the module path of each.
#[derive(Clone, Debug, Default)]
pub struct Layers {
    items: Vec<Layer>,
    names: Vec<String>,
}

impl Layers {
    /// Adds a layer under `path`; returns its index.
    pub fn push(&mut self, path: &str, layer: Layer) -> usize {
        self.items.push(layer);
        self.names.push(path.to_string());
        self.items.len() - 1
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Layer> {
        self.items.iter()
    }

    /// The layer at a module path.
    pub fn get_mut(&mut self, path: &str) -> Option<&mut Layer> {
        let i = self.names.iter().position(|n| n == path)?;
        self.items.get_mut(i)
    }

    /// The module path of each layer, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn with_items(&self, items: Vec<Layer>) -> Layers {
        Layers { items, names: self.names.clone() }
    }
}

impl std::ops::Index<usize> for Layers {
    type Output = Layer;
    fn index(&self, i: usize) -> &Layer {
        &self.items[i]
    }
}

impl std::ops::IndexMut<usize> for Layers {
    fn index_mut(&mut self, i: usize) -> &mut Layer {
        &mut self.items[i]
    }
}

/// Like burn's `Vec<T>` module, but each element is entered under its module path.
impl Module for Layers {
    fn num_params(&self) -> usize {
        self.items.iter().map(Module::num_params).sum()
    }

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        for (name, layer) in self.names.iter().zip(&self.items) {
            visitor.enter_module(name, "Vec");
            layer.visit(visitor);
            visitor.exit_module(name, "Vec");
        }
    }

    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        let items = self
            .items
            .into_iter()
            .zip(&self.names)
            .map(|(layer, name)| {
                mapper.enter_module(name, "Vec");
                let mapped = layer.map(mapper);
                mapper.exit_module(name, "Vec");
                mapped
            })
            .collect();
        Layers { items, names: self.names }
    }

    fn to_device(self, device: &Device) -> Self {
        let items = self.items.into_iter().map(|l| l.to_device(device)).collect();
        Layers { items, names: self.names }
    }

    fn fork(self, device: &Device) -> Self {
        let items = self.items.into_iter().map(|l| l.fork(device)).collect();
        Layers { items, names: self.names }
    }

    fn collect_devices(&self, mut devices: Devices) -> Devices {
        for layer in &self.items {
            devices = layer.collect_devices(devices);
        }
        devices
    }

    fn valid(&self) -> Self {
        self.with_items(self.items.iter().map(Module::valid).collect())
    }

    fn train(self) -> Self {
        let items = self.items.into_iter().map(Module::train).collect();
        Layers { items, names: self.names }
    }

    fn materialize(self) -> Self {
        let items = self.items.into_iter().map(Module::materialize).collect();
        Layers { items, names: self.names }
    }
}

impl ModuleDisplayDefault for Layers {
    fn content(&self, content: Content) -> Option<Content> {
        self.names
            .iter()
            .zip(&self.items)
            .fold(content, |acc, (name, layer)| acc.add(name, layer))
            .set_top_level_type(&format!("Layers<{}>", self.items.len()))
            .optional()
    }
}

impl ModuleDisplay for Layers {}

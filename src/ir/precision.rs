//! `train { precision = bf16 }`: the floating-point type training computes in, and which
//! devices can run it. The front end uses both: `check` rejects a precision the chosen device
//! cannot run, and the memory estimate stores activations at [`Precision::activation_bytes`].

use serde::Serialize;

/// What the compute-heavy layers (convolutions, linear layers, matrix products) run in. Master
/// weights, gradients and optimizer state stay in f32 whatever this says; normalisation,
/// softmax and the losses run in f32 too (`exec::net`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    /// bfloat16: f32's range with 8 bits of mantissa; needs no loss scaling.
    Bf16,
    /// IEEE half: 11 bits of mantissa but a range to 65504, so the loss is scaled (`run::step`).
    F16,
}

impl Precision {
    /// The words of `precision = …`, as written.
    pub const NAMES: &'static [&'static str] = &["f32", "bf16", "f16"];

    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }

    pub fn from_name(name: &str) -> Option<Precision> {
        [Precision::F32, Precision::Bf16, Precision::F16].into_iter().find(|p| p.name() == name)
    }

    /// Bytes of one value in the compute type.
    pub fn activation_bytes(self) -> u64 {
        match self {
            Precision::F32 => 4,
            Precision::Bf16 | Precision::F16 => 2,
        }
    }
}

/// The kind of device `--device` names, as far as the front end needs to know it (the back end
/// builds the device itself, in `commands::shared::device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// burn-flex, the pure-Rust CPU backend (`flex`, `cpu`).
    Flex,
    /// libtorch on the CPU (`tch`, `tch:cpu`).
    TchCpu,
    /// libtorch on CUDA (`tch:cuda:N`, and any list of CUDA devices).
    TchCuda,
}

impl DeviceKind {
    /// The kind of a `--device` value; `None` for a name the back end will refuse anyway.
    pub fn parse(name: &str) -> Option<DeviceKind> {
        // A data-parallel list (`tch:cuda:0,1`) is of its first device's kind.
        match name.split(',').next().unwrap_or_default() {
            "flex" | "cpu" => Some(DeviceKind::Flex),
            "tch" | "tch:cpu" => Some(DeviceKind::TchCpu),
            other if other.starts_with("tch:cuda") => Some(DeviceKind::TchCuda),
            _ => None,
        }
    }

    /// Whether training in `precision` runs here. burn-flex has bf16 and f16 kernels for every
    /// op trainc uses (bf16 convolutions and products convert to f32 inside). libtorch's CPU
    /// kernels have bf16 but no usable f16 convolution; CUDA has both.
    pub fn supports(self, precision: Precision) -> bool {
        !matches!((self, precision), (DeviceKind::TchCpu, Precision::F16))
    }

    /// What a user would write, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            DeviceKind::Flex => "flex",
            DeviceKind::TchCpu => "tch:cpu",
            DeviceKind::TchCuda => "tch:cuda",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_devices_parse() {
        for name in Precision::NAMES {
            assert_eq!(Precision::from_name(name).map(Precision::name), Some(*name));
        }
        assert_eq!(DeviceKind::parse("tch:cuda:0"), Some(DeviceKind::TchCuda));
        assert_eq!(DeviceKind::parse("cpu"), Some(DeviceKind::Flex));
        assert_eq!(DeviceKind::parse("wgpu"), None);
        assert_eq!(DeviceKind::parse("tch:cuda:0,1"), Some(DeviceKind::TchCuda));
        assert_eq!(DeviceKind::parse("flex,flex"), Some(DeviceKind::Flex));
        assert!(!DeviceKind::TchCpu.supports(Precision::F16));
        assert!(DeviceKind::TchCpu.supports(Precision::Bf16));
        assert!(DeviceKind::Flex.supports(Precision::F16));
    }
}

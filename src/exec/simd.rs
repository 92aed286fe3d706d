//! trainc's own CPU kernels compiled for the vector instructions of the CPU they run on.
//!
//! # Why
//!
//! trainc is compiled for the x86-64 baseline, so that one binary runs on every x86-64 machine
//! (a cluster's login node and its compute nodes need not match). At that baseline the compiler
//! vectorises loops with SSE2, 4 floats wide, where AVX2 holds 8 and AVX-512 16. PyTorch (oneDNN,
//! MKL) picks its kernels for the CPU at run time; trainc's Winograd transforms, im2col packing,
//! pooling, `relu` masks and optimizer step did not, and on an AMD EPYC (Zen 4) they were about a
//! third of a Fashion-MNIST step (`perf`, 2026-12-02, issue 17).
//!
//! # What
//!
//! [`dispatch`] runs a closure compiled once per instruction set and picks one at run time:
//! pulp's `Arch` (AVX-512, AVX2 + FMA, or the baseline), the mechanism gemm uses for its own
//! kernels. Only code inlined into the closure is compiled for the wider set, so each closure
//! passed here is `#[inline(always)]`, and so are the kernel functions it calls. Matrix products
//! stay calls: gemm dispatches by itself (with AVX-512 kernels: its `x86-v4` feature, which
//! Cargo.toml turns on; 59 → 94 GFLOPS on one core for a Winograd product of the Fashion CNN).
//!
//! The dispatch sits in each kernel's worker closure, not once in the shared parallel drivers
//! (`fused::zeroed_chunks_into`, `im2col::chunk_gradients`): a driver receives the worker as a
//! closure bound with `let`, which stable Rust cannot mark `#[inline(always)]`, so the worker's
//! loops would stay compiled for the baseline.

/// `f()`, compiled for the widest vector instructions this CPU has.
#[inline(always)]
pub(super) fn dispatch<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

//! [`keep_freed_memory`]: glibc's allocator told to keep a training step's large buffers for the
//! next step instead of returning them to the kernel.
//!
//! A training step frees and allocates the same large tensors every time (activations, im2col
//! columns of 50 MB for the Fashion CNN's second convolution). glibc serves blocks above its mmap
//! threshold (adaptive, at most 32 MiB) with a fresh `mmap` and gives them back with `munmap`, so
//! every step faults in and zeroes those pages again: on flex, 2.1 million page faults in 200
//! batches of that CNN, 14 % of the CPU time in the kernel (`perf stat`, BENCHMARKS.md). With
//! `mmap` off for allocations and the heap's top kept (trimmed only beyond 2 GiB), the second step
//! reuses the first one's pages: 51 thousand faults, 13 % less CPU time. PyTorch keeps freed
//! blocks for the same reason (its CPU and CUDA caching allocators). The cost is that the process
//! keeps its peak footprint until it exits, which a training run reaches anyway at every step.

/// Applies the settings above on Linux with glibc, unless `GLIBC_TUNABLES` already says how
/// malloc should behave (the user's choice wins).
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("malloc")) {
        use std::ffi::c_int;
        // From glibc's <malloc.h>.
        const M_TRIM_THRESHOLD: c_int = -1;
        const M_MMAP_MAX: c_int = -4;
        unsafe extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
        }
        // SAFETY: mallopt only changes allocator parameters; both values are in range.
        unsafe {
            mallopt(M_MMAP_MAX, 0);
            mallopt(M_TRIM_THRESHOLD, c_int::MAX);
        }
    }
}

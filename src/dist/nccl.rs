//! [`Nccl`]: the collectives of CUDA ranks through NCCL (`--features nccl`), on the CUDA tensors
//! libtorch holds, so gradients never leave the GPU.
//!
//! libnccl and the CUDA driver are loaded with dlopen the first time a run needs them: the CUDA
//! build of pip's torch ships libnccl (and libtorch_cuda has mapped it already), so nothing is
//! needed at build time and a binary built with the feature still runs on machines without a GPU.
//! cudarc gives the CUDA driver calls and NCCL's types; its NCCL loader is not used, because
//! cudarc 0.19 looks for `libnccl.so`, `libnccl.so.12` and the like but never `libnccl.so.2`,
//! the only name pip's `nvidia-nccl-cu12` ships and the one libtorch_cuda links, so [`Library`]
//! loads the six functions trainc calls itself.
//!
//! Every collective is queued on CUDA's legacy default stream, the stream libtorch launches its
//! kernels on unless told otherwise, so it runs after the kernels that computed its input; the
//! call then waits for the device ([`tch::Cuda::synchronize`]), inside the watchdog's deadline,
//! so a dead rank ends the others as under MPI.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::OnceLock;

use cudarc::driver::result as driver;
use cudarc::nccl::sys;

use super::{DistError, World};

/// This rank's NCCL communicator, on one CUDA device.
pub struct Nccl {
    nccl: &'static Library,
    comm: sys::ncclComm_t,
    device: usize,
    rank: usize,
}

// SAFETY: only the training thread calls collectives (as MPI's `Funneled` level), but `Group`
// lives in an `Arc` the loader's threads also hold; NCCL communicators may be used from any
// thread as long as calls do not overlap, which one caller guarantees.
unsafe impl Send for Nccl {}
unsafe impl Sync for Nccl {}

fn failed(rank: usize, what: &'static str) -> impl Fn(String) -> DistError {
    move |message| DistError::Nccl { rank, what, message }
}

/// NCCL's functions, from `libnccl.so.2`. Results are read as plain integers (0 is success),
/// not as cudarc's enum, which a newer libnccl's new error codes would not fit.
struct Library {
    get_unique_id: unsafe extern "C" fn(*mut sys::ncclUniqueId) -> c_int,
    comm_init_rank: unsafe extern "C" fn(*mut sys::ncclComm_t, c_int, sys::ncclUniqueId, c_int) -> c_int,
    all_reduce: unsafe extern "C" fn(
        *const c_void,
        *mut c_void,
        usize,
        sys::ncclDataType_t,
        sys::ncclRedOp_t,
        sys::ncclComm_t,
        sys::cudaStream_t,
    ) -> c_int,
    broadcast: unsafe extern "C" fn(
        *const c_void,
        *mut c_void,
        usize,
        sys::ncclDataType_t,
        c_int,
        sys::ncclComm_t,
        sys::cudaStream_t,
    ) -> c_int,
    comm_destroy: unsafe extern "C" fn(sys::ncclComm_t) -> c_int,
    error_string: unsafe extern "C" fn(c_int) -> *const c_char,
    /// Keeps the functions above mapped.
    _lib: libloading::Library,
}

impl Library {
    /// libnccl, loaded once per process; the error says why it cannot be.
    fn get() -> Result<&'static Library, String> {
        static LIBRARY: OnceLock<Result<Library, String>> = OnceLock::new();
        LIBRARY.get_or_init(Library::load).as_ref().map_err(Clone::clone)
    }

    fn load() -> Result<Library, String> {
        // SAFETY: loading runs libnccl's initialisers, which have no preconditions.
        let lib =
            ["libnccl.so.2", "libnccl.so"].into_iter().find_map(|name| unsafe { libloading::Library::new(name) }.ok());
        let lib = lib.ok_or("libnccl.so.2 was not found (install the CUDA build of torch, or add its `nvidia/nccl/lib` to `LD_LIBRARY_PATH`)")?;
        // SAFETY: each symbol is declared with NCCL 2's C signature (nccl.h).
        unsafe {
            Ok(Library {
                get_unique_id: *lib.get(b"ncclGetUniqueId\0").map_err(|e| e.to_string())?,
                comm_init_rank: *lib.get(b"ncclCommInitRank\0").map_err(|e| e.to_string())?,
                all_reduce: *lib.get(b"ncclAllReduce\0").map_err(|e| e.to_string())?,
                broadcast: *lib.get(b"ncclBroadcast\0").map_err(|e| e.to_string())?,
                comm_destroy: *lib.get(b"ncclCommDestroy\0").map_err(|e| e.to_string())?,
                error_string: *lib.get(b"ncclGetErrorString\0").map_err(|e| e.to_string())?,
                _lib: lib,
            })
        }
    }

    /// `Ok` for NCCL's success, else NCCL's own description of `code`.
    fn check(&self, code: c_int) -> Result<(), String> {
        if code == 0 {
            return Ok(());
        }
        // SAFETY: ncclGetErrorString returns a static string for any code.
        let text = unsafe { CStr::from_ptr((self.error_string)(code)) };
        Err(format!("{} (error {code})", text.to_string_lossy()))
    }
}

/// Loads libnccl and the CUDA driver, or says which is missing.
fn load(rank: usize) -> Result<&'static Library, DistError> {
    let library = Library::get().map_err(failed(rank, "loading"))?;
    // SAFETY: dlopen of the driver, no call into it.
    match unsafe { cudarc::driver::sys::is_culib_present() } {
        true => Ok(library),
        false => Err(failed(rank, "loading")("libcuda.so.1 was not found: no NVIDIA driver on this machine".into())),
    }
}

impl Nccl {
    /// Rank 0's unique id, to send to the others over the rendezvous.
    pub fn unique_id(rank: usize) -> Result<Vec<u8>, DistError> {
        // Only libnccl: the id is an address for NCCL's bootstrap, made without a GPU.
        let nccl = Library::get().map_err(failed(rank, "loading"))?;
        let mut id = sys::ncclUniqueId { internal: [0; 128] };
        // SAFETY: `id` is a valid out-pointer.
        nccl.check(unsafe { (nccl.get_unique_id)(&mut id) }).map_err(failed(rank, "ncclGetUniqueId"))?;
        Ok(id.internal.iter().map(|c| *c as u8).collect())
    }

    /// Joins the communicator of `id` as this rank, on CUDA device `device`.
    pub fn join(world: &World, device: usize, id: &[u8]) -> Result<Nccl, DistError> {
        let rank = world.rank;
        let nccl = load(rank)?;
        make_current(rank, device)?;
        let mut unique = sys::ncclUniqueId { internal: [0; 128] };
        if id.len() != unique.internal.len() {
            return Err(failed(rank, "rendezvous")(format!("rank 0 sent an id of {} bytes, not 128", id.len())));
        }
        for (to, from) in unique.internal.iter_mut().zip(id) {
            *to = *from as std::ffi::c_char;
        }
        let mut comm = std::ptr::null_mut();
        // SAFETY: `comm` is a valid out-pointer; the id came from ncclGetUniqueId on rank 0.
        let code = unsafe { (nccl.comm_init_rank)(&mut comm, world.size as c_int, unique, rank as c_int) };
        nccl.check(code).map_err(failed(rank, "ncclCommInitRank"))?;
        Ok(Nccl { nccl, comm, device, rank })
    }

    /// Sums a contiguous `f32` tensor on this rank's device over all ranks, in place.
    pub fn sum(&self, values: &tch::Tensor) -> Result<(), DistError> {
        self.check(values, tch::Kind::Float)?;
        let ptr = values.data_ptr();
        let (f32s, sum) = (sys::ncclDataType_t::ncclFloat32, sys::ncclRedOp_t::ncclSum);
        // SAFETY: `values` is a live, contiguous CUDA tensor of `numel` floats on our device.
        let queued =
            unsafe { (self.nccl.all_reduce)(ptr, ptr, values.numel(), f32s, sum, self.comm, default_stream()) };
        self.nccl.check(queued).map_err(failed(self.rank, "ncclAllReduce"))?;
        self.wait();
        Ok(())
    }

    /// Replaces a contiguous `u8` tensor on this rank's device by rank 0's, in place.
    pub fn broadcast(&self, bytes: &tch::Tensor) -> Result<(), DistError> {
        self.check(bytes, tch::Kind::Uint8)?;
        let ptr = bytes.data_ptr();
        let u8s = sys::ncclDataType_t::ncclUint8;
        // SAFETY: as in `sum`, with `numel` bytes.
        let queued = unsafe { (self.nccl.broadcast)(ptr, ptr, bytes.numel(), u8s, 0, self.comm, default_stream()) };
        self.nccl.check(queued).map_err(failed(self.rank, "ncclBroadcast"))?;
        self.wait();
        Ok(())
    }

    /// Copies a tensor on this rank's device into `out` (as many values as `out` holds).
    pub fn to_host<T: tch::kind::Element>(&self, on_device: &tch::Tensor, out: &mut [T]) -> Result<(), DistError> {
        let copied = on_device.to_device(tch::Device::Cpu).f_copy_data(out, out.len());
        copied.map_err(|e| failed(self.rank, "copying to the host")(e.to_string()))
    }

    /// The CUDA device of this rank.
    pub fn device(&self) -> tch::Device {
        tch::Device::Cuda(self.device)
    }

    fn check(&self, t: &tch::Tensor, kind: tch::Kind) -> Result<(), DistError> {
        match t.device() == self.device() && t.kind() == kind && t.is_contiguous() {
            true => Ok(()),
            false => Err(failed(self.rank, "collective")(format!(
                "a {:?} tensor on {:?} (contiguous: {}), not {kind:?} on {:?}",
                t.kind(),
                t.device(),
                t.is_contiguous(),
                self.device()
            ))),
        }
    }

    /// Waits until the queued collective is done (the watchdog's deadline is armed around it).
    fn wait(&self) {
        tch::Cuda::synchronize(self.device as i64);
    }
}

impl Drop for Nccl {
    fn drop(&mut self) {
        // SAFETY: the communicator was initialised in `join` and every collective has completed.
        unsafe { (self.nccl.comm_destroy)(self.comm) };
    }
}

/// CUDA's legacy default stream (libtorch's current stream unless a program sets another).
fn default_stream() -> sys::cudaStream_t {
    std::ptr::null_mut()
}

/// Makes `device`'s primary context current on this thread: `ncclCommInitRank` takes the
/// current device, and libtorch's is not set outside its own calls.
fn make_current(rank: usize, device: usize) -> Result<(), DistError> {
    let driver_failed =
        |e: driver::DriverError| failed(rank, "selecting the device")(format!("CUDA device {device}: {e:?}"));
    driver::init().map_err(driver_failed)?;
    let handle = driver::device::get(device as c_int).map_err(driver_failed)?;
    // SAFETY: `handle` came from cuDeviceGet; the primary context is the one libtorch uses.
    unsafe {
        let context = driver::primary_ctx::retain(handle).map_err(driver_failed)?;
        driver::ctx::set_current(context).map_err(driver_failed)
    }
}

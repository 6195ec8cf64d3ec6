//! Without a usable GPU (no driver library, no NVRTC, no such device), every
//! way into the CUDA backend returns a typed [`Error::Cuda`] naming what is
//! missing — never a panic. On a GPU machine the same path is exercised with
//! an ordinal that does not exist.
#![cfg(feature = "cuda")]

use blitz_kernels::cuda::{self, CudaBuffer};
use blitz_kernels::{ops, Buffer, Device, Error};

/// An ordinal that cannot be present on the machine.
fn missing_ordinal() -> usize {
    if cuda::device::available(0).is_ok() {
        4096
    } else {
        0
    }
}

fn assert_cuda_error(what: &str, e: Error) {
    match e {
        Error::Cuda(msg) => {
            eprintln!("{what}: {msg}");
            let named = ["libcuda", "NVRTC", "no CUDA device", "driver"].iter().any(|w| msg.contains(w));
            assert!(named, "{what}: the message should name what is missing: {msg}");
        }
        other => panic!("{what}: expected Error::Cuda, got {other:?}"),
    }
}

#[test]
fn an_unusable_device_is_a_typed_error_everywhere() {
    let ord = missing_ordinal();
    assert_cuda_error("available", cuda::device::available(ord).unwrap_err());
    assert_cuda_error("CudaBuffer::from_host", CudaBuffer::from_host(&[1.0, 2.0], ord).unwrap_err());
    assert_cuda_error("CudaBuffer::full", CudaBuffer::full(3, 1.0, ord).unwrap_err());
    assert_cuda_error("Buffer::from_host", Buffer::from_host(vec![1.0], Device::Cuda(ord)).unwrap_err());
    assert_cuda_error("Buffer::zeros", Buffer::zeros(4, Device::Cuda(ord)).unwrap_err());
    assert_cuda_error(
        "ops::normal",
        ops::normal_in(&blitz_kernels::Context::default(), Device::Cuda(ord), 1, 0, 8).unwrap_err(),
    );
    let cpu = Buffer::Cpu(vec![1.0, 2.0]);
    assert_cuda_error("to_device", cpu.to_device(Device::Cuda(ord)).unwrap_err());
    // Asking twice gives the same answer (the library checks are cached, not poisoned).
    assert_cuda_error("available again", cuda::device::available(ord).unwrap_err());
}

#[test]
fn without_a_driver_the_message_names_the_driver_library() {
    if cuda::device::available(0).is_ok() {
        eprintln!("SKIPPED without_a_driver_the_message_names_the_driver_library: a GPU is present");
        return;
    }
    let msg = cuda::device::available(0).unwrap_err().to_string();
    // This CPU machine has no libcuda; on one with a driver but no NVRTC, NVRTC is named.
    assert!(msg.contains("libcuda.so.1") || msg.contains("NVRTC") || msg.contains("no CUDA device"), "{msg}");
}

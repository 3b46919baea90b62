//! `--backend cpu|wgpu`: which Burn device the network runs on, and a description of it for
//! the output (so a timing or a result says where it came from).

use burn::tensor::Device;
use clap::ValueEnum;
use resnet_lab_core::Error;
use serde::Serialize;

/// Where the network runs.
#[derive(Clone, Copy, ValueEnum)]
pub enum BackendChoice {
    /// Burn's flex CPU backend (SIMD, all cores).
    Cpu,
    /// wgpu: Vulkan, Metal or DX12 (lavapipe or SwiftShader on a machine without a GPU).
    Wgpu,
}

/// The device a command runs on, as printed in its output.
#[derive(Clone, Debug, Serialize)]
pub struct BackendInfo {
    /// `cpu` or `wgpu`.
    pub kind: &'static str,
    /// The adapter wgpu picked and its graphics API (e.g. "NVIDIA H100 via Vulkan",
    /// "llvmpipe (LLVM 15.0.6, 256 bits) via Vulkan" for lavapipe), or the CPU backend's name.
    pub device: String,
    /// True for a CPU rasteriser posing as a GPU (lavapipe, SwiftShader, WARP): it works, but
    /// the CPU backend is faster on the same machine.
    pub software: bool,
}

impl BackendChoice {
    /// Opens the device. A machine without a usable adapter gets an error, not a panic.
    pub fn open(self) -> Result<(Device, BackendInfo), Error> {
        match self {
            BackendChoice::Cpu => Ok((
                Device::flex(),
                BackendInfo {
                    kind: "cpu",
                    device: "Burn flex (CPU)".into(),
                    software: false,
                },
            )),
            BackendChoice::Wgpu => open_wgpu(),
        }
    }
}

#[cfg(feature = "wgpu")]
fn open_wgpu() -> Result<(Device, BackendInfo), Error> {
    use burn::tensor::wgpu::wgpu::DeviceType;

    let (device, setup) = Device::wgpu_options().init_with_setup().map_err(|e| {
        Error::Backend(format!(
            "no usable wgpu adapter ({e}). Without a GPU, install a software Vulkan driver \
             (Debian: `apt-get install mesa-vulkan-drivers`) or use `--backend cpu`"
        ))
    })?;
    let adapter = setup.adapter.get_info();
    let info = BackendInfo {
        kind: "wgpu",
        device: format!("{} via {:?}", adapter.name, adapter.backend),
        software: adapter.device_type == DeviceType::Cpu,
    };
    if info.software {
        eprintln!(
            "note: {} is a software renderer; `--backend cpu` is faster on this machine",
            adapter.name
        );
    }
    Ok((device, info))
}

#[cfg(not(feature = "wgpu"))]
fn open_wgpu() -> Result<(Device, BackendInfo), Error> {
    Err(Error::Backend(
        "this resnet-lab was built without the wgpu backend (`--no-default-features`); \
         rebuild it with `--features wgpu`"
            .into(),
    ))
}

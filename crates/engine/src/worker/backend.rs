//! The backend choice: WebGPU when the browser offers a hardware adapter, otherwise the CPU
//! (Burn flex in WebAssembly), with a notice that says why. The multi-threaded CPU engine
//! (feature `threads`, no `webgpu`) always runs on the CPU: the page starts it only when
//! WebGPU is not to be used.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Device;
use js_sys::Reflect;
#[cfg(feature = "webgpu")]
use resnet_lab_protocol::Response;
use resnet_lab_protocol::{BackendKind, BackendPreference, is_software_adapter};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::Outbox;
use super::js::{js_error, scope};

/// The wgpu device behind a WebGPU backend; an engine built without WebGPU has none.
#[cfg(feature = "webgpu")]
pub type GpuDevice = burn::tensor::wgpu::wgpu::Device;
#[cfg(not(feature = "webgpu"))]
pub enum GpuDevice {}
#[cfg(not(feature = "webgpu"))]
impl GpuDevice {
    pub fn destroy(&self) {
        match *self {}
    }
}

/// The CPU backend's name, with the threads its kernels use and, for one, why.
fn cpu_name() -> (String, u32) {
    let threads = super::threads::count();
    let how = match threads {
        1 if !super::threads::cross_origin_isolated() => {
            "1 thread (page not cross-origin isolated)".to_string()
        }
        1 => "1 thread".to_string(),
        n => format!("{n} threads"),
    };
    (format!("CPU (WebAssembly, Burn flex, {how})"), threads)
}

/// The device in use and what the page shows about it.
pub struct ActiveBackend {
    pub device: Device,
    pub kind: BackendKind,
    /// The wgpu device behind a WebGPU backend (to watch for loss, and to lose it on purpose).
    pub gpu: Option<GpuDevice>,
    /// Set by wgpu's device-lost callback, which must be `Send` (hence atomic, not a `Cell`).
    lost: Arc<AtomicBool>,
}

impl ActiveBackend {
    fn cpu() -> Self {
        Self {
            device: Device::flex(),
            kind: BackendKind::Cpu,
            gpu: None,
            lost: Arc::default(),
        }
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

/// The chosen backend, the adapter's name and the notice explaining the choice.
pub struct ChosenBackend {
    pub backend: ActiveBackend,
    pub adapter: String,
    pub notice: Option<String>,
    /// Threads of the CPU kernels (0 on WebGPU).
    pub threads: u32,
}

/// What `navigator.gpu.requestAdapter()` says about the adapter, if anything.
enum AdapterProbe {
    NoWebGpu,
    NoAdapter(String),
    Adapter { name: String, software: bool },
}

fn string_field(object: &JsValue, key: &str) -> String {
    Reflect::get(object, &key.into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

fn flag(object: &JsValue, key: &str) -> bool {
    Reflect::get(object, &key.into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

async fn probe_adapter() -> AdapterProbe {
    let navigator = scope().navigator();
    let gpu = Reflect::get(&navigator, &"gpu".into()).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return AdapterProbe::NoWebGpu;
    }
    let request = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let Some(request) = request else {
        return AdapterProbe::NoWebGpu;
    };
    let options = js_sys::Object::new();
    let _ = Reflect::set(
        &options,
        &"powerPreference".into(),
        &"high-performance".into(),
    );
    let adapter = match request.call1(&gpu, &options) {
        Ok(promise) => match JsFuture::from(js_sys::Promise::resolve(&promise)).await {
            Ok(adapter) => adapter,
            Err(e) => return AdapterProbe::NoAdapter(js_error(&e)),
        },
        Err(e) => return AdapterProbe::NoAdapter(js_error(&e)),
    };
    if adapter.is_null() || adapter.is_undefined() {
        return AdapterProbe::NoAdapter("the browser offered no WebGPU adapter".into());
    }
    let info = Reflect::get(&adapter, &"info".into()).unwrap_or(JsValue::UNDEFINED);
    let [vendor, architecture, device, description] =
        ["vendor", "architecture", "device", "description"].map(|k| string_field(&info, k));
    let name = if !description.is_empty() {
        description.clone()
    } else {
        [vendor.as_str(), architecture.as_str(), device.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let all = format!("{vendor} {architecture} {device} {description}").to_ascii_lowercase();
    let software = flag(&info, "isFallbackAdapter")
        || flag(&adapter, "isFallbackAdapter")
        || is_software_adapter(&all);
    AdapterProbe::Adapter {
        name: if name.is_empty() {
            "unnamed WebGPU adapter".into()
        } else {
            name
        },
        software,
    }
}

/// Chooses WebGPU or the CPU, and the notice that explains a fallback. A lost GPU device
/// is reported through `outbox` (the page then starts a new worker).
pub async fn select_backend(choice: BackendPreference, outbox: Outbox) -> ChosenBackend {
    let fallback = |why: String| {
        let (adapter, threads) = cpu_name();
        ChosenBackend {
            backend: ActiveBackend::cpu(),
            adapter,
            notice: Some(why),
            threads,
        }
    };
    if choice == BackendPreference::Cpu {
        return fallback("Running on the CPU, as asked with ?backend=cpu.".into());
    }
    let adapter_name = match probe_adapter().await {
        AdapterProbe::NoWebGpu => {
            return fallback("WebGPU is not available in this browser: running on the CPU (WebAssembly) instead.".into());
        }
        AdapterProbe::NoAdapter(why) => {
            return fallback(format!(
                "No WebGPU adapter could be had ({why}): running on the CPU (WebAssembly) instead."
            ));
        }
        AdapterProbe::Adapter { name, software } => {
            if software && choice == BackendPreference::Auto {
                return fallback(format!(
                    "The only WebGPU adapter is a software renderer ({name}), slower than the CPU backend: \
                     running on the CPU (WebAssembly). Add ?backend=webgpu to use it anyway."
                ));
            }
            name
        }
    };
    webgpu(choice, outbox, adapter_name, fallback).await
}

/// The multi-threaded engine has no WebGPU; the page starts it only when the adapter is
/// missing or a software one, or the CPU was asked for.
#[cfg(not(feature = "webgpu"))]
async fn webgpu(
    _: BackendPreference,
    _: Outbox,
    adapter_name: String,
    fallback: impl Fn(String) -> ChosenBackend,
) -> ChosenBackend {
    fallback(format!(
        "This engine runs on the CPU only (every core); WebGPU ({adapter_name}) needs the single-threaded one."
    ))
}

#[cfg(feature = "webgpu")]
async fn webgpu(
    choice: BackendPreference,
    outbox: Outbox,
    adapter_name: String,
    fallback: impl Fn(String) -> ChosenBackend,
) -> ChosenBackend {
    match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, setup)) => {
            let gpu = setup.device.clone();
            let lost = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&lost);
            gpu.set_device_lost_callback(move |reason, message| {
                flag.store(true, Ordering::SeqCst);
                outbox.post(&Response::DeviceLost {
                    message: format!("the GPU device was lost ({reason:?}): {message}"),
                });
            });
            let info = setup.adapter.get_info();
            let name = if info.name.trim().is_empty() {
                adapter_name
            } else {
                info.name
            };
            ChosenBackend {
                backend: ActiveBackend {
                    device,
                    kind: BackendKind::Webgpu,
                    gpu: Some(gpu),
                    lost,
                },
                adapter: format!("WebGPU: {name}"),
                notice: (choice == BackendPreference::Webgpu)
                    .then(|| "Running on WebGPU, as asked with ?backend=webgpu.".into()),
                threads: 0,
            }
        }
        Err(e) => fallback(format!(
            "The WebGPU device could not be created ({e}): running on the CPU (WebAssembly) instead."
        )),
    }
}

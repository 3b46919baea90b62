//! A bounded, deterministic mutation fuzzer over the core loaders (cargo-fuzz is not
//! available): the seed files, including every hostile one, are flipped, truncated, spliced
//! and fed in-process to `load_weights`, the TF.js loader and the image decoder, on a thread
//! with the browser Web Worker's 1 MiB stack. A loader may return Ok or Err; a panic (or a
//! stack overflow, which aborts the test binary) is a failure.
//!
//! It lives in the CLI's test binary so that `cargo test -p resnet-lab-cli` runs it without a
//! second build of the library. `RESNET_LAB_FUZZ_ITERS=200000` runs longer (default 3000).

use std::panic::{AssertUnwindSafe, catch_unwind};

use resnet_lab_core::preprocess::decode::decode_image;
use resnet_lab_core::{load_tfjs, load_weights};

use crate::common::fixture;

/// The browser runs the loaders in a Web Worker with this much stack.
const WORKER_STACK: usize = 1 << 20;

/// xorshift64*: fixed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random edit: byte flips, interesting values, truncation, insertion, duplication.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len());
        match rng.below(6) {
            0 if !data.is_empty() => data[at] ^= 1 << rng.below(8),
            1 if !data.is_empty() => {
                data[at] = [0x00, 0xff, 0x7f, 0x80, b'(', b't', b'h', b'q'][rng.below(8)]
            }
            2 => data.truncate(at),
            3 => {
                let bytes: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
                data.splice(at..at, bytes);
            }
            4 if !data.is_empty() => {
                let len = rng.below(64).min(data.len() - at);
                let chunk = data[at..at + len].to_vec();
                let to = rng.below(data.len());
                data.splice(to..to, chunk);
            }
            _ => {
                // Overwrite a little-endian integer with a boundary value (lengths, sizes).
                let value: u64 = [0, 1, u32::MAX as u64, u64::MAX, 1 << 62][rng.below(5)];
                let end = (at + 8).min(data.len());
                data[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
            }
        }
    }
    data
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Seeds per loader; large fixtures are left out so iterations stay cheap.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    let dir = fixture("bad/hostile");
    for entry in std::fs::read_dir(&dir).expect("bad/hostile exists") {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let kind = match ext {
            "pth" | "safetensors" => "weights",
            "jpg" | "png" | "gif" | "bmp" | "webp" => "image",
            _ => continue,
        };
        seeds.push((kind, std::fs::read(&path).unwrap()));
    }
    seeds.push(("weights", read("bad/control_source.safetensors")));
    seeds.push(("weights", read("bad/whole_module.pth")));
    seeds.push(("image", read("formats/exif6.jpg")));
    seeds.push(("image", read("formats/gif.gif")));
    seeds.push(("tfjs", read("bad/hostile/tfjs_short_shard/model.json")));
    seeds.push(("tfjs", read("bad/hostile/tfjs_overflow_offset/model.json")));
    seeds
}

/// Feeds one input to its loader; the outcome is irrelevant, only a panic counts.
fn feed(kind: &str, data: &[u8]) {
    match kind {
        "weights" => drop(load_weights(data)),
        "image" => drop(decode_image(data)),
        _ => drop(load_tfjs(data, &[vec![0; 4000]])),
    }
}

#[test]
fn loaders_never_panic_on_mutated_inputs() {
    let iterations: usize = std::env::var("RESNET_LAB_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let worker = std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(move || {
            let seeds = seeds();
            let mut rng = Rng(0x5eed_1234_abcd_ef01);
            // Unmutated seeds first, then mutations.
            for (kind, data) in &seeds {
                if catch_unwind(AssertUnwindSafe(|| feed(kind, data))).is_err() {
                    return Err(format!("{kind} seed panicked ({} bytes)", data.len()));
                }
            }
            for i in 0..iterations {
                let (kind, seed) = &seeds[rng.below(seeds.len())];
                let data = mutate(&mut rng, seed);
                if catch_unwind(AssertUnwindSafe(|| feed(kind, &data))).is_err() {
                    let path = std::env::temp_dir().join(format!("resnet-lab-fuzz-{i}.bin"));
                    std::fs::write(&path, &data).ok();
                    let head: Vec<String> =
                        data.iter().take(64).map(|b| format!("{b:02x}")).collect();
                    return Err(format!(
                        "iteration {i}: the {kind} loader panicked on {} bytes (saved to {}), starting {}",
                        data.len(),
                        path.display(),
                        head.join("")
                    ));
                }
            }
            Ok(())
        })
        .expect("thread starts");
    if let Err(e) = worker.join().expect("the fuzz thread finishes") {
        panic!("{e}");
    }
}

//! Every hostile input of `tests/fixtures/make_bad_inputs.py` (`bad/hostile/`) through the
//! real binary: exit status 1, a clear message on stderr (never a panic), within a wall-time
//! bound (a hang detector, not a speed test) and a memory bound.
//!
//! The memory bound is an address-space limit (`ulimit -v`, i.e. RLIMIT_AS) set by `sh` before
//! it execs the binary. The CPU path of the wgpu-linked binary classifies a photo under 1 GiB
//! of address space (checked by `the_memory_bound_leaves_room_for_real_work`), so 4 GiB only
//! catches runaway allocations (the attacks ask for 16 GiB and more).

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::fixture;

/// Wall time any one hostile file may take.
const TIME_LIMIT: Duration = Duration::from_secs(20);
/// Address space for the binary, in KiB (4 GiB).
const ADDRESS_SPACE_KIB: u64 = 4 << 20;

/// Runs the binary under the address-space limit, killing it past [`TIME_LIMIT`].
fn run_bounded(args: &[&str], address_space_kib: u64) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {address_space_kib} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_resnet-lab"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > TIME_LIMIT {
            child.kill().ok();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "`resnet-lab {}` ran past {TIME_LIMIT:?} (a hang): {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("wait");
    (out, start.elapsed())
}

/// `(file under bad/hostile, how it is used, words the error must contain)`.
#[derive(Clone, Copy, PartialEq)]
enum Use {
    /// As `--weights` of `classify` and as the file of `inspect`.
    Weights,
    /// As `--weights` of `classify` and `lesion` only (the weights are fine until the
    /// network runs).
    RunWeights,
    /// As an input of `classify` and `lesion`.
    Input,
}

const CASES: &[(&str, Use, &str)] = &[
    (
        "pth_deep_tuples.pth",
        Use::Weights,
        "nests deeper than 64 levels",
    ),
    (
        "pth_deep_tuple1.pth",
        Use::Weights,
        "nests deeper than 64 levels",
    ),
    (
        "pth_deep_lists.pth",
        Use::Weights,
        "nests deeper than 64 levels",
    ),
    (
        "pth_deep_dicts.pth",
        Use::Weights,
        "nests deeper than 64 levels",
    ),
    (
        "pth_deep_wrappers.pth",
        Use::Weights,
        "nests deeper than 64 levels",
    ),
    (
        "pth_deep_memo_recall.pth",
        Use::Weights,
        "nests deeper than 64 levels",
    ),
    ("pth_memo_doubling.pth", Use::Weights, "implausible size"),
    ("pth_memo_reput.pth", Use::Weights, "implausible size"),
    ("pth_memo_many_keys.pth", Use::Weights, "implausible size"),
    ("pth_memo_recalls.pth", Use::Weights, "implausible size"),
    ("pth_stride0.pth", Use::Weights, "storages hold only 1 "),
    (
        "pth_many_views.pth",
        Use::Weights,
        "storages hold only 1048576",
    ),
    ("pth_overflow_shape.pth", Use::Weights, "impossibly large"),
    (
        "pth_overflow_bytes.pth",
        Use::Weights,
        "storages hold only 1 ",
    ),
    ("pth_zip_declares_4g.pth", Use::Weights, "implausibly large"),
    // Under the limits: read at their real size (nothing reserved up front), then refused
    // for what they hold.
    (
        "pth_zip_declares_1g.pth",
        Use::Weights,
        "`conv1.weight` has shape [1]",
    ),
    (
        "pth_zip_pickle_declares_60m.pth",
        Use::Weights,
        "`conv1.weight` has shape [1]",
    ),
    (
        "st_duplicate_key.safetensors",
        Use::Weights,
        "appears twice",
    ),
    (
        "st_overflow_shape.safetensors",
        Use::Weights,
        "corrupt safetensors file",
    ),
    (
        "st_overflow_offsets.safetensors",
        Use::Weights,
        "corrupt safetensors file",
    ),
    (
        "st_negative_running_var.safetensors",
        Use::Weights,
        "holds negative values",
    ),
    (
        "st_infinite_logits.safetensors",
        Use::RunWeights,
        "NaN or infinity",
    ),
    ("st_zero_classes.safetensors", Use::Weights, "0 classes"),
    ("st_zero_width.safetensors", Use::Weights, "width 0"),
    (
        "bundle_absurd_blocks.safetensors",
        Use::Weights,
        "residual blocks",
    ),
    ("bundle_absurd_width.safetensors", Use::Weights, "channels"),
    ("bundle_many_stages.safetensors", Use::Weights, "100 stages"),
    (
        "bundle_shift_overflow.safetensors",
        Use::Weights,
        "channels",
    ),
    ("bundle_zero_classes.safetensors", Use::Weights, "0 classes"),
    ("bundle_zero_width.safetensors", Use::Weights, "width 0"),
    (
        "bundle_bn_eps_zero.safetensors",
        Use::Weights,
        "BatchNorm epsilon 0",
    ),
    (
        "bundle_bn_eps_negative.safetensors",
        Use::Weights,
        "BatchNorm epsilon -0.00001",
    ),
    ("bundle_wrong_tensors.safetensors", Use::Weights, "missing"),
    (
        "int8_scale_wrong_length.safetensors",
        Use::Weights,
        "layer1.0.conv1.weight_scale: expected [1], found [2]",
    ),
    (
        "int8_scale_nan.safetensors",
        Use::Weights,
        "NaN or infinite",
    ),
    (
        "int8_scale_inf.safetensors",
        Use::Weights,
        "NaN or infinite",
    ),
    (
        "int8_scale_zero.safetensors",
        Use::Weights,
        "zero, negative",
    ),
    (
        "int8_scale_negative.safetensors",
        Use::Weights,
        "zero, negative",
    ),
    (
        "int8_scale_float16.safetensors",
        Use::Weights,
        "`layer1.0.conv1.weight_scale` has dtype F16",
    ),
    (
        "int8_weight_int32.safetensors",
        Use::Weights,
        "`layer1.0.conv2.weight` has dtype I32",
    ),
    (
        "int8_bias_int8.safetensors",
        Use::Weights,
        "`fc.bias` has dtype I8",
    ),
    (
        "int8_bias_nan.safetensors",
        Use::Weights,
        "`layer1.0.conv2.bias` holds 1 non-finite",
    ),
    (
        "int8_missing_scale.safetensors",
        Use::Weights,
        "missing 1 tensor(s):\n    fc.weight_scale",
    ),
    (
        "int8_scale_beside_float.safetensors",
        Use::Weights,
        "unexpected 1 tensor(s):\n    conv1.weight_scale",
    ),
    (
        "int8_scale_overflows.safetensors",
        Use::Weights,
        "`layer1.0.conv1.weight` holds 6 non-finite",
    ),
    (
        "int8_labelled_float32.safetensors",
        Use::Weights,
        "version 2 bundle cannot hold `float32`",
    ),
    (
        "int8_version_1.safetensors",
        Use::Weights,
        "version 1 bundle cannot hold `int8`",
    ),
    (
        "int8_bn_eps_huge.safetensors",
        Use::Weights,
        "epsilon 1000 is above 1",
    ),
    (
        "tfjs_absolute/model.json",
        Use::Weights,
        "not a plain relative path",
    ),
    (
        "tfjs_dev_zero/model.json",
        Use::Weights,
        "not a plain relative path",
    ),
    (
        "tfjs_dotdot/model.json",
        Use::Weights,
        "not a plain relative path",
    ),
    (
        "tfjs_dotdot_inner/model.json",
        Use::Weights,
        "not a plain relative path",
    ),
    (
        "tfjs_directory/model.json",
        Use::Weights,
        "not a plain relative path",
    ),
    (
        "tfjs_repeated/model.json",
        Use::Weights,
        "more bytes than the manifest",
    ),
    (
        "tfjs_overflow_shape/model.json",
        Use::Weights,
        "impossibly large",
    ),
    (
        "tfjs_overflow_offset/model.json",
        Use::Weights,
        "impossibly many bytes",
    ),
    ("tfjs_short_shard/model.json", Use::Weights, "truncated"),
    ("npy_nan.npy", Use::Input, "NaN"),
    ("npy_inf.npy", Use::Input, "inf"),
    ("npy_huge_dims.npy", Use::Input, "megapixels"),
    ("npy_overflow_dims.npy", Use::Input, "megapixels"),
    ("truncated_third.jpg", Use::Input, "truncated"),
    ("truncated_headers.jpg", Use::Input, "truncated"),
    ("truncated.png", Use::Input, "cannot decode"),
    ("truncated.gif", Use::Input, "cannot decode"),
    ("truncated.bmp", Use::Input, "cannot decode"),
    ("truncated.webp", Use::Input, "cannot decode"),
];

#[test]
fn every_hostile_file_is_listed() {
    let dir = fixture("bad/hostile");
    for entry in std::fs::read_dir(&dir).expect("bad/hostile exists") {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            CASES
                .iter()
                .any(|(file, ..)| file.split('/').next() == Some(name.as_str())),
            "{name} is not tested"
        );
    }
}

#[test]
fn hostile_files_exit_1_with_a_clear_message_in_bounded_time_and_memory() {
    let weights = fixture("tiny_resnet18.safetensors");
    let photo = fixture("photos/chelsea.png");
    let mut report = String::new();
    let mut failures = Vec::new();
    for &(file, usage, words) in CASES {
        let path = fixture(&format!("bad/hostile/{file}"));
        let (path, weights, photo) = (path.as_str(), weights.as_str(), photo.as_str());
        let mut runs: Vec<Vec<&str>> = Vec::new();
        match usage {
            Use::Weights => {
                runs.push(vec!["inspect", path]);
                runs.push(vec!["classify", "--weights", path, photo]);
            }
            Use::RunWeights => {
                runs.push(vec!["classify", "--weights", path, photo]);
                runs.push(vec!["lesion", "--weights", path, photo]);
            }
            Use::Input => {
                runs.push(vec!["classify", "--weights", weights, path]);
                runs.push(vec!["lesion", "--weights", weights, path]);
            }
        }
        for args in runs {
            let (out, took) = run_bounded(&args, ADDRESS_SPACE_KIB);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let message = stderr
                .lines()
                .find(|l| l.contains("error"))
                .unwrap_or("")
                .to_owned();
            report.push_str(&format!("{file} ({}, {took:.1?}): {message}\n", args[0]));
            let ok = out.status.code() == Some(1)
                && stderr.contains(words)
                && !stderr.contains("panicked")
                && !stderr.contains("RUST_BACKTRACE");
            if !ok {
                failures.push(format!(
                    "{file}: `{}` exit {:?}, stderr lacks `{words}` or panicked:\n{stderr}",
                    args[0],
                    out.status.code()
                ));
            }
        }
    }
    eprintln!("{report}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The memory bound must not be what makes the hostile files fail: real work fits well
/// inside it.
#[test]
fn the_memory_bound_leaves_room_for_real_work() {
    let (weights, photo) = (fixture("tiny_resnet50.pth"), fixture("photos/chelsea.png"));
    let (out, _) = run_bounded(
        &["classify", "--weights", weights.as_str(), photo.as_str()],
        1 << 20,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file's `source` text reaches the terminal escaped, not interpreted.
#[test]
fn inspect_escapes_control_characters() {
    let out = crate::common::run(&["inspect", &fixture("bad/control_source.safetensors")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains('\x1b') && !stdout.contains('\x07'),
        "{stdout}"
    );
    assert!(stdout.contains(r"evil \u{1b}[2J"), "{stdout}");
}

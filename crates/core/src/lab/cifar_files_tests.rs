use super::*;
use crate::lab::data::Dataset;

const RECORD: u64 = CIFAR_RECORD as u64;

fn sizes(files: &[(&str, u64)]) -> Vec<(String, u64)> {
    files.iter().map(|(n, b)| (n.to_string(), *b)).collect()
}

#[test]
fn hostile_sizes_are_refused_before_anything_is_read() {
    // Sizes only: nothing of these lengths is ever allocated.
    assert_eq!(plan(&[]), Err(CifarError::NoFiles));
    let seven: Vec<(String, u64)> = (1..=7)
        .map(|i| (format!("data_batch_{i}.bin"), RECORD))
        .collect();
    assert_eq!(plan(&seven), Err(CifarError::TooManyFiles { count: 7 }));
    for bytes in [
        0,
        100,
        RECORD - 1,
        RECORD + 1,
        10_000 * RECORD - 1,
        u64::MAX,
    ] {
        assert_eq!(
            plan(&sizes(&[("data_batch_1.bin", bytes)])),
            Err(CifarError::NotWholeRecords {
                name: "data_batch_1.bin".into(),
                bytes
            }),
            "{bytes}"
        );
    }
    // 60,001 images in one file, or over two files; a size that would overflow a sum.
    assert_eq!(
        plan(&sizes(&[("data_batch_1.bin", 60_001 * RECORD)])),
        Err(CifarError::TooManyImages {
            name: "data_batch_1.bin".into(),
            images: 60_001
        })
    );
    let huge = (u64::MAX / RECORD) * RECORD;
    assert!(matches!(
        plan(&sizes(&[("a.bin", 50_000 * RECORD), ("test_batch.bin", huge)])),
        Err(CifarError::TooManyImages { name, .. }) if name == "test_batch.bin"
    ));
    assert!(matches!(
        plan(&sizes(&[
            ("data_batch_1.bin", 30_000 * RECORD),
            ("data_batch_2.bin", 30_001 * RECORD)
        ])),
        Err(CifarError::TooManyImages { images: 60_001, .. })
    ));
    assert_eq!(
        plan(&sizes(&[
            ("data_batch_1.bin", RECORD),
            ("dir/data_batch_1.bin", RECORD)
        ])),
        Err(CifarError::Duplicate {
            name: "data_batch_1.bin".into()
        })
    );
    assert_eq!(
        plan(&sizes(&[("batches.meta.txt", RECORD)])),
        Err(CifarError::NotBatchFile {
            name: "batches.meta.txt".into()
        })
    );
    assert_eq!(
        plan(&sizes(&[("test_batch.bin", RECORD)])),
        Err(CifarError::NoTrainingFile)
    );
}

#[test]
fn the_full_dataset_plans_and_roles_come_from_the_names() {
    let mut files: Vec<(String, u64)> = (1..=5)
        .map(|i| {
            (
                format!("cifar-10-batches-bin/data_batch_{i}.bin"),
                10_000 * RECORD,
            )
        })
        .collect();
    files.push((
        "https://example.org/c/test_batch.bin?v=1".into(),
        10_000 * RECORD,
    ));
    let plan = plan(&files).unwrap();
    assert_eq!(plan.train_bytes, 50_000 * CIFAR_RECORD);
    assert_eq!(plan.test_bytes, 10_000 * CIFAR_RECORD);
    assert_eq!(plan.files[0].name, "data_batch_1.bin");
    assert_eq!(plan.files[5].name, "test_batch.bin");
    assert_eq!(plan.files[5].role, BatchRole::Test);
    assert_eq!(BatchRole::of("DATA_BATCH_2.BIN"), BatchRole::Train);
    assert_eq!(file_name("C:\\cifar\\test_batch.bin"), "test_batch.bin");
}

#[test]
fn labels_past_nine_are_refused_with_the_image_named() {
    let mut bytes = vec![3u8; 3 * CIFAR_RECORD];
    for r in 0..3 {
        bytes[r * CIFAR_RECORD] = r as u8;
    }
    assert_eq!(check_records("data_batch_1.bin", &bytes), Ok(3));
    for label in [10u8, 99, 255] {
        bytes[2 * CIFAR_RECORD] = label;
        let err = check_records("data_batch_1.bin", &bytes).unwrap_err();
        assert_eq!(
            err,
            CifarError::BadLabel {
                name: "data_batch_1.bin".into(),
                index: 2,
                label
            }
        );
        assert!(err.to_string().contains("labels are 0–9"), "{err}");
    }
    assert!(matches!(
        check_records("x.bin", &bytes[..CIFAR_RECORD + 7]),
        Err(CifarError::NotWholeRecords { bytes: 3080, .. })
    ));
    assert!(Cifar10::from_records("kept", Vec::new()).is_err());
    // The core's error keeps the type, and reads the same.
    let core: crate::Error = CifarError::NoTrainingFile.into();
    assert!(matches!(
        core,
        crate::Error::Cifar(CifarError::NoTrainingFile)
    ));
}

/// The committed sample (tests/fixtures/cifar, made by make_cifar_sample.py from photos) and
/// the image counts and label histograms Python read back from the same files.
#[test]
fn the_sample_files_read_as_python_reads_them() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/cifar");
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("reference.json")).unwrap()).unwrap();
    for name in ["data_batch_1.bin", "test_batch.bin"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let set = Cifar10::from_records(name, bytes).unwrap();
        let want = &reference["files"][name];
        assert_eq!(set.len() as u64, want["images"].as_u64().unwrap(), "{name}");
        let counts: Vec<u64> = set.label_counts().iter().map(|&c| c as u64).collect();
        let want_counts: Vec<u64> = want["label_counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(counts, want_counts, "{name}");
    }
}

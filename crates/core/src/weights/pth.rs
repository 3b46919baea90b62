//! PyTorch `.pth` state dicts as `torch.save(model.state_dict(), path)` writes them: a zip
//! archive holding `data.pkl` (the dictionary, pickled) and one entry per storage.
//!
//! The pickle is *interpreted*, never executed, by the restricted machine in
//! [`super::pickle`]; anything but a state dict (a pickled `nn.Module`, an arbitrary class) is
//! refused by name.
//!
//! Why not a crate: Burn's `pytorch-reader` reads tensors only from a file path (the browser
//! has none), and `serde-pickle` cannot resolve the persistent ids that point at storages.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use crate::error::{Error, Result};
use crate::weights::pickle::{Node, TensorRef, Unpickler, Value};
use crate::weights::tensor_set::{HostTensor, TensorSet, checked_numel};

const FORMAT: &str = "PyTorch .pth";

/// Caps that keep a hostile file from exhausting memory or time (the pickle's own are in
/// [`super::pickle`]).
const MAX_PICKLE_BYTES: u64 = 64 << 20;
/// Storage bytes read out of the archive in total; wide_resnet101_2 in float32 is ~500 MB.
const MAX_STORAGE_BYTES: u64 = 1 << 30;
/// Tensor elements gathered in total: wide_resnet101_2 has 127 million.
const MAX_ELEMENTS: usize = 1 << 28;

/// Reads a state dict from the bytes of a `.pth` file.
pub fn read_pth(bytes: &[u8]) -> Result<TensorSet> {
    if !bytes.starts_with(b"PK\x03\x04") {
        if bytes.starts_with(&[0x80, 0x02, 0x8a, 0x0a]) {
            return Err(Error::corrupt(
                FORMAT,
                "this is PyTorch's legacy (pre-1.6) serialization; re-save it with a current PyTorch: torch.save(torch.load(path), new_path)",
            ));
        }
        return Err(Error::corrupt(FORMAT, "not a zip archive"));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        Error::corrupt(
            FORMAT,
            format!("cannot open the zip archive ({e}); is the file truncated?"),
        )
    })?;

    // Entries are `<archive name>/data.pkl` and `<archive name>/data/<key>`.
    let pickle_name = (0..archive.len())
        .filter_map(|i| archive.name_for_index(i)?.ok().map(|n| n.to_string()))
        .find(|n| n.ends_with("data.pkl") && n.matches('/').count() <= 1)
        .ok_or_else(|| {
            Error::corrupt(FORMAT, "the archive has no data.pkl; not a torch.save file")
        })?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_owned();

    let pickle = read_entry(&mut archive, &pickle_name, MAX_PICKLE_BYTES, bytes.len())?;
    let root = Unpickler::default().run(&pickle)?;
    let dict = state_dict_of(root)?;

    let mut set = TensorSet::new();
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let (mut storage_bytes, mut storage_elements, mut gathered) = (0u64, 0usize, 0usize);
    for (name, value) in dict {
        let Value::Tensor(tensor) = value else {
            // Non-tensor entries (e.g. an epoch counter next to the weights) are not weights.
            continue;
        };
        if !storages.contains_key(&tensor.storage.key) {
            let entry = format!("{prefix}data/{}", tensor.storage.key);
            let data = read_entry(
                &mut archive,
                &entry,
                MAX_STORAGE_BYTES - storage_bytes,
                bytes.len(),
            )?;
            storage_bytes += data.len() as u64;
            storage_elements += data.len() / tensor.storage.dtype.size();
            storages.insert(tensor.storage.key.clone(), data);
        }
        let raw = &storages[&tensor.storage.key];
        // Many tensors viewing one storage are each copied out, so the copies are budgeted:
        // at most twice the values the storages hold (tied weights), and what a ResNet needs.
        gathered = gathered.saturating_add(checked_numel(&tensor.shape)?);
        if gathered > MAX_ELEMENTS || gathered > storage_elements.saturating_mul(2) {
            return Err(Error::corrupt(
                FORMAT,
                format!(
                    "the tensors ask for {gathered}+ values but their storages hold only {storage_elements} (stride-0 or repeated views); not a state dict"
                ),
            ));
        }
        let values = gather(&name, &tensor, raw)?;
        // `module.` comes from nn.DataParallel wrappers; the weights are the same.
        let name = name.strip_prefix("module.").unwrap_or(&name).to_owned();
        set.insert(name, HostTensor::new(tensor.shape.clone(), values)?)?;
    }
    if set.is_empty() {
        return Err(Error::corrupt(FORMAT, "the state dict holds no tensors"));
    }
    Ok(set)
}

/// Reads one archive entry of at most `limit` bytes. The declared size is not trusted for
/// the reservation (a hostile header can claim gigabytes): it is capped by the archive's real
/// size, and the read itself stops at `limit` (a deflate bomb).
fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    limit: u64,
    archive_len: usize,
) -> Result<Vec<u8>> {
    let entry = archive
        .by_name(name)
        .map_err(|e| Error::corrupt(FORMAT, format!("missing archive entry {name}: {e}")))?;
    let too_large = || Error::corrupt(FORMAT, format!("archive entry {name} is implausibly large"));
    if entry.size() > limit {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity((entry.size() as usize).min(archive_len));
    entry.take(limit + 1).read_to_end(&mut out).map_err(|e| {
        Error::corrupt(
            FORMAT,
            format!("cannot read {name} ({e}); is the file truncated?"),
        )
    })?;
    if out.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(out)
}

/// Finds the state dict: the root dictionary itself, or the usual checkpoint wrappers
/// (`{"state_dict": ...}`, `{"model": ...}`), unwrapped in a loop (no recursion).
fn state_dict_of(root: Value) -> Result<Vec<(String, Value)>> {
    let mut current = root;
    'unwrap: loop {
        let Value::Dict(Node { items, .. }) = current else {
            return Err(Error::corrupt(
                FORMAT,
                format!(
                    "the file holds {}, not a state dict; save weights with torch.save(model.state_dict(), path)",
                    current.describe()
                ),
            ));
        };
        let mut named = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let Value::Str(k) = k else {
                return Err(Error::corrupt(FORMAT, "a state dict key is not a string"));
            };
            named.push((k, v));
        }
        if named.iter().any(|(_, v)| matches!(v, Value::Tensor(_))) {
            return Ok(named);
        }
        for wrapper in ["state_dict", "model", "model_state_dict", "module"] {
            if let Some(pos) = named
                .iter()
                .position(|(k, v)| k == wrapper && matches!(v, Value::Dict(_)))
            {
                current = named.swap_remove(pos).1;
                continue 'unwrap;
            }
        }
        if let Some((k, v)) = named.iter().find(|(_, v)| !matches!(v, Value::Dict(_))) {
            return Err(Error::corrupt(
                FORMAT,
                format!(
                    "not a state dict: entry `{k}` holds {} and no entry holds a tensor",
                    v.describe()
                ),
            ));
        }
        return Err(Error::corrupt(
            FORMAT,
            "not a state dict: it holds no tensors",
        ));
    }
}

/// Reads a (possibly strided) tensor out of its storage's bytes, as `f32`.
fn gather(name: &str, t: &TensorRef, raw: &[u8]) -> Result<Vec<f32>> {
    let numel = checked_numel(&t.shape)?;
    let size = t.storage.dtype.size();
    let elements = raw.len() / size;
    // A view cannot hold more values than its storage has (a stride-0 shape over one element
    // would otherwise ask for gigabytes); this also keeps `numel * size` from overflowing.
    if numel > elements {
        return Err(Error::corrupt(
            FORMAT,
            format!(
                "tensor `{name}` of shape {:?} has more values than its storage ({elements})",
                t.shape
            ),
        ));
    }
    // The furthest element any index can reach must lie inside the storage.
    let reach = t
        .shape
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |acc, (&d, &s)| {
            acc.checked_add(d.saturating_sub(1).checked_mul(s)?)
        });
    match reach {
        Some(last) if numel == 0 || last < elements => {}
        _ => {
            return Err(Error::corrupt(
                FORMAT,
                format!(
                    "tensor `{name}` reaches past the end of its storage; the file is truncated or corrupt"
                ),
            ));
        }
    }
    let mut out = Vec::with_capacity(numel);
    let mut index = vec![0usize; t.shape.len()];
    for _ in 0..numel {
        let at = t.offset
            + index
                .iter()
                .zip(&t.stride)
                .map(|(i, s)| i * s)
                .sum::<usize>();
        out.push(t.storage.dtype.read(&raw[at * size..(at + 1) * size]));
        // Row-major increment of the multi-index.
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < t.shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(out)
}

//! PyTorch `.pth` state dicts as `torch.save(model.state_dict(), path)` writes them: a zip
//! archive holding `data.pkl` (the dictionary, pickled) and one entry per storage.
//!
//! The pickle is *interpreted*, never executed: a small stack machine understands the
//! opcodes `torch.save` emits and the three callables a state dict needs
//! (`OrderedDict`, `_rebuild_tensor_v2`, `_rebuild_parameter`). Anything else (a pickled
//! `nn.Module`, an arbitrary class) is refused by name.
//!
//! Why not a crate: Burn's `pytorch-reader` reads tensors only from a file path (the browser
//! has none), and `serde-pickle` cannot resolve the persistent ids that point at storages.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use half::{bf16, f16};

use crate::error::{Error, Result};
use crate::weights::tensor_set::{HostTensor, TensorSet, checked_numel};

const FORMAT: &str = "PyTorch .pth";

/// Caps that keep a hostile pickle from exhausting memory or time.
const MAX_PICKLE_BYTES: u64 = 64 << 20;
const MAX_STACK: usize = 1 << 20;
/// Values a pickle may copy out of its memo in total: memo references nested in memo
/// references can otherwise grow exponentially (a "billion laughs" pickle).
const MAX_RECALLED_NODES: usize = 1 << 22;

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

    let pickle = read_entry(&mut archive, &pickle_name, MAX_PICKLE_BYTES)?;
    let root = Unpickler::default().run(&pickle)?;
    let dict = state_dict_of(root)?;

    let mut set = TensorSet::new();
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    for (name, value) in dict {
        let Value::Tensor(tensor) = value else {
            // Non-tensor entries (e.g. an epoch counter next to the weights) are not weights.
            continue;
        };
        if !storages.contains_key(&tensor.storage.key) {
            let entry = format!("{prefix}data/{}", tensor.storage.key);
            let data = read_entry(&mut archive, &entry, u64::MAX)?;
            storages.insert(tensor.storage.key.clone(), data);
        }
        let raw = &storages[&tensor.storage.key];
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

fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>> {
    let mut entry = archive
        .by_name(name)
        .map_err(|e| Error::corrupt(FORMAT, format!("missing archive entry {name}: {e}")))?;
    if entry.size() > limit {
        return Err(Error::corrupt(
            FORMAT,
            format!("archive entry {name} is implausibly large"),
        ));
    }
    let mut out = Vec::with_capacity(entry.size().min(1 << 30) as usize);
    entry.read_to_end(&mut out).map_err(|e| {
        Error::corrupt(
            FORMAT,
            format!("cannot read {name} ({e}); is the file truncated?"),
        )
    })?;
    Ok(out)
}

/// Finds the state dict: the root dictionary itself, or the usual checkpoint wrappers
/// (`{"state_dict": ...}`, `{"model": ...}`).
fn state_dict_of(root: Value) -> Result<Vec<(String, Value)>> {
    let Value::Dict(entries) = root else {
        return Err(Error::corrupt(
            FORMAT,
            format!(
                "the file holds {}, not a state dict; save weights with torch.save(model.state_dict(), path)",
                root.describe()
            ),
        ));
    };
    let mut named = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Value::Str(k) = k else {
            return Err(Error::corrupt(FORMAT, "a state dict key is not a string"));
        };
        named.push((k, v));
    }
    let has_tensors = named.iter().any(|(_, v)| matches!(v, Value::Tensor(_)));
    if !has_tensors {
        for wrapper in ["state_dict", "model", "model_state_dict", "module"] {
            if let Some(pos) = named
                .iter()
                .position(|(k, v)| k == wrapper && matches!(v, Value::Dict(_)))
            {
                let (_, inner) = named.swap_remove(pos);
                return state_dict_of(inner);
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
    Ok(named)
}

/// Element types a storage can hold.
#[derive(Debug, Clone, Copy)]
enum StorageType {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    U8,
}

impl StorageType {
    fn from_class(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Self::F32,
            "DoubleStorage" => Self::F64,
            "HalfStorage" => Self::F16,
            "BFloat16Storage" => Self::BF16,
            "LongStorage" => Self::I64,
            "IntStorage" => Self::I32,
            "ByteStorage" | "BoolStorage" => Self::U8,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::U8 => 1,
        }
    }

    fn read(self, b: &[u8]) -> f32 {
        match self {
            Self::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Self::F64 => {
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
            Self::F16 => f16::from_le_bytes([b[0], b[1]]).to_f32(),
            Self::BF16 => bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            Self::I64 => {
                i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
            Self::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
            Self::U8 => b[0] as f32,
        }
    }
}

#[derive(Debug, Clone)]
struct StorageRef {
    key: String,
    dtype: StorageType,
}

#[derive(Debug, Clone)]
struct TensorRef {
    storage: StorageRef,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// Reads a (possibly strided) tensor out of its storage's bytes, as `f32`.
fn gather(name: &str, t: &TensorRef, raw: &[u8]) -> Result<Vec<f32>> {
    let numel = checked_numel(&t.shape)?;
    let size = t.storage.dtype.size();
    let elements = raw.len() / size;
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

/// The Python values a state-dict pickle can build.
#[derive(Debug, Clone)]
enum Value {
    None,
    Bool,
    Int(i64),
    Float,
    Str(String),
    Bytes,
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global {
        module: String,
        name: String,
    },
    Storage(StorageRef),
    Tensor(TensorRef),
    /// Pushed by MARK; never a real value.
    Mark,
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool => "a bool".into(),
            Value::Int(_) => "an int".into(),
            Value::Float => "a float".into(),
            Value::Str(_) => "a string".into(),
            Value::Bytes => "bytes".into(),
            Value::Tuple(_) => "a tuple".into(),
            Value::List(_) => "a list".into(),
            Value::Dict(_) => "a dict".into(),
            Value::Global { module, name } => format!("a Python object ({module}.{name})"),
            Value::Storage(_) => "a storage".into(),
            Value::Tensor(_) => "a tensor".into(),
            Value::Mark => "a mark".into(),
        }
    }

    /// Number of values in this one, counting itself.
    fn node_count(&self) -> usize {
        match self {
            Value::Tuple(items) | Value::List(items) => {
                1 + items.iter().map(Value::node_count).sum::<usize>()
            }
            Value::Dict(pairs) => {
                1 + pairs
                    .iter()
                    .map(|(k, v)| k.node_count() + v.node_count())
                    .sum::<usize>()
            }
            _ => 1,
        }
    }

    fn as_usize(&self, what: &str) -> Result<usize> {
        match self {
            Value::Int(i) if *i >= 0 => Ok(*i as usize),
            other => Err(Error::corrupt(
                FORMAT,
                format!(
                    "{what} should be a non-negative int, found {}",
                    other.describe()
                ),
            )),
        }
    }

    fn as_usizes(&self, what: &str) -> Result<Vec<usize>> {
        match self {
            Value::Tuple(items) | Value::List(items) => {
                items.iter().map(|v| v.as_usize(what)).collect()
            }
            other => Err(Error::corrupt(
                FORMAT,
                format!("{what} should be a tuple, found {}", other.describe()),
            )),
        }
    }
}

/// The pickle stack machine, restricted to what a state dict needs.
#[derive(Default)]
struct Unpickler {
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
    recalled_nodes: usize,
}

impl Unpickler {
    fn run(mut self, data: &[u8]) -> Result<Value> {
        let mut r = Reader { data, pos: 0 };
        loop {
            if self.stack.len() > MAX_STACK {
                return Err(Error::corrupt(FORMAT, "pickle stack too deep"));
            }
            let op = r.u8()?;
            match op {
                0x80 => {
                    r.u8()?; // PROTO n
                }
                0x95 => {
                    r.take(8)?; // FRAME length: framing only
                }
                b'.' => return self.pop(), // STOP
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b'(' => self.stack.push(Value::Mark),
                b'N' => self.stack.push(Value::None),
                0x88 | 0x89 => self.stack.push(Value::Bool),
                b'K' => {
                    let v = r.u8()?;
                    self.stack.push(Value::Int(v as i64))
                }
                b'M' => {
                    let v = u16::from_le_bytes(r.array()?);
                    self.stack.push(Value::Int(v as i64))
                }
                b'J' => {
                    let v = i32::from_le_bytes(r.array()?);
                    self.stack.push(Value::Int(v as i64))
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes.
                    let n = r.u8()? as usize;
                    let bytes = r.take(n)?;
                    if n > 8 {
                        return Err(Error::corrupt(FORMAT, "integer wider than 64 bits"));
                    }
                    let mut buf = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                        [0xff; 8]
                    } else {
                        [0; 8]
                    };
                    buf[..n].copy_from_slice(bytes);
                    self.stack.push(Value::Int(i64::from_le_bytes(buf)))
                }
                b'G' => {
                    r.take(8)?;
                    self.stack.push(Value::Float)
                }
                b'X' => {
                    let n = u32::from_le_bytes(r.array()?) as usize;
                    let s = r.string(n)?;
                    self.stack.push(Value::Str(s))
                }
                0x8c => {
                    let n = r.u8()? as usize;
                    let s = r.string(n)?;
                    self.stack.push(Value::Str(s))
                }
                b'B' => {
                    let n = u32::from_le_bytes(r.array()?) as usize;
                    r.take(n)?;
                    self.stack.push(Value::Bytes)
                }
                b'C' => {
                    let n = r.u8()? as usize;
                    r.take(n)?;
                    self.stack.push(Value::Bytes)
                }
                b'c' => {
                    let module = r.line()?;
                    let name = r.line()?;
                    self.stack.push(Value::Global { module, name })
                }
                0x93 => {
                    let name = self.pop_str()?;
                    let module = self.pop_str()?;
                    self.stack.push(Value::Global { module, name })
                }
                b'q' => {
                    let k = r.u8()? as u32;
                    self.memoize(k)?
                }
                b'r' => {
                    let k = u32::from_le_bytes(r.array()?);
                    self.memoize(k)?
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memoize(k)?
                }
                b'h' => {
                    let k = r.u8()? as u32;
                    self.recall(k)?
                }
                b'j' => {
                    let k = u32::from_le_bytes(r.array()?);
                    self.recall(k)?
                }
                b't' => {
                    let items = self.pop_to_mark()?;
                    self.stack.push(Value::Tuple(items))
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(Error::corrupt(FORMAT, "pickle stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items))
                }
                b'l' => {
                    let items = self.pop_to_mark()?;
                    self.stack.push(Value::List(items))
                }
                b'd' => {
                    let items = self.pop_to_mark()?;
                    let dict = pairs(items)?;
                    self.stack.push(Value::Dict(dict))
                }
                b'a' => {
                    let v = self.pop()?;
                    self.list_extend(vec![v])?
                }
                b'e' => {
                    let items = self.pop_to_mark()?;
                    self.list_extend(items)?
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.dict_extend(vec![(k, v)])?
                }
                b'u' => {
                    let items = self.pop_to_mark()?;
                    let items = pairs(items)?;
                    self.dict_extend(items)?
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let storage = persistent_storage(pid)?;
                    self.stack.push(Value::Storage(storage))
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let result = reduce(callable, args)?;
                    self.stack.push(result)
                }
                0x81 => {
                    let _args = self.pop()?;
                    let class = self.pop()?;
                    return Err(Error::corrupt(
                        FORMAT,
                        format!(
                            "the file holds {}, not a state dict; save weights with torch.save(model.state_dict(), path)",
                            class.describe()
                        ),
                    ));
                }
                b'b' => {
                    // BUILD sets attributes; on an OrderedDict torch stores `_metadata`, which
                    // carries no weights, so the state is dropped.
                    let _state = self.pop()?;
                    match self.stack.last() {
                        Some(Value::Dict(_)) => {}
                        Some(other) => {
                            return Err(Error::corrupt(
                                FORMAT,
                                format!(
                                    "the file holds {}, not a state dict; save weights with torch.save(model.state_dict(), path)",
                                    other.describe()
                                ),
                            ));
                        }
                        None => return Err(Error::corrupt(FORMAT, "pickle stack underflow")),
                    }
                }
                other => {
                    return Err(Error::corrupt(
                        FORMAT,
                        format!("unsupported pickle opcode 0x{other:02x}"),
                    ));
                }
            }
        }
    }

    fn pop(&mut self) -> Result<Value> {
        match self.stack.pop() {
            Some(Value::Mark) | None => Err(Error::corrupt(FORMAT, "pickle stack underflow")),
            Some(v) => Ok(v),
        }
    }

    fn pop_str(&mut self) -> Result<String> {
        match self.pop()? {
            Value::Str(s) => Ok(s),
            other => Err(Error::corrupt(
                FORMAT,
                format!("expected a string, found {}", other.describe()),
            )),
        }
    }

    fn pop_to_mark(&mut self) -> Result<Vec<Value>> {
        let mark = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or_else(|| Error::corrupt(FORMAT, "pickle MARK missing"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn memoize(&mut self, key: u32) -> Result<()> {
        let top = self
            .stack
            .last()
            .ok_or_else(|| Error::corrupt(FORMAT, "pickle stack underflow"))?;
        self.memo.insert(key, top.clone());
        Ok(())
    }

    fn recall(&mut self, key: u32) -> Result<()> {
        let v =
            self.memo.get(&key).cloned().ok_or_else(|| {
                Error::corrupt(FORMAT, format!("pickle memo key {key} is undefined"))
            })?;
        self.recalled_nodes += v.node_count();
        if self.recalled_nodes > MAX_RECALLED_NODES {
            return Err(Error::corrupt(
                FORMAT,
                "the pickle expands to an implausible size",
            ));
        }
        self.stack.push(v);
        Ok(())
    }

    fn list_extend(&mut self, items: Vec<Value>) -> Result<()> {
        match self.stack.last_mut() {
            Some(Value::List(list)) => {
                list.extend(items);
                Ok(())
            }
            _ => Err(Error::corrupt(
                FORMAT,
                "APPEND onto something that is not a list",
            )),
        }
    }

    fn dict_extend(&mut self, items: Vec<(Value, Value)>) -> Result<()> {
        match self.stack.last_mut() {
            Some(Value::Dict(dict)) => {
                dict.extend(items);
                Ok(())
            }
            _ => Err(Error::corrupt(
                FORMAT,
                "SETITEM onto something that is not a dict",
            )),
        }
    }
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>> {
    if !items.len().is_multiple_of(2) {
        return Err(Error::corrupt(FORMAT, "odd number of items in a dict"));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

/// `('storage', torch.FloatStorage, key, location, numel)` → a storage reference.
fn persistent_storage(pid: Value) -> Result<StorageRef> {
    let Value::Tuple(items) = pid else {
        return Err(Error::corrupt(FORMAT, "persistent id is not a tuple"));
    };
    match items.as_slice() {
        [Value::Str(tag), Value::Global { name, .. }, key, ..] if tag == "storage" => {
            let dtype = StorageType::from_class(name).ok_or_else(|| {
                Error::corrupt(FORMAT, format!("unsupported storage type {name}"))
            })?;
            let key = match key {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                other => {
                    return Err(Error::corrupt(
                        FORMAT,
                        format!("storage key is {}", other.describe()),
                    ));
                }
            };
            Ok(StorageRef { key, dtype })
        }
        _ => Err(Error::corrupt(FORMAT, "unrecognised persistent id")),
    }
}

/// Applies one of the few callables a state dict uses; refuses every other.
fn reduce(callable: Value, args: Value) -> Result<Value> {
    let Value::Global { module, name } = callable else {
        return Err(Error::corrupt(
            FORMAT,
            format!("cannot call {}", callable.describe()),
        ));
    };
    let Value::Tuple(args) = args else {
        return Err(Error::corrupt(FORMAT, "call arguments are not a tuple"));
    };
    match (module.as_str(), name.as_str()) {
        ("collections", "OrderedDict") => Ok(Value::Dict(Vec::new())),
        ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
            let (storage, offset, shape, stride) = match args.as_slice() {
                [Value::Storage(s), offset, shape, stride, ..] => {
                    (s.clone(), offset, shape, stride)
                }
                _ => return Err(Error::corrupt(FORMAT, "malformed tensor record")),
            };
            let shape = shape.as_usizes("tensor shape")?;
            let stride = stride.as_usizes("tensor stride")?;
            if shape.len() != stride.len() {
                return Err(Error::corrupt(
                    FORMAT,
                    "tensor shape and stride differ in length",
                ));
            }
            Ok(Value::Tensor(TensorRef {
                storage,
                offset: offset.as_usize("storage offset")?,
                shape,
                stride,
            }))
        }
        ("torch._utils", "_rebuild_parameter")
        | ("torch._utils", "_rebuild_parameter_with_state") => args
            .into_iter()
            .next()
            .ok_or_else(|| Error::corrupt(FORMAT, "empty parameter record")),
        _ => Err(Error::corrupt(
            FORMAT,
            format!(
                "the file holds a Python object ({module}.{name}), not a state dict; save weights with torch.save(model.state_dict(), path)"
            ),
        )),
    }
}

/// A bounds-checked cursor over the pickle bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                Error::corrupt(FORMAT, "the pickle ends early; the file is truncated")
            })?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn string(&mut self, n: usize) -> Result<String> {
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| Error::corrupt(FORMAT, "invalid UTF-8 in a string"))
    }

    fn line(&mut self) -> Result<String> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| {
            Error::corrupt(FORMAT, "the pickle ends early; the file is truncated")
        })?;
        let s = String::from_utf8(rest[..end].to_vec())
            .map_err(|_| Error::corrupt(FORMAT, "invalid UTF-8"))?;
        self.pos += end + 1;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pickle that doubles a list 40 times through the memo is refused, not expanded.
    #[test]
    fn memo_bombs_are_refused() {
        let mut pickle = vec![0x80, 2, b']', b'q', 0];
        for i in 0..40u8 {
            // [m_i, m_i] → memo i+1
            pickle.extend_from_slice(&[b'(', b'h', i, b'h', i, b'l', b'q', i + 1]);
        }
        pickle.push(b'.');
        match Unpickler::default().run(&pickle) {
            Ok(_) => panic!("a memo bomb was expanded"),
            Err(e) => assert!(e.to_string().contains("implausible"), "{e}"),
        }
    }

    #[test]
    fn truncated_pickles_are_refused() {
        let err = Unpickler::default()
            .run(&[0x80, 2, b'X', 10, 0, 0, 0, b'a'])
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
    }
}

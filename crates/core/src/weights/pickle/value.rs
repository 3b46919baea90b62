//! The values the restricted unpickler builds. Containers carry their nesting depth and their
//! size, kept up to date as they grow, so that neither a depth check nor a budget check has to
//! walk a (possibly deep) structure.

use half::{bf16, f16};

use crate::error::{Error, Result};

const FORMAT: &str = "PyTorch .pth";

/// Nesting of tuples/lists/dicts. A checkpoint nests a handful of levels (a wrapper dict, the
/// state dict, a tensor record's tuples); recursion over values (drop, clone) stays shallow.
pub(in crate::weights) const MAX_DEPTH: usize = 64;
/// Dimensions of a tensor record (ResNet weights have at most 4).
const MAX_RANK: usize = 8;

/// Element types a storage can hold.
#[derive(Debug, Clone, Copy)]
pub(in crate::weights) enum StorageType {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    U8,
}

impl StorageType {
    pub(in crate::weights) fn from_class(name: &str) -> Option<Self> {
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

    pub(in crate::weights) fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::U8 => 1,
        }
    }

    pub(in crate::weights) fn read(self, b: &[u8]) -> f32 {
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
pub(in crate::weights) struct StorageRef {
    pub(in crate::weights) key: String,
    pub(in crate::weights) dtype: StorageType,
}

#[derive(Debug, Clone)]
pub(in crate::weights) struct TensorRef {
    pub(in crate::weights) storage: StorageRef,
    pub(in crate::weights) offset: usize,
    pub(in crate::weights) shape: Vec<usize>,
    pub(in crate::weights) stride: Vec<usize>,
}

/// The Python values a state-dict pickle can build.
#[derive(Debug, Clone)]
pub(in crate::weights) enum Value {
    None,
    Bool,
    Int(i64),
    Float,
    Str(String),
    Bytes,
    Tuple(Node),
    List(Node),
    /// Keys and values alternate: `[k0, v0, k1, v1, ...]`.
    Dict(Node),
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
    pub(in crate::weights) fn describe(&self) -> String {
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

    /// Nesting depth: 0 for a scalar, 1 for a flat container.
    pub(in crate::weights) fn depth(&self) -> usize {
        match self {
            Value::Tuple(n) | Value::List(n) | Value::Dict(n) => n.depth,
            _ => 0,
        }
    }

    /// Bytes this value occupies, counting everything inside it (known without recursion).
    pub(in crate::weights) fn cost(&self) -> usize {
        VALUE_COST
            + match self {
                Value::Tuple(n) | Value::List(n) | Value::Dict(n) => n.cost,
                Value::Str(s) => s.len(),
                _ => 0,
            }
    }

    pub(in crate::weights) fn as_usize(&self, what: &str) -> Result<usize> {
        match self {
            // try_from, not `as`: usize is 32 bits in the browser.
            Value::Int(i) if usize::try_from(*i).is_ok() => Ok(*i as usize),
            other => Err(Error::corrupt(
                FORMAT,
                format!(
                    "{what} should be a non-negative int, found {}",
                    other.describe()
                ),
            )),
        }
    }

    pub(in crate::weights) fn as_usizes(&self, what: &str) -> Result<Vec<usize>> {
        match self {
            Value::Tuple(n) | Value::List(n) if n.items.len() <= MAX_RANK => {
                n.items.iter().map(|v| v.as_usize(what)).collect()
            }
            other => Err(Error::corrupt(
                FORMAT,
                format!(
                    "{what} should be a tuple of at most {MAX_RANK} ints, found {}",
                    other.describe()
                ),
            )),
        }
    }
}

/// A tuple's, list's or dict's items with their nesting depth and total size, kept up to date
/// so that neither needs a (possibly deep) walk over the items.
#[derive(Debug, Clone, Default)]
pub(in crate::weights) struct Node {
    pub(in crate::weights) items: Vec<Value>,
    depth: usize,
    cost: usize,
}

impl Node {
    pub(in crate::weights) fn new(items: Vec<Value>) -> Result<Self> {
        let mut node = Node {
            items: Vec::new(),
            depth: 1,
            cost: 0,
        };
        node.extend(items)?;
        Ok(node)
    }

    pub(in crate::weights) fn extend(&mut self, items: Vec<Value>) -> Result<()> {
        for item in &items {
            self.depth = self.depth.max(item.depth() + 1);
            self.cost = self.cost.saturating_add(item.cost());
        }
        if self.depth > MAX_DEPTH {
            return Err(Error::corrupt(
                FORMAT,
                format!("the pickle nests deeper than {MAX_DEPTH} levels; not a state dict"),
            ));
        }
        self.items.extend(items);
        Ok(())
    }
}

/// What one value costs besides its contents.
pub(in crate::weights) const VALUE_COST: usize = std::mem::size_of::<Value>();

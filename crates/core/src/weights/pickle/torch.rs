//! What the unpickler's few callables and persistent ids mean: PyTorch's storage records and
//! `_rebuild_tensor_v2` / `_rebuild_parameter`, and `OrderedDict`; every other callable is
//! refused by name.

use super::FORMAT;
use super::value::{Node, StorageRef, StorageType, TensorRef, Value};
use crate::error::{Error, Result};

/// `('storage', torch.FloatStorage, key, location, numel)` → a storage reference.
pub(super) fn persistent_storage(pid: Value) -> Result<StorageRef> {
    let Value::Tuple(node) = pid else {
        return Err(Error::corrupt(FORMAT, "persistent id is not a tuple"));
    };
    match node.items.as_slice() {
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
pub(super) fn reduce(callable: Value, args: Value) -> Result<Value> {
    let Value::Global { module, name } = callable else {
        return Err(Error::corrupt(
            FORMAT,
            format!("cannot call {}", callable.describe()),
        ));
    };
    let Value::Tuple(Node { items: args, .. }) = args else {
        return Err(Error::corrupt(FORMAT, "call arguments are not a tuple"));
    };
    match (module.as_str(), name.as_str()) {
        ("collections", "OrderedDict") => Ok(Value::Dict(Node::default())),
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

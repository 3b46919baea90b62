//! The restricted unpickler behind [`super::pth`]: a small stack machine that understands the
//! opcodes `torch.save` emits and the three callables a state dict needs (`OrderedDict`,
//! `_rebuild_tensor_v2`, `_rebuild_parameter`). Anything else is refused by name.
//!
//! The same code runs in a browser Web Worker with a 1 MiB stack, so a hostile pickle must not
//! recurse deeply or allocate without bound: containers carry their nesting depth and their
//! size, nesting is capped (64 levels), and every value created, memoized or recalled is
//! charged to one budget ([`MAX_WORK`]) *before* it is copied.

use std::collections::HashMap;

use crate::error::{Error, Result};

mod torch;
mod value;
use torch::{persistent_storage, reduce};
use value::VALUE_COST;
pub(super) use value::{Node, TensorRef, Value};

const FORMAT: &str = "PyTorch .pth";

/// Items on the pickle stack at once.
const MAX_STACK: usize = 1 << 20;
/// Bytes of values the pickle may create, memoize or recall in total (about a million values):
/// far above a ResNet-152 state dict (~20 thousand values), and it bounds both memory and time
/// for memo bombs (one value memoized or recalled many times, nested recalls growing
/// exponentially: a "billion laughs" pickle).
const MAX_WORK: usize = 64 << 20;

/// The pickle stack machine, restricted to what a state dict needs.
#[derive(Default)]
pub(super) struct Unpickler {
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
    /// Bytes of values created or copied so far, against [`MAX_WORK`].
    work: usize,
}

impl Unpickler {
    pub(super) fn run(mut self, data: &[u8]) -> Result<Value> {
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
                b'}' => self.push_new(Value::Dict(Node::default()))?,
                b']' => self.push_new(Value::List(Node::default()))?,
                b')' => self.push_new(Value::Tuple(Node::default()))?,
                b'(' => self.push_new(Value::Mark)?,
                b'N' => self.push_new(Value::None)?,
                0x88 | 0x89 => self.push_new(Value::Bool)?,
                b'K' => {
                    let v = r.u8()?;
                    self.push_new(Value::Int(v as i64))?
                }
                b'M' => {
                    let v = u16::from_le_bytes(r.array()?);
                    self.push_new(Value::Int(v as i64))?
                }
                b'J' => {
                    let v = i32::from_le_bytes(r.array()?);
                    self.push_new(Value::Int(v as i64))?
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
                    self.push_new(Value::Int(i64::from_le_bytes(buf)))?
                }
                b'G' => {
                    r.take(8)?;
                    self.push_new(Value::Float)?
                }
                b'X' => {
                    let n = u32::from_le_bytes(r.array()?) as usize;
                    let s = r.string(n)?;
                    self.push_new(Value::Str(s))?
                }
                0x8c => {
                    let n = r.u8()? as usize;
                    let s = r.string(n)?;
                    self.push_new(Value::Str(s))?
                }
                b'B' => {
                    let n = u32::from_le_bytes(r.array()?) as usize;
                    r.take(n)?;
                    self.push_new(Value::Bytes)?
                }
                b'C' => {
                    let n = r.u8()? as usize;
                    r.take(n)?;
                    self.push_new(Value::Bytes)?
                }
                b'c' => {
                    let module = r.line()?;
                    let name = r.line()?;
                    self.push_new(Value::Global { module, name })?
                }
                0x93 => {
                    let name = self.pop_str()?;
                    let module = self.pop_str()?;
                    self.push_new(Value::Global { module, name })?
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
                    self.push_built(Value::Tuple(Node::new(items)?))?
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(Error::corrupt(FORMAT, "pickle stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    if items.iter().any(|v| matches!(v, Value::Mark)) {
                        return Err(Error::corrupt(FORMAT, "pickle stack underflow"));
                    }
                    self.push_built(Value::Tuple(Node::new(items)?))?
                }
                b'l' => {
                    let items = self.pop_to_mark()?;
                    self.push_built(Value::List(Node::new(items)?))?
                }
                b'd' => {
                    let items = pairs(self.pop_to_mark()?)?;
                    self.push_built(Value::Dict(Node::new(items)?))?
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend(vec![v], false)?
                }
                b'e' => {
                    let items = self.pop_to_mark()?;
                    self.extend(items, false)?
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.extend(vec![k, v], true)?
                }
                b'u' => {
                    let items = pairs(self.pop_to_mark()?)?;
                    self.extend(items, true)?
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let storage = persistent_storage(pid)?;
                    self.push_built(Value::Storage(storage))?
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let result = reduce(callable, args)?;
                    self.push_built(result)?
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

    /// Charges `bytes` of newly created or copied values to the budget.
    fn spend(&mut self, bytes: usize) -> Result<()> {
        self.work = self.work.saturating_add(bytes);
        if self.work > MAX_WORK {
            return Err(Error::corrupt(
                FORMAT,
                "the pickle expands to an implausible size",
            ));
        }
        Ok(())
    }

    /// Pushes a value read from the bytes, charging all of it.
    fn push_new(&mut self, v: Value) -> Result<()> {
        self.spend(v.cost())?;
        self.stack.push(v);
        Ok(())
    }

    /// Pushes a value built from values already charged, charging only its own slot.
    fn push_built(&mut self, v: Value) -> Result<()> {
        self.spend(VALUE_COST)?;
        self.stack.push(v);
        Ok(())
    }

    fn memoize(&mut self, key: u32) -> Result<()> {
        let cost = self
            .stack
            .last()
            .ok_or_else(|| Error::corrupt(FORMAT, "pickle stack underflow"))?
            .cost();
        // The memo keeps a copy, so a copy is charged, before it is made.
        self.spend(cost)?;
        if let Some(top) = self.stack.last() {
            self.memo.insert(key, top.clone());
        }
        Ok(())
    }

    fn recall(&mut self, key: u32) -> Result<()> {
        let cost = self
            .memo
            .get(&key)
            .ok_or_else(|| Error::corrupt(FORMAT, format!("pickle memo key {key} is undefined")))?
            .cost();
        self.spend(cost)?;
        let v = self.memo[&key].clone();
        self.stack.push(v);
        Ok(())
    }

    /// APPEND(S) onto a list (`dict == false`) or SETITEM(S) onto a dict.
    fn extend(&mut self, items: Vec<Value>, dict: bool) -> Result<()> {
        match (self.stack.last_mut(), dict) {
            (Some(Value::List(node)), false) | (Some(Value::Dict(node)), true) => {
                node.extend(items)
            }
            (_, false) => Err(Error::corrupt(
                FORMAT,
                "APPEND onto something that is not a list",
            )),
            (_, true) => Err(Error::corrupt(
                FORMAT,
                "SETITEM onto something that is not a dict",
            )),
        }
    }
}

/// Checks that a dict's items come in key/value pairs.
fn pairs(items: Vec<Value>) -> Result<Vec<Value>> {
    if !items.len().is_multiple_of(2) {
        return Err(Error::corrupt(FORMAT, "odd number of items in a dict"));
    }
    Ok(items)
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

    /// Tuples nested a million deep are refused at the depth limit, without recursion.
    #[test]
    fn deep_nesting_is_refused() {
        let mut pickle = vec![0x80, 2];
        pickle.extend(std::iter::repeat_n(b'(', 100_000));
        pickle.extend(std::iter::repeat_n(b't', 100_000));
        pickle.push(b'.');
        let err = Unpickler::default().run(&pickle).unwrap_err().to_string();
        assert!(err.contains("nests deeper"), "{err}");
        let mut pickle = vec![0x80, 2, b')'];
        pickle.extend(std::iter::repeat_n(0x85, 100_000));
        pickle.push(b'.');
        let err = Unpickler::default().run(&pickle).unwrap_err().to_string();
        assert!(err.contains("nests deeper"), "{err}");
    }

    /// One large value memoized over and over is charged each time.
    #[test]
    fn repeated_memo_puts_are_budgeted() {
        let mut pickle = vec![0x80, 2, b'X'];
        pickle.extend_from_slice(&(1u32 << 20).to_le_bytes());
        pickle.extend(std::iter::repeat_n(b'a', 1 << 20));
        pickle.extend(std::iter::repeat_n([b'q', 0], 1000).flatten());
        pickle.push(b'.');
        let err = Unpickler::default().run(&pickle).unwrap_err().to_string();
        assert!(err.contains("implausible"), "{err}");
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

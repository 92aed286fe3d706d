//! A restricted pickle machine for the `data.pkl` that `torch.save` writes. It understands the
//! protocol-2 opcodes PyTorch emits (and the few protocol-4 framing ones) and builds plain values;
//! a `GLOBAL` is looked up in a short allow-list (`collections.OrderedDict`, the tensor and
//! parameter rebuild functions, `torch.Size`, the typed storage classes) the moment it is read,
//! and anything else stops the load with [`HeaderError::UnsafePickle`]. Nothing is ever called:
//! "calling" an allowed global builds the value it stands for — a tensor rebuild yields a
//! [`Tensor`] with its storage's dtype and its size tuple, never touching the storage's bytes.
//! Containers are shared (`Rc`) as in Python, so the memo and the stack see the same dict.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use super::header::HeaderError;

/// A storage named by a persistent id: `('storage', torch.FloatStorage, '0', 'cpu', 9408)`.
pub struct Storage {
    pub dtype: &'static str,
    pub key: String,
    pub numel: u64,
}

/// What `_rebuild_tensor_v2(storage, offset, size, stride, …)` describes.
pub struct Tensor {
    pub storage: Rc<Storage>,
    pub offset: u64,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
}

/// An allowed global.
#[derive(Clone, Copy)]
pub enum Global {
    OrderedDict,
    RebuildTensor,
    RebuildParameter,
    Size,
    Storage(&'static str),
}

/// A value on the stack. No `Debug`: shared containers may form cycles.
#[derive(Clone)]
pub enum Value {
    None,
    Bool,
    Int(i64),
    Float,
    Str(Rc<str>),
    Tuple(Rc<Vec<Value>>),
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Global(Global),
    Storage(Rc<Storage>),
    Tensor(Rc<Tensor>),
    /// Bytes, big integers and the results of calls that do not matter for weights.
    Other,
}

impl Value {
    /// For messages: what a value is.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool => "a bool",
            Value::Int(_) => "an int",
            Value::Float => "a float",
            Value::Str(_) => "a string",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
            Value::Global(_) => "a class or function",
            Value::Storage(_) => "a storage",
            Value::Tensor(_) => "a single tensor",
            Value::Other => "an object",
        }
    }

    fn int(&self) -> Option<i64> {
        if let Value::Int(i) = self { Some(*i) } else { None }
    }

    fn ints(&self) -> Option<Vec<usize>> {
        let Value::Tuple(items) = self else { return None };
        items.iter().map(|v| v.int().and_then(|i| usize::try_from(i).ok())).collect()
    }
}

/// The dtype (safetensors' spelling) of a typed storage class in `torch`.
fn storage_dtype(name: &str) -> Option<&'static str> {
    Some(match name {
        "FloatStorage" => "F32",
        "DoubleStorage" => "F64",
        "HalfStorage" => "F16",
        "BFloat16Storage" => "BF16",
        "LongStorage" => "I64",
        "IntStorage" => "I32",
        "ShortStorage" => "I16",
        "CharStorage" => "I8",
        "ByteStorage" => "U8",
        "BoolStorage" => "BOOL",
        _ => return None,
    })
}

/// The allow-list: anything else is refused before the next opcode is read.
fn global(file: &Path, module: &str, name: &str) -> Result<Global, HeaderError> {
    let allowed = match (module, name) {
        ("collections", "OrderedDict") => Some(Global::OrderedDict),
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => Some(Global::RebuildTensor),
        ("torch._utils", "_rebuild_parameter") => Some(Global::RebuildParameter),
        ("torch", "Size") => Some(Global::Size),
        ("torch", storage) => storage_dtype(storage).map(Global::Storage),
        _ => None,
    };
    allowed.ok_or_else(|| HeaderError::UnsafePickle { file: file.to_path_buf(), global: format!("{module}.{name}") })
}

/// Runs the pickle in `bytes` (the `data.pkl` of `file`) and returns its top value.
pub fn load(file: &Path, bytes: &[u8]) -> Result<Value, HeaderError> {
    Machine { file, bytes, pos: 0, op_at: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new() }.run()
}

struct Machine<'a> {
    file: &'a Path,
    bytes: &'a [u8],
    pos: usize,
    /// Offset of the opcode being run, for errors.
    op_at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
}

impl Machine<'_> {
    fn run(mut self) -> Result<Value, HeaderError> {
        loop {
            self.op_at = self.pos;
            let op = self.take(1)?[0];
            if op == b'.' {
                return self.pop();
            }
            self.step(op)?;
        }
    }

    /// One opcode (other than STOP).
    fn step(&mut self, op: u8) -> Result<(), HeaderError> {
        match op {
            0x80 => drop(self.take(1)?),                  // PROTO
            0x95 => drop(self.take(8)?),                  // FRAME
            b'c' => self.read_global()?,                  // GLOBAL
            0x93 => self.stack_global()?,                 // STACK_GLOBAL
            b'q' | b'r' | 0x94 => self.put(op)?,          // BINPUT, LONG_BINPUT, MEMOIZE
            b'h' | b'j' => self.get(op)?,                 // BINGET, LONG_BINGET
            b'(' => self.marks.push(self.stack.len()),    // MARK
            b'0' => drop(self.pop()?),                    // POP
            b'1' => drop(self.pop_mark()?),               // POP_MARK
            b'2' => self.stack.push(self.top()?.clone()), // DUP
            b'N' => self.stack.push(Value::None),         // NONE
            0x88 | 0x89 => self.stack.push(Value::Bool),  // NEWTRUE, NEWFALSE
            b'J' | b'K' | b'M' | 0x8a => self.int(op)?,   // BININT, BININT1, BININT2, LONG1
            b'G' => self.skip(8, Value::Float)?,          // BINFLOAT
            b'X' | 0x8c | 0x8d => self.string(op)?,       // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
            b'B' | b'C' => self.bytes(op)?,               // BINBYTES, SHORT_BINBYTES
            b')' | b't' | 0x85..=0x87 => self.tuple(op)?, // EMPTY_TUPLE, TUPLE, TUPLE1..3
            b']' | b'l' | b'a' | b'e' => self.list(op)?,  // EMPTY_LIST, LIST, APPEND, APPENDS
            b'}' | b'd' | b's' | b'u' => self.dict(op)?,  // EMPTY_DICT, DICT, SETITEM, SETITEMS
            b'Q' => self.persistent_id()?,                // BINPERSID
            b'R' => self.reduce()?,                       // REDUCE
            b'b' => drop(self.pop()?),                    // BUILD: attributes do not matter
            _ => {
                let (file, offset) = (self.file.to_path_buf(), self.op_at);
                return Err(HeaderError::UnsupportedOpcode { file, opcode: op, offset });
            }
        }
        Ok(())
    }

    fn bad(&self, problem: impl Into<String>) -> HeaderError {
        HeaderError::BadPickle { file: self.file.to_path_buf(), offset: self.op_at, problem: problem.into() }
    }

    fn take(&mut self, n: u64) -> Result<&[u8], HeaderError> {
        let end = usize::try_from(n).ok().and_then(|n| self.pos.checked_add(n)).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| self.bad("the pickle ends in the middle of an opcode"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn uint(&mut self, n: u64) -> Result<u64, HeaderError> {
        Ok(self.take(n)?.iter().rev().fold(0, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn pop(&mut self) -> Result<Value, HeaderError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.bad("the stack is empty above the mark"));
        }
        self.stack.pop().ok_or_else(|| self.bad("the stack is empty"))
    }

    fn top(&self) -> Result<&Value, HeaderError> {
        self.stack.last().ok_or_else(|| self.bad("the stack is empty"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, HeaderError> {
        let mark = self.marks.pop().ok_or_else(|| self.bad("no mark"))?;
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn line(&mut self) -> Result<String, HeaderError> {
        let rest = &self.bytes[self.pos..];
        let len = rest.iter().position(|&b| b == b'\n').ok_or_else(|| self.bad("GLOBAL without a newline"))?;
        let text = String::from_utf8_lossy(&rest[..len]).into_owned();
        self.pos += len + 1;
        Ok(text)
    }

    fn read_global(&mut self) -> Result<(), HeaderError> {
        let (module, name) = (self.line()?, self.line()?);
        self.stack.push(Value::Global(global(self.file, &module, &name)?));
        Ok(())
    }

    fn stack_global(&mut self) -> Result<(), HeaderError> {
        let (name, module) = (self.pop()?, self.pop()?);
        let (Value::Str(module), Value::Str(name)) = (module, name) else {
            return Err(self.bad("STACK_GLOBAL needs two strings"));
        };
        self.stack.push(Value::Global(global(self.file, &module, &name)?));
        Ok(())
    }

    fn put(&mut self, op: u8) -> Result<(), HeaderError> {
        let index = match op {
            b'q' => self.uint(1)?,
            b'r' => self.uint(4)?,
            _ => self.memo.len() as u64,
        };
        let value = self.top()?.clone();
        self.memo.insert(index, value);
        Ok(())
    }

    fn get(&mut self, op: u8) -> Result<(), HeaderError> {
        let index = self.uint(if op == b'h' { 1 } else { 4 })?;
        let value = self.memo.get(&index).cloned().ok_or_else(|| self.bad(format!("memo {index} was never set")))?;
        self.stack.push(value);
        Ok(())
    }

    fn int(&mut self, op: u8) -> Result<(), HeaderError> {
        let value = match op {
            b'J' => Value::Int(i64::from(self.uint(4)? as u32 as i32)),
            b'K' => Value::Int(self.uint(1)? as i64),
            b'M' => Value::Int(self.uint(2)? as i64),
            _ => {
                let n = self.uint(1)?;
                let raw = self.take(n)?;
                match raw.len() {
                    0 => Value::Int(0),
                    // Two's complement, little-endian: sign-extend from the last byte.
                    1..=8 => Value::Int(
                        raw.iter()
                            .rev()
                            .fold(if raw[raw.len() - 1] >= 0x80 { -1 } else { 0 }, |acc, &b| (acc << 8) | i64::from(b)),
                    ),
                    _ => Value::Other,
                }
            }
        };
        self.stack.push(value);
        Ok(())
    }

    /// An argument of `n` bytes that does not matter: push `value` for it.
    fn skip(&mut self, n: u64, value: Value) -> Result<(), HeaderError> {
        self.take(n)?;
        self.stack.push(value);
        Ok(())
    }

    fn string(&mut self, op: u8) -> Result<(), HeaderError> {
        let n = match op {
            b'X' => self.uint(4)?,
            0x8c => self.uint(1)?,
            _ => self.uint(8)?,
        };
        let text = std::str::from_utf8(self.take(n)?).map(Rc::from).map_err(|_| self.bad("a string is not UTF-8"))?;
        self.stack.push(Value::Str(text));
        Ok(())
    }

    fn bytes(&mut self, op: u8) -> Result<(), HeaderError> {
        let n = self.uint(if op == b'B' { 4 } else { 1 })?;
        self.skip(n, Value::Other)
    }

    fn tuple(&mut self, op: u8) -> Result<(), HeaderError> {
        let items = match op {
            b')' => Vec::new(),
            b't' => self.pop_mark()?,
            _ => {
                let mut items = (0..op - 0x84).map(|_| self.pop()).collect::<Result<Vec<_>, _>>()?;
                items.reverse();
                items
            }
        };
        self.stack.push(Value::Tuple(Rc::new(items)));
        Ok(())
    }

    fn list(&mut self, op: u8) -> Result<(), HeaderError> {
        let items = match op {
            b'a' => vec![self.pop()?],
            b'e' | b'l' => self.pop_mark()?,
            _ => Vec::new(),
        };
        if op == b']' || op == b'l' {
            self.stack.push(Value::List(Rc::new(RefCell::new(items))));
            return Ok(());
        }
        let Value::List(list) = self.top()? else { return Err(self.bad("APPEND to something that is not a list")) };
        list.borrow_mut().extend(items);
        Ok(())
    }

    fn dict(&mut self, op: u8) -> Result<(), HeaderError> {
        let items = match op {
            b'}' => Vec::new(),
            b's' => {
                let value = self.pop()?;
                vec![self.pop()?, value]
            }
            _ => self.pop_mark()?,
        };
        if items.len() % 2 != 0 {
            return Err(self.bad("a dict with a key but no value"));
        }
        let mut items = items.into_iter();
        let pairs = std::iter::from_fn(|| Some((items.next()?, items.next()?)));
        if op == b'}' || op == b'd' {
            self.stack.push(Value::Dict(Rc::new(RefCell::new(pairs.collect()))));
            return Ok(());
        }
        let Value::Dict(dict) = self.top()? else { return Err(self.bad("SETITEM on something that is not a dict")) };
        dict.borrow_mut().extend(pairs);
        Ok(())
    }

    fn persistent_id(&mut self) -> Result<(), HeaderError> {
        let pid = self.pop()?;
        let storage = match &pid {
            Value::Tuple(t) => match t.as_slice() {
                [Value::Str(tag), Value::Global(Global::Storage(dtype)), Value::Str(key), _, Value::Int(numel)]
                    if &**tag == "storage" && *numel >= 0 =>
                {
                    Some(Storage { dtype, key: key.to_string(), numel: *numel as u64 })
                }
                _ => None,
            },
            _ => None,
        };
        let storage = storage.ok_or_else(|| self.bad("a persistent id that is not a tensor storage"))?;
        self.stack.push(Value::Storage(Rc::new(storage)));
        Ok(())
    }

    fn reduce(&mut self) -> Result<(), HeaderError> {
        let (args, callee) = (self.pop()?, self.pop()?);
        let (Value::Global(callee), Value::Tuple(args)) = (callee, args) else {
            return Err(self.bad("REDUCE needs a class or function and a tuple of arguments"));
        };
        let value = match (callee, args.as_slice()) {
            (Global::OrderedDict, []) => Value::Dict(Rc::default()),
            (Global::RebuildTensor, [Value::Storage(storage), offset, size, stride, ..]) => {
                let (offset, shape, stride) = (offset.int(), size.ints(), stride.ints());
                let (Some(offset), Some(shape), Some(stride)) = (offset, shape, stride) else {
                    return Err(self.bad("a tensor rebuild with a malformed offset, size or stride"));
                };
                let offset = u64::try_from(offset).map_err(|_| self.bad("a negative storage offset"))?;
                Value::Tensor(Rc::new(Tensor { storage: storage.clone(), offset, shape, stride }))
            }
            (Global::RebuildTensor, _) => return Err(self.bad("a tensor rebuild without a storage")),
            (Global::RebuildParameter, [tensor @ Value::Tensor(_), ..]) => tensor.clone(),
            (Global::Size, [size @ Value::Tuple(_)]) => size.clone(),
            _ => Value::Other,
        };
        self.stack.push(value);
        Ok(())
    }
}

//! The D-Bus wire format (little-endian), for just the types systemd's calls need:
//! `y b u t s o g`, arrays, structs and variants.
//!
//! A message is a 16-byte fixed header (`l`, type, flags, version 1, body length, serial), an
//! array of header fields `a(yv)` padded to 8 bytes, then the body. Every value is aligned to
//! its own size (structs and `t` to 8, arrays' lengths and `u` to 4) relative to the start of
//! the message; the body starts 8-aligned, so aligning relative to the body gives the same
//! offsets.

/// A D-Bus value. Arrays carry their element signature so that an empty one still marshals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    U32(u32),
    U64(u64),
    Str(String),
    Path(String),
    Sig(String),
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    Variant(Box<Value>),
}

impl Value {
    /// The value's type signature.
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::U32(_) => "u".into(),
            Value::U64(_) => "t".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Sig(_) => "g".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::Variant(_) => "v".into(),
        }
    }

    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    /// The string inside a `s`, `o` or `g`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            Value::Variant(v) => v.as_str(),
            _ => None,
        }
    }
}

/// Appends marshalled values to a buffer whose offset 0 is 8-aligned in the message.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::U32(n) => self.u32(*n),
            Value::U64(n) => {
                self.pad(8);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::Str(s) | Value::Path(s) => self.string(s),
            Value::Sig(s) => {
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Array(elem, items) => {
                self.pad(4);
                let len_at = self.buf.len();
                self.buf.extend_from_slice(&[0; 4]);
                // The length excludes the padding before the first element, which is there
                // even when the array is empty.
                self.pad(alignment(elem.as_bytes()[0]));
                let start = self.buf.len();
                for item in items {
                    self.value(item);
                }
                let len = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.value(f);
                }
            }
            Value::Variant(inner) => {
                self.value(&Value::Sig(inner.signature()));
                self.value(inner);
            }
        }
    }
}

/// The alignment of a type by its first signature byte.
fn alignment(code: u8) -> usize {
    match code {
        b'y' | b'g' | b'v' => 1,
        b't' | b'x' | b'd' | b'(' | b'{' => 8,
        _ => 4,
    }
}

/// A malformed message.
#[derive(Debug, thiserror::Error)]
#[error("malformed D-Bus message: {0}")]
pub struct WireError(pub String);

/// Reads values from a received message; `pos` is relative to an 8-aligned start.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| WireError("truncated".into()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn align(&mut self, a: usize) -> Result<(), WireError> {
        let pad = (a - self.pos % a) % a;
        self.take(pad).map(drop)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        self.align(4)?;
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn text(&mut self, len: usize) -> Result<String, WireError> {
        let b = self.take(len + 1)?;
        String::from_utf8(b[..len].to_vec()).map_err(|_| WireError("string is not UTF-8".into()))
    }

    /// Reads every value of a signature (several complete types in a row).
    pub fn values(&mut self, sig: &str) -> Result<Vec<Value>, WireError> {
        let mut out = Vec::new();
        let mut rest = sig.as_bytes();
        while !rest.is_empty() {
            let (one, tail) = split_type(rest)?;
            out.push(self.value(one)?);
            rest = tail;
        }
        Ok(out)
    }

    fn value(&mut self, sig: &[u8]) -> Result<Value, WireError> {
        Ok(match sig[0] {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'u' | b'i' => Value::U32(self.u32()?),
            b't' | b'x' => {
                self.align(8)?;
                let b = self.take(8)?;
                Value::U64(u64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let s = self.text(len)?;
                if sig[0] == b's' {
                    Value::Str(s)
                } else {
                    Value::Path(s)
                }
            }
            b'g' => {
                let len = self.take(1)?[0] as usize;
                Value::Sig(self.text(len)?)
            }
            b'v' => {
                let len = self.take(1)?[0] as usize;
                let inner = self.text(len)?;
                let (one, tail) = split_type(inner.as_bytes())?;
                if !tail.is_empty() {
                    return Err(WireError(format!("variant signature {inner:?}")));
                }
                Value::Variant(Box::new(self.value(one)?))
            }
            b'a' => {
                let len = self.u32()? as usize;
                let elem = &sig[1..];
                self.align(alignment(elem[0]))?;
                let end = self.pos + len;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem)?);
                }
                if self.pos != end {
                    return Err(WireError("array overruns its length".into()));
                }
                Value::Array(String::from_utf8_lossy(elem).into_owned(), items)
            }
            b'(' | b'{' => {
                self.align(8)?;
                let inner = &sig[1..sig.len() - 1];
                let text = std::str::from_utf8(inner).map_err(|_| WireError("signature".into()))?;
                Value::Struct(self.values(text)?)
            }
            c => return Err(WireError(format!("unsupported type {:?}", c as char))),
        })
    }
}

/// Splits the first complete type off a signature.
fn split_type(sig: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let bad = || WireError(format!("bad signature {:?}", String::from_utf8_lossy(sig)));
    let mut depth = 0usize;
    for (i, &c) in sig.iter().enumerate() {
        match c {
            b'a' => continue,
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth = depth.checked_sub(1).ok_or_else(bad)?,
            _ => {}
        }
        if depth == 0 {
            return Ok(sig.split_at(i + 1));
        }
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: Value) {
        let mut w = Writer::default();
        w.value(&v);
        let back = Reader::new(&w.buf).values(&v.signature()).unwrap();
        assert_eq!(back, vec![v]);
    }

    #[test]
    fn empty_array_of_structs_keeps_its_padding_out_of_the_length() {
        let mut w = Writer::default();
        w.value(&Value::Array("(sv)".into(), vec![]));
        // length 0, then padding to 8 for the (absent) first struct.
        assert_eq!(w.buf, vec![0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn string_is_length_bytes_and_nul() {
        let mut w = Writer::default();
        w.value(&Value::Byte(1));
        w.value(&Value::str("ab"));
        assert_eq!(w.buf, vec![1, 0, 0, 0, 2, 0, 0, 0, b'a', b'b', 0]);
    }

    #[test]
    fn property_array_roundtrips() {
        roundtrip(Value::Array(
            "(sv)".into(),
            vec![
                Value::Struct(vec![
                    Value::str("MemoryMax"),
                    Value::Variant(Box::new(Value::U64(1 << 30))),
                ]),
                Value::Struct(vec![
                    Value::str("PIDs"),
                    Value::Variant(Box::new(Value::Array("u".into(), vec![Value::U32(42)]))),
                ]),
                Value::Struct(vec![
                    Value::str("AllowedCPUs"),
                    Value::Variant(Box::new(Value::Array("y".into(), vec![Value::Byte(3)]))),
                ]),
            ],
        ));
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut w = Writer::default();
        w.value(&Value::str("hello"));
        for cut in 0..w.buf.len() {
            assert!(Reader::new(&w.buf[..cut]).values("s").is_err());
        }
    }
}

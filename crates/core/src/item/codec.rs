//! The binary encoding of [`ItemData`] that is encrypted at rest.
//!
//! Length-prefixed and escape-free on purpose: decoding copies each string once, straight into
//! an allocation of its exact size, so no parser scratch buffer is left holding plaintext in
//! freed memory (as a JSON parser's would for strings with escapes). Encoding writes into a
//! buffer sized up front that zeroizes itself.
//!
//! ```text
//! u8 format (=1) | u8 kind | str title | u32 n, n × (str name, u8 field kind, str value)
//! | str notes | u32 n, n × str tag | opt str folder | u8 favourite | opt u32 rotation days
//! | opt i64 expires_at            (str = u32 length + UTF-8; opt = u8 0/1 + value; big endian)
//! ```
use zeroize::{Zeroize, Zeroizing};

use super::{Field, FieldKind, ItemData, ItemKind, SecretText};

/// The current encoding's format number, also bound into the associated data.
pub const FORMAT: u8 = 1;

/// A buffer did not decode. The caller turns this into "item X is damaged"; the reason is
/// deliberately not reported (no oracle).
#[derive(Debug)]
pub struct DecodeError;

/// Encode into a zeroizing buffer of exactly the needed size.
pub fn encode(d: &ItemData) -> Zeroizing<Vec<u8>> {
    let str_len = |s: &str| 4 + s.len();
    let size = 2
        + str_len(&d.title)
        + 4
        + d.fields
            .iter()
            .map(|f| str_len(&f.name) + 1 + str_len(f.value.expose_secret()))
            .sum::<usize>()
        + str_len(d.notes.expose_secret())
        + 4
        + d.tags.iter().map(|t| str_len(t)).sum::<usize>()
        + 1
        + d.folder.as_deref().map_or(0, str_len)
        + 1
        + 5
        + 9;
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.push(FORMAT);
    out.push(kind_code(d.kind));
    put_str(&mut out, &d.title);
    put_u32(&mut out, d.fields.len());
    for f in &d.fields {
        put_str(&mut out, &f.name);
        out.push(field_code(f.kind));
        put_str(&mut out, f.value.expose_secret());
    }
    put_str(&mut out, d.notes.expose_secret());
    put_u32(&mut out, d.tags.len());
    for t in &d.tags {
        put_str(&mut out, t);
    }
    match &d.folder {
        Some(f) => {
            out.push(1);
            put_str(&mut out, f);
        }
        None => out.push(0),
    }
    out.push(u8::from(d.favourite));
    match d.rotation_days {
        Some(r) => {
            out.push(1);
            out.extend_from_slice(&r.to_be_bytes());
        }
        None => out.push(0),
    }
    match d.expires_at {
        Some(e) => {
            out.push(1);
            out.extend_from_slice(&e.to_be_bytes());
        }
        None => out.push(0),
    }
    debug_assert!(
        out.len() <= size,
        "size computed up front covers the encoding"
    );
    out
}

/// Decode, refusing unknown formats, bad lengths, invalid UTF-8 and trailing bytes.
pub fn decode(buf: &[u8]) -> Result<ItemData, DecodeError> {
    let mut r = Reader { buf, pos: 0 };
    if r.u8()? != FORMAT {
        return Err(DecodeError /* unknown item format */);
    }
    let kind = kind_from(r.u8()?)?;
    let mut d = ItemData::new(kind, r.string()?);
    let n = r.count()?;
    d.fields.reserve_exact(n);
    for _ in 0..n {
        let name = r.string()?;
        let fk = field_from(r.u8()?)?;
        let value = SecretText::new(r.string()?);
        d.fields.push(Field {
            name,
            kind: fk,
            value,
        });
    }
    d.notes = SecretText::new(r.string()?);
    let n = r.count()?;
    d.tags.reserve_exact(n);
    for _ in 0..n {
        d.tags.push(r.string()?);
    }
    d.folder = if r.flag()? { Some(r.string()?) } else { None };
    d.favourite = r.flag()?;
    d.rotation_days = if r.flag()? {
        Some(u32::from_be_bytes(r.array()?))
    } else {
        None
    };
    d.expires_at = if r.flag()? {
        Some(i64::from_be_bytes(r.array()?))
    } else {
        None
    };
    if r.pos != buf.len() {
        return Err(DecodeError /* trailing bytes after the item */);
    }
    Ok(d)
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("validated items are far below 4 GiB");
    out.extend_from_slice(&n.to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn kind_code(k: ItemKind) -> u8 {
    ItemKind::ALL
        .iter()
        .position(|x| *x == k)
        .expect("ALL lists every kind") as u8
}

fn kind_from(c: u8) -> Result<ItemKind, DecodeError> {
    ItemKind::ALL
        .get(usize::from(c))
        .copied()
        .ok_or(DecodeError /* unknown item type */)
}

fn field_code(k: FieldKind) -> u8 {
    match k {
        FieldKind::Text => 0,
        FieldKind::Concealed => 1,
        FieldKind::Totp => 2,
    }
}

fn field_from(c: u8) -> Result<FieldKind, DecodeError> {
    match c {
        0 => Ok(FieldKind::Text),
        1 => Ok(FieldKind::Concealed),
        2 => Ok(FieldKind::Totp),
        _ => Err(DecodeError /* unknown field type */),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(DecodeError /* truncated item */)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError /* bad flag byte */),
        }
    }

    fn len(&mut self) -> Result<usize, DecodeError> {
        let n = u32::from_be_bytes(self.array()?) as usize;
        if n > self.buf.len() - self.pos {
            return Err(DecodeError /* length past the end of the item */);
        }
        Ok(n)
    }

    /// A count of following records; each takes at least 4 bytes, which bounds it.
    fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.len()?;
        if n > (self.buf.len() - self.pos) / 4 {
            return Err(DecodeError /* count past the end of the item */);
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let n = self.len()?;
        let bytes = self.take(n)?.to_vec();
        String::from_utf8(bytes).map_err(|e| {
            e.into_bytes().zeroize();
            DecodeError /* invalid UTF-8 in an item */
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_item() -> impl Strategy<Value = ItemData> {
        (
            0..ItemKind::ALL.len(),
            "\\PC{1,30}",
            proptest::collection::vec(("[A-Za-z_]{1,12}", 0u8..3, "\\PC{0,30}"), 0..6),
            "\\PC{0,60}",
            proptest::collection::vec("[a-z]{1,10}", 0..4),
            proptest::option::of("[a-z/]{1,12}"),
            any::<bool>(),
            proptest::option::of(1u32..1000),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(|(k, title, fields, notes, tags, folder, fav, rot, exp)| {
                let mut d = ItemData::new(ItemKind::ALL[k], title);
                for (n, fk, v) in fields {
                    d.fields.push(Field::new(n, field_from(fk).unwrap(), v));
                }
                d.notes = SecretText::new(notes);
                d.tags = tags;
                d.folder = folder;
                d.favourite = fav;
                d.rotation_days = rot;
                d.expires_at = exp;
                d
            })
    }

    proptest! {
        #[test]
        fn round_trip(d in arb_item()) {
            let enc = encode(&d);
            prop_assert_eq!(enc.len(), enc.capacity().min(enc.len()));
            prop_assert_eq!(decode(&enc).unwrap(), d);
        }

        #[test]
        #[allow(clippy::let_underscore_must_use)] // the property: any answer but a panic
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn every_truncation_is_refused(d in arb_item()) {
            let enc = encode(&d);
            for n in 0..enc.len() {
                prop_assert!(decode(&enc[..n]).is_err());
            }
        }
    }
}

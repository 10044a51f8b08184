//! `otpauth://totp/...` URIs: the Key Uri Format that authenticator apps read from QR codes.
//!
//! `otpauth://totp/LABEL?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`, where
//! `LABEL` is `account` or `Issuer:account` (the colon literal or `%3A`, optionally followed by
//! spaces). Label and values are percent-decoded as UTF-8; in the query, `+` also means a space,
//! as HTML forms write it. The `issuer` parameter wins over the label's prefix when both are
//! present. Unknown parameters (`image`, `color`...) are ignored; a known one given twice is an
//! error, since the two could disagree.
use zeroize::Zeroizing;

use super::{base32, TotpAlgorithm, TotpSpec};
use crate::error::{Error, Result};

/// Parse an `otpauth://` URI; the caller has checked the scheme.
pub(super) fn parse(uri: &str) -> Result<TotpSpec> {
    let rest = strip_prefix_ignore_case(uri, "otpauth://").ok_or_else(|| {
        Error::Invalid("an otpauth URI starts with \"otpauth://totp/\"; check the start".into())
    })?;
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (kind, label) = path.split_once('/').unwrap_or((path, ""));
    if kind.eq_ignore_ascii_case("hotp") {
        return Err(Error::Invalid(
            "this is an HOTP (counter-based) URI; Tessera generates only time-based (TOTP) codes"
                .into(),
        ));
    }
    if !kind.eq_ignore_ascii_case("totp") {
        return Err(Error::Invalid(format!(
            "unknown one-time password type {kind:?} in the URI; only otpauth://totp/ is supported"
        )));
    }

    let mut secret: Option<Zeroizing<String>> = None;
    let mut issuer: Option<String> = None;
    let mut algorithm = None;
    let mut digits = None;
    let mut period = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let key = key.to_ascii_lowercase();
        let duplicate = match key.as_str() {
            "secret" => secret
                .replace(decode_component(raw, true, "secret")?)
                .is_some(),
            "issuer" => issuer.replace(decode_plain(raw, true, "issuer")?).is_some(),
            "algorithm" => algorithm.replace(parse_algorithm(raw)?).is_some(),
            "digits" => digits
                .replace(parse_number(raw, "digits", "use 6, 7 or 8")?)
                .is_some(),
            "period" => period
                .replace(parse_number(raw, "period", super::PERIOD_HINT)?)
                .is_some(),
            _ => false,
        };
        if duplicate {
            return Err(Error::Invalid(format!(
                "the URI gives the {key:?} parameter twice; keep one"
            )));
        }
    }
    let secret = secret.ok_or_else(|| {
        Error::Invalid("the otpauth URI has no secret parameter; it can't make codes".into())
    })?;

    let (prefix, account) = split_label(label)?;
    let issuer = issuer.filter(|i| !i.trim().is_empty()).or(prefix);
    let digits = match digits {
        Some(d) => u8::try_from(d).map_err(|_| super::digits_error(d))?,
        None => super::DEFAULT_DIGITS,
    };
    let period = match period {
        Some(p) => u32::try_from(p).map_err(|_| super::period_error(p))?,
        None => super::DEFAULT_PERIOD,
    };
    TotpSpec::new(
        base32::decode(&secret)?,
        algorithm.unwrap_or_default(),
        digits,
        period,
    )?
    .with_label(issuer.as_deref(), &account)
}

/// Split a raw label at its first colon (literal or `%3A`) into issuer prefix and account.
fn split_label(raw: &str) -> Result<(Option<String>, String)> {
    let colon = [":", "%3A", "%3a"]
        .iter()
        .filter_map(|sep| raw.find(sep).map(|at| (at, sep.len())))
        .min();
    Ok(match colon {
        Some((at, len)) => (
            Some(decode_plain(&raw[..at], false, "label")?),
            decode_plain(&raw[at + len..], false, "label")?,
        ),
        None => (None, decode_plain(raw, false, "label")?),
    })
}

fn parse_algorithm(raw: &str) -> Result<TotpAlgorithm> {
    let name = decode_plain(raw, true, "algorithm")?;
    match name.to_ascii_uppercase().as_str() {
        "SHA1" => Ok(TotpAlgorithm::Sha1),
        "SHA256" => Ok(TotpAlgorithm::Sha256),
        "SHA512" => Ok(TotpAlgorithm::Sha512),
        _ => Err(Error::Invalid(format!(
            "unknown TOTP algorithm {name:?}; use SHA1, SHA256 or SHA512"
        ))),
    }
}

fn parse_number(raw: &str, what: &str, hint: &str) -> Result<u64> {
    let text = decode_plain(raw, true, what)?;
    text.trim().parse().map_err(|_| {
        Error::Invalid(format!(
            "the TOTP {what} value {text:?} is not a whole number; {hint}"
        ))
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// [`decode_component`] for values that are not secret.
fn decode_plain(raw: &str, plus_is_space: bool, what: &str) -> Result<String> {
    Ok(std::mem::take(&mut *decode_component(
        raw,
        plus_is_space,
        what,
    )?))
}

/// Percent-decode one URI component as UTF-8; in the query, `+` is a space. The result is moved,
/// never copied, out of a zeroizing buffer.
fn decode_component(raw: &str, plus_is_space: bool, what: &str) -> Result<Zeroizing<String>> {
    let bad = || {
        Error::Invalid(format!(
            "the otpauth URI's {what} has a broken %-escape or is not UTF-8 once decoded; \
             copy the URI again"
        ))
    };
    let bytes = raw.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or_else(bad)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&out).map_err(|_| bad())?;
    let text = String::from_utf8(std::mem::take(&mut *out))
        .expect("the bytes were checked to be UTF-8 just above");
    Ok(Zeroizing::new(text))
}

/// Whether `b` passes through percent-encoding unchanged (RFC 3986 unreserved).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn encoded_len(s: &str) -> usize {
    s.bytes().map(|b| if unreserved(b) { 1 } else { 3 }).sum()
}

fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// The URI of `spec`, written into a buffer of exactly its final size.
pub(super) fn emit(spec: &TotpSpec) -> Zeroizing<String> {
    const SCHEME: &str = "otpauth://totp/";
    let algorithm = spec.algorithm.as_str();
    let digits = spec.digits.to_string();
    let period = spec.period.to_string();
    let issuer_len = spec.issuer.as_deref().map_or(0, encoded_len);
    let len = SCHEME.len()
        + spec.issuer.as_ref().map_or(0, |_| issuer_len + 1)
        + encoded_len(&spec.account)
        + "?secret=".len()
        + base32::encoded_len(spec.secret.len())
        + spec
            .issuer
            .as_ref()
            .map_or(0, |_| "&issuer=".len() + issuer_len)
        + "&algorithm=".len()
        + algorithm.len()
        + "&digits=".len()
        + digits.len()
        + "&period=".len()
        + period.len();
    let mut out = Zeroizing::new(String::with_capacity(len));
    let capacity = out.capacity();
    out.push_str(SCHEME);
    if let Some(issuer) = &spec.issuer {
        encode_into(&mut out, issuer);
        out.push(':');
    }
    encode_into(&mut out, &spec.account);
    out.push_str("?secret=");
    base32::encode_into(&mut out, &spec.secret);
    if let Some(issuer) = &spec.issuer {
        out.push_str("&issuer=");
        encode_into(&mut out, issuer);
    }
    for (key, value) in [
        ("&algorithm=", algorithm),
        ("&digits=", &digits),
        ("&period=", &period),
    ] {
        out.push_str(key);
        out.push_str(value);
    }
    debug_assert_eq!(out.len(), len, "the length was computed up front");
    debug_assert_eq!(out.capacity(), capacity, "the buffer never reallocates");
    out
}

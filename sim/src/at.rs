//! Parsing of AT command lines as the module receives them.

use std::ops::RangeInclusive;

/// One parameter of a write command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arg {
    pub text: String,
    pub quoted: bool,
}

impl Arg {
    /// The parameter as an integer within `range`.
    pub fn int(&self, range: RangeInclusive<u32>) -> Option<u32> {
        if self.quoted {
            return None;
        }
        self.text.parse().ok().filter(|v| range.contains(v))
    }

    /// The parameter as a quoted string no longer than `max` bytes.
    pub fn string(&self, max: usize) -> Option<&str> {
        (self.quoted && self.text.len() <= max).then_some(self.text.as_str())
    }
}

/// The form of an extended command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Form {
    /// `AT+CMD`
    Exec,
    /// `AT+CMD?`
    Read,
    /// `AT+CMD=?`
    Test,
    /// `AT+CMD=<p1>[,<p2>...]`
    Write(Vec<Arg>),
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// Basic command: what follows `AT` (`""`, `E0`, `O`, `&D1`, ...), upper-cased.
    Basic(String),
    /// Extended command: name without `+`, upper-cased, and its form.
    Extended(String, Form),
    /// Not a command line the module understands.
    Invalid,
}

/// Parses one command line (without its terminating CR). Returns `None`
/// for an empty line (the module ignores it); anything else that does not
/// start with `AT`, such as a `+++` sent in command mode, is `Invalid`.
pub(crate) fn parse_line(line: &[u8]) -> Option<Line> {
    let Ok(text) = std::str::from_utf8(line) else {
        return Some(Line::Invalid);
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let Some(body) = text.get(..2).filter(|p| p.eq_ignore_ascii_case("AT")) else {
        return Some(Line::Invalid);
    };
    let body = &text[body.len()..];
    let Some(ext) = body.strip_prefix('+') else {
        return Some(Line::Basic(body.to_ascii_uppercase()));
    };
    let name_end = ext.find(['=', '?']).unwrap_or(ext.len());
    let name = ext[..name_end].to_ascii_uppercase();
    let form = match &ext[name_end..] {
        "" => Form::Exec,
        "?" => Form::Read,
        "=?" => Form::Test,
        rest => match rest.strip_prefix('=').and_then(parse_args) {
            Some(args) => Form::Write(args),
            None => return Some(Line::Invalid),
        },
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some(Line::Invalid);
    }
    Some(Line::Extended(name, form))
}

/// Splits `a,"b,c",d` into parameters; `None` on an unterminated quote or
/// text after a closing quote.
fn parse_args(text: &str) -> Option<Vec<Arg>> {
    let mut args = Vec::new();
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        let (arg, after) = if let Some(inner) = trimmed.strip_prefix('"') {
            let end = inner.find('"')?;
            let arg = Arg { text: inner[..end].to_owned(), quoted: true };
            (arg, inner[end + 1..].trim_start())
        } else {
            let end = trimmed.find(',').unwrap_or(trimmed.len());
            let arg = Arg { text: trimmed[..end].trim().to_owned(), quoted: false };
            (arg, &trimmed[end..])
        };
        args.push(arg);
        match after.strip_prefix(',') {
            Some(next) => rest = next,
            None if after.is_empty() => return Some(args),
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(parse_line(b"ATE0"), Some(Line::Basic("E0".into())));
        assert_eq!(parse_line(b"at+cpin?"), Some(Line::Extended("CPIN".into(), Form::Read)));
        assert_eq!(parse_line(b"AT+QFTPCFG=?"), Some(Line::Extended("QFTPCFG".into(), Form::Test)));
        let Some(Line::Extended(name, Form::Write(args))) = parse_line(br#"AT+QFTPCFG="account","a,b",12"#) else {
            panic!("not a write");
        };
        assert_eq!(name, "QFTPCFG");
        assert_eq!(args.len(), 3);
        assert_eq!(args[1].string(10), Some("a,b"));
        assert_eq!(args[2].int(0..=20), Some(12));
        assert_eq!(parse_line(br#"AT+X="open"#), Some(Line::Invalid));
        assert_eq!(parse_line(b"hello"), Some(Line::Invalid));
        assert_eq!(parse_line(b"+++"), Some(Line::Invalid));
        assert_eq!(parse_line(b" \t"), None);
        assert_eq!(parse_line(b""), None);
    }
}

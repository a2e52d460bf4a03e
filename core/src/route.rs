//! Which requirement a route selects, read from the route's metadata as Envoy hands it to a wasm
//! filter (`xds.route_metadata`: a serialized `envoy.config.core.v3.Metadata`). A wasm filter
//! cannot read a per-route typed config, so the route table says it in
//! `filter_metadata: { warden: { requirement: NAME } }` or `{ warden: { disabled: true } }`
//! (jwt_authn's per-route `requirement_name` / `disabled`).
//!
//! A small protobuf reader of our own: only the messages on the way (`Metadata`, its map entries,
//! `google.protobuf.Struct` and `Value`), every length checked, no recursion.

use std::fmt;

/// The metadata key under `filter_metadata` that Warden reads.
pub const METADATA_KEY: &str = "warden";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteChoice {
    /// No `warden` metadata (or `disabled: false` without a requirement): the path rules decide.
    PathRules,
    /// `disabled: true`: no check on this route.
    Disabled,
    /// `requirement: NAME`: the named requirement applies instead of the path rules.
    Requirement(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataError {
    /// Not a well-formed protobuf of the expected shape.
    Malformed,
    /// `warden.<field>` holds a value of the wrong type.
    WrongType(&'static str),
    /// Both `disabled: true` and a `requirement`.
    Conflict,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::Malformed => f.write_str("route metadata is not a readable Metadata"),
            MetadataError::WrongType(field) => write!(
                f,
                "route metadata warden.{field} has the wrong type ({})",
                if *field == "disabled" {
                    "want a bool"
                } else {
                    "want a string"
                }
            ),
            MetadataError::Conflict => {
                f.write_str("route metadata sets both warden.disabled and warden.requirement")
            }
        }
    }
}

/// The route's `warden` metadata as an adapter read it: the serialized `Metadata` a wasm host
/// hands over, or the two values a host that reads metadata by key (Envoy's dynamic modules)
/// found.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteMetadata {
    Protobuf(Vec<u8>),
    Values {
        requirement: MetadataValue,
        disabled: MetadataValue,
    },
}

impl RouteMetadata {
    pub fn choice(&self) -> Result<RouteChoice, MetadataError> {
        match self {
            RouteMetadata::Protobuf(bytes) => decode_route_metadata(bytes),
            RouteMetadata::Values {
                requirement,
                disabled,
            } => choose(requirement.clone(), disabled.clone()),
        }
    }
}

/// Decodes `xds.route_metadata`. Empty input (a route without metadata) selects the path rules.
pub fn decode_route_metadata(bytes: &[u8]) -> Result<RouteChoice, MetadataError> {
    // Metadata { map<string, Struct> filter_metadata = 1; ... }: the last `warden` entry wins,
    // as protobuf map semantics say.
    let mut warden: Option<&[u8]> = None;
    for field in Fields::new(bytes) {
        let (number, value) = field?;
        if let (1, Wire::Len(entry)) = (number, value) {
            let (key, value) = map_entry(entry)?;
            if key == Some(METADATA_KEY.as_bytes()) {
                warden = Some(value.unwrap_or(&[]));
            }
        }
    }
    let Some(warden) = warden else {
        return Ok(RouteChoice::PathRules);
    };
    // Struct { map<string, Value> fields = 1; }
    let mut requirement = MetadataValue::Null;
    let mut disabled = MetadataValue::Null;
    for field in Fields::new(warden) {
        let (number, value) = field?;
        let (1, Wire::Len(entry)) = (number, value) else {
            continue;
        };
        let (key, value) = map_entry(entry)?;
        let slot = match key {
            Some(b"requirement") => &mut requirement,
            Some(b"disabled") => &mut disabled,
            _ => continue,
        };
        *slot = value_kind(value.unwrap_or(&[]))?;
    }
    choose(requirement, disabled)
}

/// The choice `warden.requirement` and `warden.disabled` make (absent reads as null).
fn choose(
    requirement: MetadataValue,
    disabled: MetadataValue,
) -> Result<RouteChoice, MetadataError> {
    let disabled = match disabled {
        MetadataValue::Null => false,
        MetadataValue::Bool(b) => b,
        _ => return Err(MetadataError::WrongType("disabled")),
    };
    let requirement = match requirement {
        MetadataValue::Null => None,
        MetadataValue::String(s) => Some(s),
        _ => return Err(MetadataError::WrongType("requirement")),
    };
    match (disabled, requirement) {
        (true, Some(_)) => Err(MetadataError::Conflict),
        (true, None) => Ok(RouteChoice::Disabled),
        (false, Some(name)) => Ok(RouteChoice::Requirement(name)),
        (false, None) => Ok(RouteChoice::PathRules),
    }
}

/// A map entry's key and value bytes, each when present.
type Entry<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// A map entry message: `key = 1` (string), `value = 2` (message); last occurrence wins.
fn map_entry(entry: &[u8]) -> Result<Entry<'_>, MetadataError> {
    let mut key = None;
    let mut value = None;
    for field in Fields::new(entry) {
        match field? {
            (1, Wire::Len(k)) => key = Some(k),
            (2, Wire::Len(v)) => value = Some(v),
            (1 | 2, _) => return Err(MetadataError::Malformed),
            _ => {}
        }
    }
    if key.is_some_and(|k| std::str::from_utf8(k).is_err()) {
        return Err(MetadataError::Malformed);
    }
    Ok((key, value))
}

/// The kinds of `google.protobuf.Value` Warden tells apart (an absent value is `Null`).
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    Null,
    Bool(bool),
    String(String),
    Other,
}

/// `Value { oneof kind { NullValue null_value = 1; double number_value = 2; string string_value
/// = 3; bool bool_value = 4; Struct struct_value = 5; ListValue list_value = 6; } }`; the last
/// member present wins, as for any oneof. An empty Value has no kind: read as null.
fn value_kind(value: &[u8]) -> Result<MetadataValue, MetadataError> {
    let mut kind = MetadataValue::Null;
    for field in Fields::new(value) {
        kind = match field? {
            (1, Wire::Varint(_)) => MetadataValue::Null,
            (2, Wire::Fixed64) => MetadataValue::Other,
            (3, Wire::Len(s)) => MetadataValue::String(
                std::str::from_utf8(s)
                    .map_err(|_| MetadataError::Malformed)?
                    .to_string(),
            ),
            (4, Wire::Varint(b)) => MetadataValue::Bool(b != 0),
            (5 | 6, Wire::Len(_)) => MetadataValue::Other,
            (1..=6, _) => return Err(MetadataError::Malformed),
            _ => continue,
        };
    }
    Ok(kind)
}

#[derive(Debug, PartialEq)]
enum Wire<'a> {
    Varint(u64),
    Fixed64,
    Len(&'a [u8]),
    Fixed32,
}

/// The fields of one message, in order; a malformed field ends the walk with an error.
struct Fields<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Fields<'a> {
        Fields {
            rest: bytes,
            failed: false,
        }
    }

    fn field(&mut self) -> Option<(u64, Wire<'a>)> {
        let tag = self.varint()?;
        let number = tag >> 3;
        if number == 0 {
            return None;
        }
        let wire = match tag & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed64
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                Wire::Len(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed32
            }
            // Groups (3, 4) are long deprecated and never in Metadata; 6 and 7 do not exist.
            _ => return None,
        };
        Some((number, wire))
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let (&byte, rest) = self.rest.split_first()?;
            self.rest = rest;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte may carry only the top bit of a u64.
            if i == 9 && byte > 1 {
                return None;
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Wire<'a>), MetadataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match self.field() {
            Some(f) => Some(Ok(f)),
            None => {
                self.failed = true;
                Some(Err(MetadataError::Malformed))
            }
        }
    }
}

#[cfg(test)]
mod tests;

//! How `warden-verifier admin …` prints answers (a short table or the JSON as it came) and
//! writes values into URLs and forms.

use serde_json::Value;

/// `value` as a short human table: an object's scalar fields one per line (`name  value`), then
/// each list of objects as a table (a header of the fields, one row per object).
pub fn table(value: &Value) -> String {
    let Value::Object(fields) = value else {
        return format!("{}\n", scalar(value));
    };
    let is_list =
        |field: &Value| matches!(field, Value::Array(items) if items.iter().all(Value::is_object));
    let width = fields
        .iter()
        .filter(|(_, field)| !is_list(field))
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let mut lists = Vec::new();
    for (name, field) in fields {
        match field {
            Value::Array(items) if is_list(field) => lists.push((name, items)),
            _ => out.push_str(&format!("{name:<width$}  {}\n", scalar(field))),
        }
    }
    for (name, items) in lists {
        out.push_str(&format!("{name}:"));
        if items.is_empty() {
            out.push_str(" (none)\n");
            continue;
        }
        out.push('\n');
        let mut columns: Vec<&String> = Vec::new();
        for item in items {
            if let Value::Object(item) = item {
                for key in item.keys() {
                    if !columns.contains(&key) {
                        columns.push(key);
                    }
                }
            }
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|item| {
                columns
                    .iter()
                    .map(|c| item.get(c.as_str()).map_or(String::new(), scalar))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                rows.iter()
                    .filter_map(|r| r.get(i).map(String::len))
                    .chain([c.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let joined: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            format!("  {}\n", joined.join("  ").trim_end())
        };
        out.push_str(&line(columns.iter().map(|c| c.as_str()).collect()));
        for row in &rows {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
    }
    out
}

/// A value in one cell: strings without quotes, `null` as `-`, the rest as JSON.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `text` percent-encoded for a URL path segment or a form value (RFC 3986 unreserved kept).
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The `message` of an error answer (`{"error", "message"}`), else its code, else the body.
pub fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(answer) => match (answer.get("message"), answer.get("error")) {
            (Some(Value::String(message)), Some(Value::String(code))) => {
                format!("{message} ({code})")
            }
            (Some(Value::String(message)), _) => message.clone(),
            (_, Some(Value::String(code))) => code.clone(),
            _ => answer.to_string(),
        },
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_are_one_per_line_and_lists_are_tables() {
        let text = table(&json!({
            "sub": "alice",
            "sessions": [
                {"sid": "s1", "device": "laptop", "expires_at": 10},
                {"sid": "s22", "expires_at": 20}
            ],
            "n": null
        }));
        assert!(text.contains("sub  alice\n"), "{text}");
        assert!(text.contains("n    -\n"), "{text}");
        assert!(text.contains("sessions:\n"), "{text}");
        assert!(
            text.contains(
                "  device  expires_at  sid\n  laptop  10          s1\n          20          s22\n"
            ),
            "{text}"
        );
        assert_eq!(
            table(&json!({"sessions": []})),
            "sessions: (none)\n".to_owned()
        );
        assert_eq!(table(&json!(3)), "3\n");
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode_component("auth0|a b/c"), "auth0%7Ca%20b%2Fc");
        assert_eq!(encode_component("a-Z_0.~"), "a-Z_0.~");
    }

    #[test]
    fn error_messages_come_from_the_error_json() {
        assert_eq!(
            error_message(br#"{"error":"unauthorized","message":"bad token"}"#),
            "bad token (unauthorized)"
        );
        assert_eq!(error_message(b"oops\n"), "oops");
    }
}

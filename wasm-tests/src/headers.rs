//! An ordered, multi-valued header map with case-insensitive names, as Envoy keeps them.

use std::fmt;

/// Header pairs in order. Names are stored lower-case (Envoy lower-cases header names);
/// lookups ignore case.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    pairs: Vec<(String, String)>,
}

impl HeaderMap {
    pub fn new() -> Self {
        HeaderMap::default()
    }

    /// Builds a map from `(name, value)` pairs, lower-casing the names.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Self {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.add(name.as_ref(), value.as_ref());
        }
        map
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Appends a value (keeps existing values of the same name).
    pub fn add(&mut self, name: &str, value: &str) {
        self.pairs
            .push((name.to_ascii_lowercase(), value.to_owned()));
    }

    /// Replaces every value of `name` with one value (adds it when absent), as Envoy's
    /// `proxy_replace_header_map_value` does.
    pub fn replace(&mut self, name: &str, value: &str) {
        match self
            .pairs
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(first) => {
                if let Some(slot) = self.pairs.get_mut(first) {
                    slot.1 = value.to_owned();
                }
                let mut index = 0;
                self.pairs.retain(|(n, _)| {
                    let keep = index <= first || !n.eq_ignore_ascii_case(name);
                    index += 1;
                    keep
                });
            }
            None => self.add(name, value),
        }
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        self.pairs.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.pairs.iter().map(|(n, v)| format!("{n}: {v}")))
            .finish()
    }
}

impl fmt::Display for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.pairs {
            writeln!(f, "{name}: {value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_case_and_names_are_lowered() {
        let map =
            HeaderMap::from_pairs(&[("Authorization", "Bearer x"), ("X-A", "1"), ("x-a", "2")]);
        assert_eq!(map.get("authorization"), Some("Bearer x"));
        assert_eq!(map.get_all("X-a"), vec!["1", "2"]);
        assert_eq!(map.pairs()[0].0, "authorization");
    }

    #[test]
    fn replace_keeps_one_value_in_place() {
        let mut map = HeaderMap::from_pairs(&[("a", "1"), ("b", "x"), ("a", "2")]);
        map.replace("A", "3");
        assert_eq!(
            map.pairs(),
            &[
                ("a".to_owned(), "3".to_owned()),
                ("b".to_owned(), "x".to_owned())
            ]
        );
        map.replace("c", "new");
        assert_eq!(map.get("c"), Some("new"));
        map.remove("a");
        assert!(!map.contains("a"));
        assert_eq!(map.len(), 2);
    }
}

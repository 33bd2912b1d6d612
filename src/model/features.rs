//! A dashboard's feature flags (`GET /config` `features`): a handful of
//! names, kept as a small sorted list rather than a map (a map's node is
//! several hundred bytes, held for every Flink service of a scan).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features(Vec<(Box<str>, bool)>);

impl Features {
    pub fn get(&self, name: &str) -> Option<&bool> {
        self.find(name).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    pub fn insert(&mut self, name: String, on: bool) {
        match self.find(&name) {
            Ok(i) => self.0[i].1 = on,
            Err(i) => self.0.insert(i, (name.into_boxed_str(), on)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<bool> {
        self.find(name).ok().map(|i| self.0.remove(i).1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, bool)> {
        self.0.iter().map(|(k, v)| (&**k, *v))
    }

    /// Drop spare capacity: the list is kept for the rest of the scan.
    pub fn shrink(&mut self) {
        self.0.shrink_to_fit();
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(name))
    }
}

impl Serialize for Features {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Features {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, bool>::deserialize(deserializer)?;
        Ok(Features(
            map.into_iter()
                .map(|(k, v)| (k.into_boxed_str(), v))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written and read like the map it replaces, in name order.
    #[test]
    fn features_read_and_write_as_a_map() {
        let mut f = Features::default();
        f.insert("web-submit".into(), true);
        f.insert("web-cancel".into(), false);
        f.insert("web-submit".into(), false);
        assert_eq!(f.get("web-submit"), Some(&false));
        assert!(f.contains_key("web-cancel") && !f.contains_key("web-rescale"));
        let json = serde_json::to_string(&f).unwrap_or_default();
        assert_eq!(json, r#"{"web-cancel":false,"web-submit":false}"#);
        let back: Features = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, f);
        f.remove("web-cancel");
        assert_eq!(f.iter().collect::<Vec<_>>(), [("web-submit", false)]);
    }
}

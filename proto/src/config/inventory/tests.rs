use std::collections::BTreeSet;

use super::*;

#[test]
fn every_key_of_every_struct_has_exactly_one_status() {
    let mut problems = Vec::new();
    for section in sections() {
        let real: BTreeSet<String> = (section.real_keys)().into_iter().collect();
        assert!(!real.is_empty(), "{}: no keys found", section.name);
        let listed: Vec<&str> = section.keys.iter().map(|(k, _)| *k).collect();
        let listed_set: BTreeSet<&str> = listed.iter().copied().collect();
        if listed_set.len() != listed.len() {
            problems.push(format!("{}: a key is listed twice", section.name));
        }
        for key in &real {
            if !listed_set.contains(key.as_str()) {
                problems.push(format!("{}: `{key}` has no status", section.name));
            }
        }
        for key in &listed_set {
            if !real.contains(*key) {
                problems.push(format!(
                    "{}: `{key}` has a status but the struct has no such key",
                    section.name
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn keys_are_read_from_the_deserialize_impl() {
    let keys = keys_of::<crate::config::task::TableRef>();
    assert_eq!(keys, ["db-name", "tbl-name"]);
    assert!(keys_of::<u32>().is_empty());
}

#[test]
fn a_key_is_set_only_when_it_differs_from_its_default() {
    let base = defaults::<crate::config::Security>();
    let mut security = crate::config::Security::default();
    assert!(set_keys(&security, &base).is_empty());
    security.ssl_ca = "/ca.pem".into();
    assert_eq!(set_keys(&security, &base), ["ssl-ca"]);
}

#[test]
fn reasons_say_what_to_do() {
    for section in sections() {
        for (key, status) in section.keys {
            if let Status::Refused(m) = status {
                assert!(m.starts_with("is not supported yet: "), "{key}: {m}");
                assert!(m.contains("remove"), "{key}: {m}");
            }
            if let Status::NoOp(m) = status {
                assert!(!m.is_empty(), "{key}");
            }
        }
    }
}

/// README.md's list of refused and no-op keys is generated from the
/// tables; `DM_UPDATE_README=1` rewrites it.
#[test]
fn readme_lists_every_refused_and_no_op_key() {
    const START: &str = "<!-- key-inventory:start -->\n";
    const END: &str = "<!-- key-inventory:end -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let start = readme
        .find(START)
        .expect("README has the inventory markers")
        + START.len();
    let end = readme.find(END).expect("README has the end marker");
    let expected = readme_table();
    if readme[start..end] != expected {
        if std::env::var_os("DM_UPDATE_README").is_some() {
            let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, updated).expect("README.md written");
        } else {
            panic!("README.md's key inventory is out of date; run with DM_UPDATE_README=1");
        }
    }
}

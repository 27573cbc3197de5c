//! Flag overrides as a job types them (`NAME=VALUE`, `@FILE`), typed like `vercel flags override`:
//! shared by `flags` and `storage-state`, so both send `flags/encrypt-override` the same object.

use serde_json::{Map, Value};

use crate::error::{CliError, Result};

/// The flags object: `NAME=VALUE` pairs and `@FILE` objects, each name at most once.
pub(crate) fn parse(items: &[String]) -> Result<Map<String, Value>> {
    let mut flags = Map::new();
    let mut add = |name: &str, value: Value| -> Result<()> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(CliError::config(format!(
                "{name:?} is not a flag name: pass NAME=VALUE"
            )));
        }
        if flags.insert(name.to_owned(), value).is_some() {
            return Err(CliError::config(format!("flag {name:?} is given twice")));
        }
        Ok(())
    };
    for item in items {
        if let Some(path) = item.strip_prefix('@') {
            let text = std::fs::read_to_string(path)
                .map_err(|err| CliError::config(format!("cannot read {path}: {err}")))?;
            let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&text) else {
                return Err(CliError::config(format!(
                    "{path} is not a JSON object of flag overrides"
                )));
            };
            for (name, value) in object {
                add(&name, value)?;
            }
            continue;
        }
        let (name, raw) = item.split_once('=').ok_or_else(|| {
            CliError::config(format!(
                "{item:?} is not NAME=VALUE (or @FILE with a JSON object)"
            ))
        })?;
        add(name.trim(), typed(raw))?;
    }
    Ok(flags)
}

/// `true`/`false`, numbers and JSON parse as such; anything else is the string itself.
fn typed(raw: &str) -> Value {
    serde_json::from_str(raw.trim()).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn values_are_typed_like_the_vercel_cli() {
        let flags = parse(&strings(&[
            "newCheckout=true",
            "off=false",
            "limit=42",
            "ratio=0.5",
            r#"variant={"a":1}"#,
            "list=[1,2]",
            "name=blue",
            r#"quoted="7""#,
            "empty=",
            "eq=a=b",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(flags),
            json!({"newCheckout": true, "off": false, "limit": 42, "ratio": 0.5,
                   "variant": {"a": 1}, "list": [1, 2], "name": "blue", "quoted": "7",
                   "empty": "", "eq": "a=b"})
        );
    }

    #[test]
    fn bad_items_name_the_fix() {
        for bad in [&["novalue"][..], &["=1"], &["a=1", "a=2"]] {
            let err = parse(&strings(bad)).unwrap_err();
            assert_eq!(err.kind, crate::error::Kind::Config, "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flags.json");
        std::fs::write(&file, r#"{"fromFile": true}"#).unwrap();
        let arg = format!("@{}", file.display());
        let flags = parse(&[arg.clone(), "other=1".into()]).unwrap();
        assert_eq!(Value::Object(flags), json!({"fromFile": true, "other": 1}));
        std::fs::write(&file, "[1]").unwrap();
        assert!(parse(&[arg]).is_err());
    }
}

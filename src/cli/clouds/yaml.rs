//! Reading `clouds.yaml` and `secure.yaml`: parsed (YAML, or JSON, which is YAML), checked to
//! be mappings with a `clouds:` mapping, and deep-merged as openstacksdk merges them
//! (`_util.merge_clouds`: nested mappings merge key by key, anything else is replaced), so a
//! password kept in `secure.yaml` joins its cloud's `auth`.
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::ImportError;

/// The configuration as read: where it came from and its merged clouds, by name.
#[derive(Debug)]
pub struct CloudsConfig {
    pub clouds_file: PathBuf,
    pub secure_file: Option<PathBuf>,
    pub clouds: Map<String, Value>,
}

/// Reads and parses one file. Errors name the file and, for bad YAML, the line and column.
/// A message never quotes the file's text: `secure.yaml` holds passwords.
pub fn read_document(path: &Path) -> Result<Map<String, Value>, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_document(path, &text)
}

pub fn parse_document(path: &Path, text: &str) -> Result<Map<String, Value>, ImportError> {
    let value: Value = serde_saphyr::from_str(text).map_err(|e| syntax_error(path, &e))?;
    match value {
        Value::Object(map) => Ok(map),
        // openstacksdk: "Configuration file … is empty or not a valid mapping".
        Value::Null => Err(ImportError::Shape {
            path: path.to_path_buf(),
            detail: "it is empty".into(),
        }),
        _ => Err(ImportError::Shape {
            path: path.to_path_buf(),
            detail: "it is not a mapping".into(),
        }),
    }
}

fn syntax_error(path: &Path, e: &serde_saphyr::Error) -> ImportError {
    // Without the snippet: it would quote the lines around the error, perhaps a password.
    let plain = e.without_snippet();
    let location = plain.location().or_else(|| e.location());
    let message = plain.to_string();
    // The plain message starts with "line L column C: "; the location is given apart.
    let message = message
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("line ") || head.starts_with("error: line "))
        .map(|(_, rest)| rest.to_string())
        .unwrap_or(message);
    ImportError::Syntax {
        path: path.to_path_buf(),
        line: location.map(|l| l.line()).unwrap_or(0),
        column: location.map(|l| l.column()).unwrap_or(0),
        message,
    }
}

/// openstacksdk's `merge_clouds`: `over` wins, nested mappings are merged key by key.
pub fn merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The `clouds:` mapping of a document (`None` when it has none).
fn clouds_of(
    path: &Path,
    doc: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, ImportError> {
    match doc.get("clouds") {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(ImportError::Shape {
            path: path.to_path_buf(),
            detail: "its `clouds` is not a mapping".into(),
        }),
    }
}

/// The clouds of `clouds_file` with `secure_file` merged in.
pub fn load(
    clouds_file: PathBuf,
    secure_file: Option<PathBuf>,
) -> Result<CloudsConfig, ImportError> {
    let mut doc = read_document(&clouds_file)?;
    if let Some(secure) = &secure_file {
        let secrets = read_document(secure)?;
        clouds_of(secure, &secrets)?;
        merge(&mut doc, &secrets);
    }
    let clouds = clouds_of(&clouds_file, &doc)?.ok_or_else(|| ImportError::Shape {
        path: clouds_file.clone(),
        detail: "it has no `clouds:` mapping".into(),
    })?;
    Ok(CloudsConfig {
        clouds_file,
        secure_file,
        clouds,
    })
}

impl CloudsConfig {
    /// The clouds named in `only` (all when empty), in file order; a name the file lacks is an
    /// error listing those it has.
    pub fn select(&self, only: &[String]) -> Result<Vec<(&str, &Value)>, ImportError> {
        if let Some(missing) = only.iter().find(|n| !self.clouds.contains_key(n.as_str())) {
            return Err(ImportError::UnknownCloud {
                name: missing.clone(),
                path: self.clouds_file.clone(),
                known: self.clouds.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        Ok(self
            .clouds
            .iter()
            .filter(|(name, _)| only.is_empty() || only.contains(name))
            .map(|(name, v)| (name.as_str(), v))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(text: &str) -> Map<String, Value> {
        parse_document(Path::new("clouds.yaml"), text).unwrap()
    }

    #[test]
    fn secure_yaml_is_deep_merged_into_the_clouds() {
        let mut base = doc(
            "clouds:\n  prod:\n    auth:\n      auth_url: https://k:5000/v3\n      username: ops\n    region_name: east\n  lab:\n    auth: {username: lab}\n",
        );
        let secure =
            doc("clouds:\n  prod:\n    auth:\n      password: s3cret\n    region_name: west\n");
        merge(&mut base, &secure);
        assert_eq!(
            base["clouds"]["prod"],
            json!({"auth": {"auth_url": "https://k:5000/v3", "username": "ops", "password": "s3cret"},
                   "region_name": "west"})
        );
        assert_eq!(base["clouds"]["lab"], json!({"auth": {"username": "lab"}}));
    }

    #[test]
    fn bad_yaml_names_the_file_and_line_and_quotes_no_text() {
        let err = parse_document(
            Path::new("/etc/openstack/secure.yaml"),
            "clouds:\n  prod:\n    auth: {password: hunter2\n  lab: 1\n",
        )
        .unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with("/etc/openstack/secure.yaml:4:"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        match err {
            ImportError::Syntax { line, .. } => assert_eq!(line, 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_document_must_be_a_mapping() {
        for text in ["", "- a\n- b\n", "just text"] {
            let err = parse_document(Path::new("c.yaml"), text).unwrap_err();
            assert!(matches!(err, ImportError::Shape { .. }), "{text:?}: {err}");
        }
    }

    #[test]
    fn json_is_read_too() {
        let d = doc(r#"{"clouds": {"j": {"auth": {"auth_url": "https://k/v3"}}}}"#);
        assert_eq!(d["clouds"]["j"]["auth"]["auth_url"], "https://k/v3");
    }

    #[test]
    fn yaml_1_1_booleans_read_as_pyyaml_reads_them() {
        let d = doc("clouds:\n  a:\n    verify: no\n    insecure: yes\n");
        assert_eq!(d["clouds"]["a"]["verify"], json!(false));
        assert_eq!(d["clouds"]["a"]["insecure"], json!(true));
    }

    #[test]
    fn an_unknown_cloud_name_lists_the_known_ones() {
        let cfg = CloudsConfig {
            clouds_file: "clouds.yaml".into(),
            secure_file: None,
            clouds: doc("clouds:\n  prod: {}\n  lab: {}\n")["clouds"]
                .as_object()
                .unwrap()
                .clone(),
        };
        let err = cfg.select(&["stage".into()]).unwrap_err().to_string();
        assert!(
            err.contains("\"stage\"") && err.contains("lab, prod"),
            "{err}"
        );
        let picked: Vec<&str> = cfg
            .select(&["prod".into()])
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(picked, ["prod"]);
        assert_eq!(cfg.select(&[]).unwrap().len(), 2);
    }
}

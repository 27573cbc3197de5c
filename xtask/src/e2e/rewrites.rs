//! The `rewrites` of a project's `vercel.json`, applied as Vercel's edge applies them, for the
//! subset of path-to-regexp sources Vercel projects use: literal segments, `:name`, and a trailing
//! `:name*` / `:name+`. A source outside that subset is an error, so the rig never routes a
//! request differently from Vercel without saying so.
//!
//! A rewrite whose destination is a function (`/api/<name>` for a file `api/<name>.<ext>`) sends
//! the request to that function with its original path, which is how the CI-in-preview function
//! sees `/api/~/ci/health`; any other destination is served by the app under the new path.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::flags::{Result, failed};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `:name`: one segment.
    One(String),
    /// `:name*` (`at_least_one` false) or `:name+`: the rest of the path.
    Rest {
        name: String,
        at_least_one: bool,
    },
}

#[derive(Debug, Clone)]
struct Rewrite {
    source: Vec<Segment>,
    destination: String,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    /// The app, at this path (and the original query).
    App(String),
    /// A function, by its path (`/api/ci-in-preview`); it sees the original path.
    Function(String),
}

/// The rewrites of one `vercel.json`, and the project's functions.
#[derive(Debug, Clone)]
pub(super) struct Rewrites {
    rules: Vec<Rewrite>,
    functions: Vec<String>,
}

impl Rewrites {
    /// Parses `vercel.json`'s text; `functions` are the project's function paths (`/api/NAME`).
    pub(super) fn parse(vercel_json: &str, functions: Vec<String>) -> Result<Rewrites> {
        let json: Value = serde_json::from_str(vercel_json)
            .map_err(|e| failed(format!("vercel.json is not JSON: {e}")))?;
        let mut rules = Vec::new();
        for (i, rule) in json["rewrites"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let (Some(source), Some(destination)) =
                (rule["source"].as_str(), rule["destination"].as_str())
            else {
                return Err(failed(format!(
                    "vercel.json rewrites[{i}] needs `source` and `destination` strings"
                )));
            };
            if rule.get("has").is_some() || rule.get("missing").is_some() {
                return Err(failed(format!(
                    "vercel.json rewrites[{i}]: `has`/`missing` conditions are not emulated"
                )));
            }
            rules.push(Rewrite {
                source: parse_source(source).map_err(|why| {
                    failed(format!("vercel.json rewrites[{i}] {source:?}: {why}"))
                })?,
                destination: destination.to_owned(),
            });
        }
        Ok(Rewrites { rules, functions })
    }

    /// Where a request for `path` goes: the first rewrite whose source matches, else the path
    /// itself (a function's own path reaches the function).
    pub(super) fn route(&self, path: &str) -> Route {
        let target = self
            .rules
            .iter()
            .find_map(|rule| {
                matches(&rule.source, path).map(|params| substitute(&rule.destination, &params))
            })
            .unwrap_or_else(|| path.to_owned());
        if self.functions.contains(&target) {
            Route::Function(target)
        } else {
            Route::App(target)
        }
    }
}

fn parse_source(source: &str) -> std::result::Result<Vec<Segment>, String> {
    let Some(rest) = source.strip_prefix('/') else {
        return Err("a source starts with `/`".to_owned());
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let segment = match part.strip_prefix(':') {
            None if part.contains(['(', ')', '*', '+', '?', ':']) => {
                return Err(format!("segment {part:?} is outside the emulated subset"));
            }
            None => Segment::Literal((*part).to_owned()),
            Some(name) if name.ends_with('*') || name.ends_with('+') => {
                if !last {
                    return Err(
                        "`:name*` and `:name+` are emulated as the last segment only".into(),
                    );
                }
                Segment::Rest {
                    name: name[..name.len() - 1].to_owned(),
                    at_least_one: name.ends_with('+'),
                }
            }
            Some(name) if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                Segment::One(name.to_owned())
            }
            Some(_) => return Err(format!("segment {part:?} is outside the emulated subset")),
        };
        segments.push(segment);
    }
    Ok(segments)
}

fn matches(source: &[Segment], path: &str) -> Option<BTreeMap<String, String>> {
    let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let mut params = BTreeMap::new();
    for (i, segment) in source.iter().enumerate() {
        match segment {
            Segment::Literal(literal) => {
                if parts.get(i) != Some(&literal.as_str()) {
                    return None;
                }
            }
            Segment::One(name) => {
                let part = parts.get(i).filter(|p| !p.is_empty())?;
                params.insert(name.clone(), (*part).to_owned());
            }
            Segment::Rest { name, at_least_one } => {
                let rest = parts.get(i..).unwrap_or_default().join("/");
                if *at_least_one && rest.is_empty() {
                    return None;
                }
                params.insert(name.clone(), rest);
                return Some(params);
            }
        }
    }
    (parts.len() == source.len()).then_some(params)
}

fn substitute(destination: &str, params: &BTreeMap<String, String>) -> String {
    destination
        .split('/')
        .map(|part| {
            let name = part
                .strip_prefix(':')
                .map(|n| n.trim_end_matches(['*', '+', '?']));
            match name.and_then(|n| params.get(n)) {
                Some(value) => value.clone(),
                None => part.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Rewrites {
        Rewrites::parse(
            r#"{"rewrites": [
                {"source": "/api/~/ci/:path*", "destination": "/api/ci-in-preview"},
                {"source": "/blog/:slug", "destination": "/posts/:slug"}
            ]}"#,
            vec!["/api/ci-in-preview".to_owned()],
        )
        .unwrap()
    }

    #[test]
    fn ci_routes_reach_the_function_and_the_rest_the_app() {
        let rewrites = example();
        for path in [
            "/api/~/ci/health",
            "/api/~/ci/flags/encrypt-override",
            "/api/~/ci",
        ] {
            assert_eq!(
                rewrites.route(path),
                Route::Function("/api/ci-in-preview".into()),
                "{path}"
            );
        }
        assert_eq!(
            rewrites.route("/api/ci-in-preview"),
            Route::Function("/api/ci-in-preview".into())
        );
        assert_eq!(rewrites.route("/"), Route::App("/".into()));
        assert_eq!(
            rewrites.route("/api/auth/session"),
            Route::App("/api/auth/session".into())
        );
        assert_eq!(
            rewrites.route("/api/~/cix/health"),
            Route::App("/api/~/cix/health".into())
        );
        assert_eq!(
            rewrites.route("/blog/hello"),
            Route::App("/posts/hello".into())
        );
        assert_eq!(rewrites.route("/blog/"), Route::App("/blog/".into()));
    }

    #[test]
    fn sources_outside_the_subset_are_refused() {
        for source in ["/a/:p*/b", "/a/(.*)", "/a/:p(\\d+)", "a/b"] {
            let json =
                format!(r#"{{"rewrites": [{{"source": {source:?}, "destination": "/x"}}]}}"#);
            assert!(Rewrites::parse(&json, vec![]).is_err(), "{source}");
        }
        let conditional = r#"{"rewrites": [{"source": "/a", "destination": "/b", "has": []}]}"#;
        assert!(Rewrites::parse(conditional, vec![]).is_err());
    }

    /// The example routes CI paths as the template does, so what `e2e` proves holds for a
    /// project set up from either.
    #[test]
    fn the_example_rewrites_as_the_template() {
        let root = crate::project_root();
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        let rewrites =
            |p: &str| serde_json::from_str::<Value>(&read(p)).unwrap()["rewrites"].clone();
        assert_eq!(
            rewrites("examples/nextjs/vercel.json"),
            rewrites("templates/vercel/vercel.json")
        );
        let example = Rewrites::parse(
            &read("examples/nextjs/vercel.json"),
            vec!["/api/ci-in-preview".into()],
        )
        .unwrap();
        assert_eq!(
            example.route("/api/~/ci/health"),
            Route::Function("/api/ci-in-preview".into())
        );
    }
}

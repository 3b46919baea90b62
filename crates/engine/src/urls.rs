//! Where a TF.js `model.json` may send the engine for its weight shards: only to files on
//! the model.json's own origin, under its own directory. A shard path that names another
//! host, another scheme, or climbs out with `..` is refused, as is one listed twice (a
//! cheap way to multiply a download). Plain string work, tested natively; the worker then
//! hands the result to `fetch`.

use std::collections::HashSet;

/// More shards than any real model has (the Keras ResNet-50 has 25).
pub const MAX_SHARDS: usize = 1000;

/// Why a shard path was refused.
pub type Refusal = &'static str;

/// `scheme://authority` and the directory part of an http(s) URL's path (ending in `/`).
fn origin_and_dir(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() {
        return None;
    }
    let path = &tail[..tail.find(['?', '#']).unwrap_or(tail.len())];
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    Some((
        format!("{scheme}://{}", authority.to_ascii_lowercase()),
        dir,
    ))
}

/// The scheme of `path` if it has one (`https:`, `file:`, `javascript:`).
fn scheme_of(path: &str) -> Option<&str> {
    let colon = path.find(':')?;
    let scheme = &path[..colon];
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then_some(scheme)
}

/// Checks a path relative to the model's directory: no `..`, not even percent-encoded, and
/// no encoded separators a server might decode into one.
fn check_relative(path: &str) -> Result<(), Refusal> {
    let file_part = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    if file_part.is_empty() || file_part.ends_with('/') {
        return Err("it names no file");
    }
    for segment in file_part.split('/') {
        let lower = segment.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") {
            return Err("it hides a path separator in percent-encoding");
        }
        if lower.replace("%2e", ".") == ".." {
            return Err("it climbs out of model.json's directory with `..`");
        }
    }
    Ok(())
}

/// The absolute URL of shard `path` listed in the model.json at `model_url` (absolute), if
/// it stays on that origin and under that directory.
pub fn confine_shard(model_url: &str, path: &str) -> Result<String, Refusal> {
    let (origin, dir) = origin_and_dir(model_url)
        .ok_or("model.json was not loaded over http(s), so its shards have no place to be")?;
    if path.is_empty() {
        return Err("it is empty");
    }
    if path
        .chars()
        .any(|c| c.is_control() || c == '\\' || c == ' ')
    {
        return Err("it holds a backslash, a space or a control character");
    }
    let relative = if path.starts_with("//") {
        return Err("it points at another host");
    } else if let Some(scheme) = scheme_of(path) {
        let lower = scheme.to_ascii_lowercase();
        if lower != "http" && lower != "https" {
            return Err("it uses a scheme other than http(s)");
        }
        let (their_origin, _) = origin_and_dir(path).ok_or("it is a malformed URL")?;
        if their_origin != origin {
            return Err("it points at another host");
        }
        let after_origin = &path[scheme.len() + 3..];
        let their_path = &after_origin[after_origin.find('/').unwrap_or(after_origin.len())..];
        their_path
            .strip_prefix(dir)
            .ok_or("it lies outside model.json's directory")?
    } else if path.starts_with('/') {
        path.strip_prefix(dir)
            .ok_or("it lies outside model.json's directory")?
    } else {
        path
    };
    check_relative(relative)?;
    // `./a.bin` and `a.bin` are one file: drop `.` segments so duplicates compare equal.
    let split = relative.find(['?', '#']).unwrap_or(relative.len());
    let (file, suffix) = relative.split_at(split);
    let file: Vec<&str> = file
        .split('/')
        .filter(|s| *s != "." && !s.eq_ignore_ascii_case("%2e"))
        .collect();
    Ok(format!("{origin}{dir}{}{suffix}", file.join("/")))
}

/// Refuses a shard list (resolved URLs, or names of picked files) that names one file twice
/// or is absurdly long; returns the offending entry and why.
pub fn check_shard_list(paths: &[String]) -> Result<(), (String, Refusal)> {
    if paths.len() > MAX_SHARDS {
        return Err((
            format!("{} paths", paths.len()),
            "model.json lists more than 1000 shards",
        ));
    }
    let mut seen = HashSet::new();
    for path in paths {
        if !seen.insert(path.as_str()) {
            return Err((path.clone(), "model.json lists it more than once"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "https://example.org/models/r50/model.json?v=2";

    #[test]
    fn plain_shard_names_resolve_beside_model_json() {
        assert_eq!(
            confine_shard(MODEL, "group1-shard1of25.bin").unwrap(),
            "https://example.org/models/r50/group1-shard1of25.bin"
        );
        assert_eq!(
            confine_shard(MODEL, "./w.bin").unwrap(),
            confine_shard(MODEL, "w.bin").unwrap()
        );
        assert_eq!(
            confine_shard(MODEL, "sub/dir/w.bin").unwrap(),
            "https://example.org/models/r50/sub/dir/w.bin"
        );
        assert_eq!(
            confine_shard("http://127.0.0.1:8080/weights/model.json", "w.bin?x=1").unwrap(),
            "http://127.0.0.1:8080/weights/w.bin?x=1"
        );
        // Absolute forms that stay put are fine.
        assert_eq!(
            confine_shard(MODEL, "/models/r50/w.bin").unwrap(),
            "https://example.org/models/r50/w.bin"
        );
        assert_eq!(
            confine_shard(MODEL, "HTTPS://Example.org/models/r50/w.bin").unwrap(),
            "https://example.org/models/r50/w.bin"
        );
    }

    #[test]
    fn other_hosts_and_schemes_are_refused() {
        for path in [
            "https://evil.example/w.bin",
            "http://example.org/models/r50/w.bin", // another scheme is another origin
            "https://example.org:444/models/r50/w.bin",
            "//evil.example/w.bin",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:application/octet-stream,AAAA",
            "blob:https://example.org/uuid",
        ] {
            assert!(confine_shard(MODEL, path).is_err(), "{path}");
        }
    }

    #[test]
    fn climbing_out_of_the_directory_is_refused() {
        for path in [
            "../w.bin",
            "../../etc/passwd",
            "a/../../w.bin",
            "%2e%2e/w.bin",
            ".%2E/w.bin",
            "..%2fw.bin",
            "a%5c..%5cw.bin",
            "..\\w.bin",
            "/models/w.bin",
            "/other/r50/w.bin",
            "https://example.org/models/w.bin",
            "https://example.org/models/r50/../w.bin",
            "",
            "sub/",
            "w.bin\n",
        ] {
            assert!(confine_shard(MODEL, path).is_err(), "{path:?}");
        }
    }

    #[test]
    fn a_model_json_not_over_http_has_no_shards() {
        assert!(confine_shard("data:application/json,{}", "w.bin").is_err());
        assert!(confine_shard("blob:https://example.org/uuid", "w.bin").is_err());
    }

    #[test]
    fn a_shard_listed_twice_is_refused() {
        let paths: Vec<String> = ["a.bin", "b.bin"].map(String::from).into();
        assert!(check_shard_list(&paths).is_ok());
        let twice: Vec<String> = ["a.bin", "b.bin", "a.bin"].map(String::from).into();
        assert_eq!(check_shard_list(&twice).unwrap_err().0, "a.bin");
        let many: Vec<String> = (0..=MAX_SHARDS).map(|i| format!("{i}.bin")).collect();
        assert!(check_shard_list(&many).is_err());
    }
}

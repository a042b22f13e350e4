//! `--check-config`: the effective configuration, in the config file's own
//! syntax, with where each value came from and every secret redacted; then
//! every check a start would make short of binding the port and reaching
//! the broker.

use std::fmt::Write as _;

use clap::CommandFactory;

use super::file::{kind, Kind, Loaded, Source};
use super::Config;

/// Whether a setting's value is a secret, never printed. Marked where the
/// flag is defined (`hide_env_values = true`, which also keeps `--help`
/// from showing the value it found in the environment), so a new secret
/// flag cannot be forgotten in a list here.
fn is_secret(arg: &clap::Arg) -> bool {
    arg.is_hide_env_values_set()
}
/// Settings that are URLs and may carry a password.
const URLS: [&str; 4] = [
    "broker",
    "webhook_url",
    "subscribe_webhook",
    "otlp_endpoint",
];

/// The effective configuration as TOML, one key a line, each with its
/// source as a comment; unset optional settings are listed commented out.
pub fn render(loaded: &Loaded) -> String {
    let cmd = Config::command();
    let mut out = String::from("# effective configuration (secrets redacted)\n");
    if let Some(path) = &loaded.config.config {
        let _ = writeln!(out, "# config file: {}", path.display());
    }
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.get_long().is_none() || ["help", "version", "config", "check_config"].contains(&id) {
            continue;
        }
        let source = match loaded.sources.get(id).copied().unwrap_or(Source::Default) {
            Source::Default => "default".to_string(),
            Source::File => "config file".to_string(),
            Source::Environment => match arg.get_env() {
                Some(name) => format!("environment {}", name.to_string_lossy()),
                None => "environment".to_string(),
            },
            Source::Flag => format!("--{}", arg.get_long().unwrap_or(id)),
        };
        let raw: Vec<String> = loaded
            .matches
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let value = if raw.is_empty() && kind(arg) != Kind::Boolean {
            let _ = writeln!(out, "# {id} = (not set)");
            continue;
        } else if is_secret(arg) {
            toml::Value::String("<redacted>".into())
        } else {
            let raw: Vec<String> = if URLS.contains(&id) {
                raw.iter()
                    .map(|u| {
                        if u.contains("://") {
                            sse_hub::broker::redis::redact(u)
                        } else {
                            u.clone()
                        }
                    })
                    .collect()
            } else {
                raw
            };
            value_of(arg, kind(arg), &raw, loaded)
        };
        let _ = writeln!(out, "{id} = {value}  # {source}");
    }
    out
}

fn value_of(arg: &clap::Arg, kind: Kind, raw: &[String], loaded: &Loaded) -> toml::Value {
    let first = raw.first().cloned().unwrap_or_default();
    match kind {
        Kind::Integer => first
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or(toml::Value::String(first)),
        Kind::Boolean => {
            let on = loaded
                .matches
                .get_one::<bool>(arg.get_id().as_str())
                .copied()
                .unwrap_or(first == "true");
            toml::Value::Boolean(on)
        }
        Kind::Float => first
            .parse::<f64>()
            .map(toml::Value::Float)
            .unwrap_or(toml::Value::String(first)),
        Kind::Text => toml::Value::String(first),
        Kind::List => toml::Value::Array(
            raw.iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| toml::Value::String(s.trim().to_string()))
                .collect(),
        ),
    }
}

/// Every check a start makes before binding: tokens, broker URL, limits,
/// topic patterns, webhooks, TLS files, log filter, trusted proxies.
pub fn check(cfg: &Config) -> anyhow::Result<()> {
    cfg.auth()?;
    cfg.broker_config()?;
    cfg.hub_config()?;
    cfg.topic_policy()?;
    cfg.webhook_url()?;
    cfg.cors_origins()?;
    cfg.demo_options()?;
    cfg.client_addresses()?;
    cfg.log_filter()?;
    if let Some(endpoint) = &cfg.logging.otlp_endpoint {
        super::otlp_traces_url(endpoint)?;
    }
    if !(0.0..=1.0).contains(&cfg.logging.otlp_sample_ratio) {
        anyhow::bail!("--otlp-sample-ratio must be from 0.0 to 1.0");
    }
    if let Some(tls) = cfg.tls_files() {
        sse_hub::net::TlsConfig::load(&tls.0, &tls.1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    fn lines_of(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| {
                let l = l.strip_prefix("# ").unwrap_or(l);
                let (k, v) = l.split_once(" = ")?;
                let ok = !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                ok.then(|| {
                    (
                        k.to_string(),
                        v.split("  # ").next().unwrap_or(v).to_string(),
                    )
                })
            })
            .collect()
    }

    /// The example file in `deploy/` lists every setting once with its
    /// default (or an example, for those without one), and loads.
    #[test]
    fn the_example_config_file_is_true() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/hub.toml");
        let example = std::fs::read_to_string(path).unwrap();
        let defaults = super::super::file::load(vec![OsString::from("server")]).unwrap();
        let defaults = lines_of(&render(&defaults));
        let listed = lines_of(&example);
        let cmd = Config::command();
        let secrets: Vec<&str> = cmd
            .get_arguments()
            .filter(|a| is_secret(a))
            .map(|a| a.get_id().as_str())
            .collect();
        for (key, value) in &defaults {
            if secrets.contains(&key.as_str()) {
                assert!(example.contains(key.as_str()), "deploy/hub.toml: `{key}`");
                continue;
            }
            let found: Vec<_> = listed.iter().filter(|(k, _)| k == key).collect();
            assert_eq!(
                found.len(),
                1,
                "deploy/hub.toml lists `{key}` {} times",
                found.len()
            );
            if value != "(not set)" {
                assert_eq!(
                    &found[0].1, value,
                    "deploy/hub.toml: the default of `{key}`"
                );
            }
        }
        for (key, _) in &listed {
            assert!(
                defaults.iter().any(|(k, _)| k == key) || key.ends_with("_secret"),
                "deploy/hub.toml lists `{key}`, which is no setting"
            );
        }
        // Uncommented, every line is a valid setting.
        let uncommented: String = example
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if lines_of(rest).len() == 1 => format!("{rest}\n"),
                _ => format!("{l}\n"),
            })
            .collect();
        let tmp = super::super::TempFile::with(&uncommented);
        let loaded = super::super::file::load(vec![
            OsString::from("server"),
            OsString::from("--config"),
            tmp.0.clone().into_os_string(),
            // The example's webhook URL needs its secret, which the file
            // leaves to the environment.
            OsString::from("--webhook-secret=example"),
        ]);
        match loaded {
            Ok(_) => {}
            Err(super::super::file::LoadError::File(e)) => panic!("{e}"),
            Err(super::super::file::LoadError::Clap(e)) => panic!("{e}"),
        }
    }

    /// Every flag that may carry a secret is marked as one where it is
    /// defined, and `--check-config` prints none of their values.
    #[test]
    fn every_secret_bearing_flag_is_marked_and_redacted() {
        let cmd = Config::command();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            let looks_secret = ["secret", "password", "private", "credential"]
                .iter()
                .any(|w| id.contains(w));
            assert!(
                !looks_secret || is_secret(arg),
                "`{id}` looks like a secret: mark it with `hide_env_values = true`"
            );
        }
        let secrets: Vec<&clap::Arg> = cmd.get_arguments().filter(|a| is_secret(a)).collect();
        assert!(secrets.len() >= 2, "jwt_secret and webhook_secret at least");
        let mut args = vec![OsString::from("server")];
        for a in &secrets {
            args.push(OsString::from(format!(
                "--{}=VERY-SECRET-{}",
                a.get_long().unwrap(),
                a.get_id()
            )));
        }
        let loaded = super::super::file::load(args).unwrap_or_else(|_| panic!("loads"));
        let text = render(&loaded);
        assert!(!text.contains("VERY-SECRET"), "{text}");
        for a in &secrets {
            assert!(
                text.contains(&format!("{} = \"<redacted>\"", a.get_id())),
                "{text}"
            );
        }
    }
}

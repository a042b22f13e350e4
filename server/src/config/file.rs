//! The config file (`--config FILE`, TOML) under the flags and the
//! environment.
//!
//! One source of truth: the keys of the file are the ids of the clap flags
//! (the long names with `_`), so a new flag is settable in the file the day
//! it is added, with its own parser and checks. Precedence is flag >
//! environment > file > default: clap says where each value came from
//! ([`ArgMatches::value_source`]), and a file value is used only where clap
//! fell back to a default. Every key of the file is checked even when a
//! flag overrides it, so a file that would not start alone is refused now,
//! not on the day the flag is dropped.
//!
//! Only the environment variables of our flags are read (clap's `env`):
//! Kubernetes injects `HUB_PORT=tcp://…`, `HUB_SERVICE_HOST` and the like
//! for a Service named `hub`, and those must never stop a start.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};

use super::Config;

/// Where the value of one setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Environment,
    Flag,
}

/// The parsed configuration and where each setting came from.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub sources: BTreeMap<String, Source>,
    pub matches: ArgMatches,
}

/// Flags that only make sense on the command line.
const NOT_IN_FILE: [&str; 4] = ["config", "check_config", "help", "version"];

/// Parses `args` (the first is the program), the environment and, if
/// `--config` names one, the config file. `Err` is clap's error (help and
/// version included, which print and exit 0) or a problem with the file.
pub fn load(args: Vec<OsString>) -> Result<Loaded, LoadError> {
    let cmd = Config::command();
    let first = cmd.clone().try_get_matches_from(&args)?;
    let Some(path) = first.get_one::<PathBuf>("config").cloned() else {
        return finish(first, BTreeMap::new());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LoadError::File(format!("reading config file {}: {e}", path.display())))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        LoadError::File(format!("config file {}: {e}", path.display()))
    })?;
    let mut extra = Vec::new();
    let mut from_file = Vec::new();
    for (key, value) in &table {
        let arg = file_arg(&cmd, key).ok_or_else(|| unknown_key(&cmd, &path, key))?;
        let values = file_values(arg, value).map_err(|why| {
            LoadError::File(format!(
                "config file {}: key `{key}`: {why}",
                path.display()
            ))
        })?;
        let overridden = matches!(
            first.value_source(key),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if overridden {
            continue;
        }
        from_file.push(key.clone());
        let long = arg.get_long().expect("every flag has a long name");
        match values {
            FileValue::Switch(true) => extra.push(OsString::from(format!("--{long}"))),
            FileValue::Switch(false) => {}
            FileValue::Text(v) => extra.push(OsString::from(format!("--{long}={v}"))),
        }
    }
    let mut all = args;
    all.extend(extra);
    let matches = cmd.try_get_matches_from(&all)?;
    let sources = from_file.into_iter().map(|k| (k, Source::File)).collect();
    finish(matches, sources)
}

fn finish(matches: ArgMatches, mut sources: BTreeMap<String, Source>) -> Result<Loaded, LoadError> {
    let config = Config::from_arg_matches(&matches)?;
    for id in matches.ids() {
        let id = id.as_str().to_string();
        if sources.contains_key(&id) {
            continue;
        }
        let source = match matches.value_source(&id) {
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Environment,
            _ => Source::Default,
        };
        sources.insert(id, source);
    }
    Ok(Loaded {
        config,
        sources,
        matches,
    })
}

/// Why the configuration could not be read.
#[derive(Debug)]
pub enum LoadError {
    /// Flags or environment (clap prints these itself, `--help` included).
    Clap(clap::Error),
    /// The config file: it says which file and which key.
    File(String),
}

impl From<clap::Error> for LoadError {
    fn from(e: clap::Error) -> Self {
        Self::Clap(e)
    }
}

/// The flag a key of the file sets, if there is one.
fn file_arg<'a>(cmd: &'a Command, key: &str) -> Option<&'a Arg> {
    if NOT_IN_FILE.contains(&key) {
        return None;
    }
    cmd.get_arguments()
        .find(|a| a.get_id().as_str() == key && a.get_long().is_some())
}

fn unknown_key(cmd: &Command, path: &Path, key: &str) -> LoadError {
    let close: Vec<&str> = cmd
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .filter(|id| !NOT_IN_FILE.contains(id))
        .filter(|id| id.contains(key) || key.contains(id) || key.replace('-', "_") == *id)
        .collect();
    let hint = if close.is_empty() {
        "keys are the long flag names with `_` (see --help)".to_string()
    } else {
        format!("did you mean `{}`?", close.join("` or `"))
    };
    LoadError::File(format!(
        "config file {}: unknown key `{key}`: {hint}",
        path.display()
    ))
}

enum FileValue {
    /// A flag without a value (`--single-connection-per-user`).
    Switch(bool),
    /// The text the flag would take on the command line.
    Text(String),
}

/// What kind of TOML value a flag takes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Integer,
    Float,
    Boolean,
    Text,
    List,
}

pub(super) fn kind(arg: &Arg) -> Kind {
    if arg.get_value_delimiter().is_some() || matches!(arg.get_action(), ArgAction::Append) {
        return Kind::List;
    }
    if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        return Kind::Boolean;
    }
    let t = arg.get_value_parser().type_id();
    let integers = [
        TypeId::of::<u64>(),
        TypeId::of::<u32>(),
        TypeId::of::<u16>(),
        TypeId::of::<usize>(),
        TypeId::of::<i64>(),
    ];
    if integers.iter().any(|i| t == *i) {
        Kind::Integer
    } else if t == TypeId::of::<f64>() {
        Kind::Float
    } else if t == TypeId::of::<bool>() {
        Kind::Boolean
    } else {
        // Strings, paths, addresses, URLs and the named choices.
        Kind::Text
    }
}

/// Checks `value` against the flag's type and parser, and turns it into
/// what the command line would carry.
fn file_values(arg: &Arg, value: &toml::Value) -> Result<FileValue, String> {
    let want = kind(arg);
    let text = match (&want, value) {
        (Kind::Integer, toml::Value::Integer(i)) => i.to_string(),
        (Kind::Float, toml::Value::Float(f)) => f.to_string(),
        (Kind::Float, toml::Value::Integer(i)) => i.to_string(),
        (Kind::Boolean, toml::Value::Boolean(b)) => {
            if matches!(arg.get_action(), ArgAction::SetTrue) {
                return Ok(FileValue::Switch(*b));
            }
            b.to_string()
        }
        (Kind::Text, toml::Value::String(s)) => s.clone(),
        (Kind::List, toml::Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    toml::Value::String(s) if !s.contains(',') => out.push(s.clone()),
                    toml::Value::String(s) => {
                        return Err(format!("list items cannot contain a comma: {s:?}"))
                    }
                    other => {
                        return Err(format!(
                            "expected a list of strings, found a {} in it",
                            other.type_str()
                        ))
                    }
                }
            }
            out.join(",")
        }
        (want, other) => {
            let expected = match want {
                Kind::Integer => "an integer",
                Kind::Float => "a number",
                Kind::Boolean => "true or false",
                Kind::Text => "a string",
                Kind::List => "a list of strings",
            };
            return Err(format!("expected {expected}, found a {}", other.type_str()));
        }
    };
    if want != Kind::List {
        // The flag's own parser, on a command of that flag alone.
        let alone = Arg::new("value")
            .long("value")
            .action(ArgAction::Set)
            .value_parser(arg.get_value_parser().clone());
        Command::new("server")
            .arg(alone)
            .try_get_matches_from(["server".to_string(), format!("--value={text}")])
            .map_err(|e| {
                let flag = format!("--{}", arg.get_long().unwrap_or_default());
                first_line(&e.to_string()).replace("'--value <value>'", &flag)
            })?;
    }
    Ok(FileValue::Text(text))
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or(s)
        .trim_start_matches("error: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TempFile;

    fn write(text: &str) -> TempFile {
        TempFile::with(text)
    }

    fn args(extra: &[&str]) -> Vec<OsString> {
        std::iter::once("server")
            .chain(extra.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn err(r: Result<Loaded, LoadError>) -> String {
        match r {
            Err(LoadError::File(s)) => s,
            Err(LoadError::Clap(e)) => e.to_string(),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn every_kind_of_key_is_read_from_the_file() {
        let f = write(
            "history_len = 77\nbroker = \"memory\"\npublic_topics = [\"news\", \"weather.*\"]\n\
             single_connection_per_user = true\ndemo = true\njwt_algorithm = \"hs256\"\n",
        );
        let l = load(args(&["--config", f.0.to_str().unwrap()])).unwrap();
        assert_eq!(l.config.streams.history_len, 77);
        assert_eq!(l.config.access.public_topics, ["news", "weather.*"]);
        assert!(l.config.limits.single_connection_per_user);
        assert!(l.config.demo_mode.demo);
        assert_eq!(l.sources["history_len"], Source::File);
        assert_eq!(l.sources["retry_ms"], Source::Default);
    }

    #[test]
    fn a_flag_wins_over_the_file() {
        let f = write("history_len = 77\n");
        let l = load(args(&[
            "--config",
            f.0.to_str().unwrap(),
            "--history-len",
            "5",
        ]))
        .unwrap();
        assert_eq!(l.config.streams.history_len, 5);
        assert_eq!(l.sources["history_len"], Source::Flag);
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key_and_the_file() {
        let f = write("histroy_len = 5\n");
        let e = err(load(args(&["--config", f.0.to_str().unwrap()])));
        assert!(e.contains("unknown key `histroy_len`"), "{e}");
        assert!(e.contains(f.0.to_str().unwrap()), "{e}");
        for (text, key) in [
            ("history_len = \"lots\"\n", "history_len"),
            ("history_len = -1\n", "history_len"),
            ("broker = 5\n", "broker"),
            ("demo = \"yes\"\n", "demo"),
            ("public_topics = \"news\"\n", "public_topics"),
            ("public_topics = [1]\n", "public_topics"),
            ("jwt_algorithm = \"md5\"\n", "jwt_algorithm"),
            ("addr = \"nowhere\"\n", "addr"),
        ] {
            let f = write(text);
            let e = err(load(args(&["--config", f.0.to_str().unwrap()])));
            assert!(e.contains(&format!("key `{key}`")), "{text}: {e}");
        }
        let f = write("config = \"other.toml\"\n");
        let e = err(load(args(&["--config", f.0.to_str().unwrap()])));
        assert!(e.contains("unknown key `config`"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_toml_says_where() {
        let f = write("history_len = \n");
        let e = err(load(args(&["--config", f.0.to_str().unwrap()])));
        assert!(e.contains("line 1"), "{e}");
    }
}

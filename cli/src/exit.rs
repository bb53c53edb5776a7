//! How a command ends, and the exit code that says so: 0 all went well, 1 some rows, photos
//! or targets failed (the rest was done), 2 a configuration or usage error before anything
//! was sent.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// `-q` without `--json`: lines printed with `say!` are dropped.
static QUIET: AtomicBool = AtomicBool::new(false);
/// `-q`: no progress bars.
static NO_PROGRESS: AtomicBool = AtomicBool::new(false);

/// `-q`: no progress bars, and nothing printed with `say!` unless `--json` asked for the JSON
/// summary, which is then printed all the same.
pub fn set_quiet(quiet: bool, json: bool) {
    QUIET.store(quiet && !json, Ordering::Relaxed);
    NO_PROGRESS.store(quiet, Ordering::Relaxed);
}

/// Whether progress bars may be drawn (not with `-q`).
pub fn progress_wanted() -> bool {
    !NO_PROGRESS.load(Ordering::Relaxed)
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went well.
    Ok,
    /// Some rows, photos or targets failed; the rest was done.
    Partial,
}

impl Outcome {
    /// `Partial` when `failed`, else `Ok`.
    pub fn partial_if(failed: bool) -> Outcome {
        if failed {
            Outcome::Partial
        } else {
            Outcome::Ok
        }
    }
}

/// An error before anything was sent: configuration or usage.
#[derive(Debug)]
pub struct UsageError(pub anyhow::Error);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}
impl std::error::Error for UsageError {}

/// A usage error with this message.
pub fn usage(msg: impl std::fmt::Display) -> anyhow::Error {
    UsageError(anyhow::anyhow!("{msg}")).into()
}

/// The exit code of a command's result, printing the error if there is one: on standard error
/// always, and with `--json` also as one JSON object on standard output, so a script reading
/// stdout sees why there is no result:
/// `{"error": {"message": "...", "kind": "config", "exit_code": 2}}`.
pub fn code(result: anyhow::Result<Outcome>, json: bool) -> ExitCode {
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Partial) => ExitCode::from(1),
        Err(e) => {
            let message = format!("{e:#}");
            tell(format_args!("error: {}", printable(&message)));
            let (kind, exit) = if let Some(kind) = config_error_kind(&e) {
                (kind, 2)
            } else if e.downcast_ref::<UsageError>().is_some() {
                ("config", 2)
            } else {
                ("failed", 1)
            };
            if json {
                let error = serde_json::json!({
                    "error": { "message": message, "kind": kind, "exit_code": exit }
                });
                say(format_args!("{error}"));
            }
            ExitCode::from(exit)
        }
    }
}

/// "config" or "input" when the error is about the configuration or the input files.
fn config_error_kind(e: &anyhow::Error) -> Option<&'static str> {
    e.chain().find_map(|c| {
        c.downcast_ref::<picday_core::Error>()
            .and_then(|e| match e.kind() {
                picday_core::ErrorKind::Config => Some("config"),
                picday_core::ErrorKind::Input => Some("input"),
                _ => None,
            })
    })
}

/// One line on standard output (see the `say!` macro); a closed pipe ends the process quietly.
/// Nothing with `-q`.
pub fn say(args: std::fmt::Arguments<'_>) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    let text = args.to_string();
    let line = printable(&text);
    let mut out = line.into_owned().into_bytes();
    out.push(b'\n');
    output(&out);
}

/// Bytes on standard output as they are (a completion script, a man page), whatever `-q`
/// says: they are what the command was asked for. A closed pipe ends the process quietly.
pub fn output(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        tell(format_args!("error: cannot write to standard output: {e}"));
        std::process::exit(1);
    }
}

/// One line on standard error (see the `tell!` macro): errors, warnings and notes. Never a
/// panic: if standard error is closed too (`picday push 2>&1 | head -1`), the line is lost and
/// the run goes on; the exit code still says how it went.
pub fn tell(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{args}");
}

/// Text from the school's files and from services, made safe for a terminal: control
/// characters other than line breaks and tabs (an escape sequence in a name could clear the
/// screen or retitle the window) are shown escaped, `\u{1b}`, never sent raw.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn escape_sequences_and_other_controls_are_shown_not_sent() {
        assert_eq!(printable("Zoë O'Brien"), "Zoë O'Brien");
        assert_eq!(printable("a\tb\nc"), "a\tb\nc");
        assert_eq!(printable("\u{1b}[2JEve"), "\\u{1b}[2JEve");
        assert_eq!(printable("bell\u{7}\r"), "bell\\u{7}\\u{d}");
        assert!(!printable("\u{9b}31m").contains('\u{9b}'));
    }
}

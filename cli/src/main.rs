//! `picday`: normalise school portraits once, push them everywhere a face shows.
//!
//! The binary is thin on purpose: it parses arguments, loads the configuration, asks the
//! registry for targets, hands people and targets to the core engine, and writes reports.
//! Exit codes: 0 all went well, 1 some rows or photos failed, 2 a configuration or usage
//! error before anything was sent (listed in `--help`, [`EXIT_CODES`]).

/// `println!` that never panics on a closed pipe (`picday targets --json | head -1`): the
/// reader has gone, so picday stops printing and ends quietly, with exit code 0. Every line a
/// command prints to standard output goes through it.
macro_rules! say {
    () => {
        $crate::exit::say(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::exit::say(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (see [`exit::tell`]).
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::exit::tell(format_args!($($arg)*))
    };
}

mod commands;
mod exit;
mod history;
mod html;
mod netfs;
mod progress;
mod registry;
mod report;
mod run;
mod setup;
mod thumbs;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The exit codes, shown at the end of `picday --help` (and in the man page).
const EXIT_CODES: &str = "\
Exit codes:
  0    all went well
  1    some rows, photos or targets failed; the rest was done (see the report)
  2    a configuration or usage error; nothing was sent
  130  stopped by a second Ctrl-C (the first one lets work in flight finish)

Environment: PICDAY_CONFIG (the configuration file), PICDAY_LOG (log filter, e.g. debug),
PICDAY_PLUGIN_PATH (plugin folders), NO_COLOR (no colour in log lines).";

/// Push school portraits to Entra ID, Google Workspace, SIS packages and folders.
#[derive(Debug, Parser)]
#[command(
    name = "picday",
    version,
    propagate_version = true,
    about,
    long_about = None,
    after_help = EXIT_CODES
)]
pub(crate) struct Cli {
    /// The configuration file.
    #[arg(
        long,
        short,
        global = true,
        default_value = "picday.toml",
        env = "PICDAY_CONFIG"
    )]
    config: PathBuf,

    /// Print a machine-readable JSON summary on standard output.
    #[arg(long, global = true)]
    json: bool,

    /// More log output on standard error (-v info: tokens, people loaded, throttling,
    /// per-target totals; -vv debug).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Print nothing on standard output but what --json asks for, and no progress bars;
    /// errors and warnings still go to standard error, and the exit code says how it went.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a commented picday.toml and a sample mapping into DIR.
    Init {
        /// Where to write them.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Validate the configuration, the mapping and every photo, and check each target;
    /// sends nothing.
    Check(commands::check::Args),
    /// Normalise every photo and send it to every enabled target.
    Push(commands::push::Args),
    /// Write a contact sheet (HTML) of every person's crops and review flags; sends nothing.
    Preview(commands::preview::Args),
    /// Open a local page to fix crops, turn photos, mark retakes or accept flagged photos
    /// before a push; decisions go to review.toml and push honours them. Sends nothing.
    Review(commands::review::Args),
    /// List the target types this picday knows, with their options.
    Targets(commands::targets::Args),
    /// Show recent runs and, per target, what picday has put there.
    Status(commands::status::Args),
    /// Write a run's report (HTML, JSON, CSV) again, from the state.
    Report(commands::report::Args),
    /// Put back the photos a run overwrote (from its backups); itself a run with a report.
    Restore(commands::restore::Args),
    /// Print a completion script for a shell (powershell, bash, zsh, fish, elvish).
    Completions(commands::completions::Args),
    /// Print picday's manual page (roff), or write one page per command into a folder.
    Man(commands::man::Args),
    /// Take photos down (opted-out people, named ones, leavers), backing each up first; a run
    /// that `restore` undoes.
    Remove(commands::remove::Args),
    /// Read every mapped person's current photo from a target into a folder; changes nothing.
    Export(commands::export::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    exit::set_quiet(cli.quiet, cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tell!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Init { dir } => commands::init::run(&dir),
            Command::Check(args) => commands::check::run(&cli.config, args, cli.json).await,
            Command::Push(args) => commands::push::run(&cli.config, args, cli.json).await,
            Command::Preview(args) => commands::preview::run(&cli.config, args, cli.json).await,
            Command::Review(args) => commands::review::run(&cli.config, args, cli.json).await,
            Command::Targets(args) => commands::targets::run(&cli.config, args, cli.json),
            Command::Status(args) => commands::status::run(&cli.config, args, cli.json),
            Command::Report(args) => commands::report::run(&cli.config, args, cli.json),
            Command::Restore(args) => commands::restore::run(&cli.config, args, cli.json).await,
            Command::Completions(args) => commands::completions::run(args),
            Command::Man(args) => commands::man::run(args),
            Command::Remove(args) => commands::remove::run(&cli.config, args, cli.json).await,
            Command::Export(args) => commands::export::run(&cli.config, args, cli.json).await,
        }
    });
    exit::code(result, cli.json)
}

fn init_logging(verbose: u8, quiet: bool) {
    use std::io::IsTerminal as _;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PICDAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        // A closed standard error loses the line; reporting that on standard error would panic.
        .log_internal_errors(false)
        .try_init();
}

/// Whether log lines may carry colour codes: only on a terminal, and never when `NO_COLOR` is
/// set to anything but the empty string (<https://no-color.org>). A log redirected to a file
/// or a scheduled task's output stays plain text.
fn colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(colour(true, None));
        assert!(
            colour(true, Some(OsStr::new(""))),
            "an empty NO_COLOR is unset"
        );
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None), "a redirected log is plain text");
    }

    /// clap's own consistency checks (conflicting flags, duplicate short options...).
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}

//! `picday`: normalise school portraits once, push them everywhere a face shows.
//!
//! The binary is thin on purpose: it parses arguments, loads the configuration, asks the
//! registry for targets, hands people and targets to the core engine, and writes reports.
//! Exit codes: 0 all went well, 1 some rows or photos failed, 2 a configuration or usage
//! error before anything was sent.

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

mod commands;
mod exit;
mod history;
mod html;
mod progress;
mod registry;
mod report;
mod run;
mod setup;
mod thumbs;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Push school portraits to Entra ID, Google Workspace, SIS packages and folders.
#[derive(Debug, Parser)]
#[command(name = "picday", version, about, long_about = None)]
struct Cli {
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

    /// More log output (-v info, -vv debug).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

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
    /// List the target types this picday knows, with their options.
    Targets(commands::targets::Args),
    /// Show recent runs and, per target, what picday has put there.
    Status(commands::status::Args),
    /// Write a run's report (HTML, JSON, CSV) again, from the state.
    Report(commands::report::Args),
    /// Put back the photos a run overwrote (from its backups); itself a run with a report.
    Restore(commands::restore::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Init { dir } => commands::init::run(&dir),
            Command::Check(args) => commands::check::run(&cli.config, args, cli.json).await,
            Command::Push(args) => commands::push::run(&cli.config, args, cli.json).await,
            Command::Preview(args) => commands::preview::run(&cli.config, args, cli.json).await,
            Command::Targets(args) => commands::targets::run(&cli.config, args, cli.json),
            Command::Status(args) => commands::status::run(&cli.config, args, cli.json),
            Command::Report(args) => commands::report::run(&cli.config, args, cli.json),
            Command::Restore(args) => commands::restore::run(&cli.config, args, cli.json).await,
        }
    });
    exit::code(result, cli.json)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PICDAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

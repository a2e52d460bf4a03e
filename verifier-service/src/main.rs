use clap::Parser;
use std::process::ExitCode;
use warden_verifier::config::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `admin …` has its own exit codes (see its --help).
    if let Command::Admin(args) = cli.command {
        return ExitCode::from(warden_verifier::cmd::admin::main(args));
    }
    match warden_verifier::cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("warden-verifier: {message}");
            ExitCode::FAILURE
        }
    }
}

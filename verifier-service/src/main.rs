use clap::Parser;
use std::process::ExitCode;
use warden_verifier::config::cli::Cli;

fn main() -> ExitCode {
    match warden_verifier::cmd::run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("warden-verifier: {message}");
            ExitCode::FAILURE
        }
    }
}

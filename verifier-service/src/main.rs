use clap::Parser;
use std::process::ExitCode;
use warden_verifier::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => warden_verifier::serve::main(args),
        Command::Keygen(args) => warden_verifier::jose::keygen::main(&args),
        Command::Mint(args) => warden_verifier::jose::mint::main(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("warden-verifier: {message}");
            ExitCode::FAILURE
        }
    }
}

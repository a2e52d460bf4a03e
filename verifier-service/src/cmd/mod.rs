//! The commands: the only code that reads the environment, files and the command line's values
//! (`serve` wires everything together; `keygen` and `mint` are tools; `routes` prints the API's
//! route table).

pub mod admin;
pub mod keygen;
pub mod mint;
pub mod serve;

use crate::config::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve::main(args),
        Command::Keygen(args) => keygen::main(&args),
        Command::Mint(args) => mint::main(&args),
        Command::Routes => routes(),
        Command::Admin(args) => match admin::main(args) {
            0 => Ok(()),
            code => Err(format!("admin command failed (exit code {code})")),
        },
    }
}

/// `warden-verifier routes`: the route table as JSON, one object per route and listener.
fn routes() -> Result<(), String> {
    let table = serde_json::to_string_pretty(&crate::http::routes()).map_err(|e| e.to_string())?;
    println!("{table}");
    Ok(())
}

//! `warden-wasm-run`: run one request through the compiled Warden filter without Envoy and print
//! what the filter decides, the calls it makes (verifier, JWKS) and its logs.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use warden_wasm_tests::{default_wasm_path, Host, HostOptions, HttpCall, Outcome, Plugin};

/// `println!` without the panic on a closed stdout (e.g. piped into `head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! say_err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Runs one request through the compiled Warden filter (in wasmtime, as Envoy would) and prints
/// the decision, the calls the filter makes and its logs.
#[derive(Debug, Parser)]
#[command(
    name = "warden-wasm-run",
    version,
    after_help = "exit status: 0 forwarded, 1 answered by the filter (denied), 2 error, \
                  3 still waiting for a call"
)]
struct Args {
    /// Plugin configuration JSON (`-` reads stdin).
    #[arg(long, value_name = "FILE")]
    config: String,
    /// The filter [default: $WARDEN_WASM or target/wasm32-wasip1/release/warden_plugin.wasm].
    #[arg(long, value_name = "PATH")]
    wasm: Option<PathBuf>,
    /// Request method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Request path with query.
    #[arg(long, default_value = "/")]
    path: String,
    /// A request header (repeatable).
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Answer the verifier call, e.g. '200:{"allow":true}'.
    #[arg(long, value_name = "'STATUS:BODY'", value_parser = parse_verifier_response)]
    verifier_response: Option<(u16, String)>,
    /// Let the verifier call time out.
    #[arg(long, conflicts_with = "verifier_response")]
    verifier_timeout: bool,
    /// Answer JWKS fetches (remote_jwks) with 200 and this document.
    #[arg(long, value_name = "FILE")]
    jwks_file: Option<String>,
    /// The filter's clock [default: now].
    #[arg(long, value_name = "UNIX_SECONDS")]
    time: Option<u64>,
}

fn parse_header(header: &str) -> Result<(String, String), String> {
    let (name, value) = header
        .split_once(':')
        .ok_or_else(|| format!("header {header:?} is not 'name: value'"))?;
    Ok((
        name.trim().to_ascii_lowercase(),
        value.trim_start().to_owned(),
    ))
}

fn parse_verifier_response(answer: &str) -> Result<(u16, String), String> {
    let (status, body) = answer
        .split_once(':')
        .ok_or_else(|| format!("{answer:?} is not 'STATUS:BODY'"))?;
    let status = status
        .trim()
        .parse()
        .map_err(|_| format!("{status:?} is not an HTTP status"))?;
    Ok((status, body.to_owned()))
}

/// What to do with a verifier call.
enum VerifierAnswer {
    Respond { status: u16, body: String },
    Timeout,
}

/// The arguments with their files read.
struct Run {
    config: String,
    wasm: PathBuf,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    verifier: Option<VerifierAnswer>,
    jwks: Option<Vec<u8>>,
    time: Option<u64>,
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    if path == "-" {
        let mut buffer = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buffer)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        return Ok(buffer);
    }
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

impl Run {
    fn from_args(args: Args) -> Result<Run, String> {
        let bytes = read_file(&args.config)?;
        let config =
            String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8", args.config))?;
        let verifier = match (args.verifier_response, args.verifier_timeout) {
            (Some((status, body)), _) => Some(VerifierAnswer::Respond { status, body }),
            (None, true) => Some(VerifierAnswer::Timeout),
            (None, false) => None,
        };
        Ok(Run {
            config,
            wasm: args.wasm.unwrap_or_else(default_wasm_path),
            method: args.method,
            path: args.path,
            headers: args.headers,
            verifier,
            jwks: args.jwks_file.as_deref().map(read_file).transpose()?,
            time: args.time,
        })
    }
}

fn print_call(call: &HttpCall) {
    say!(
        "  {} {} on cluster {} (authority {}, timeout {} ms)",
        call.method().unwrap_or("?"),
        call.path().unwrap_or("?"),
        call.upstream,
        call.authority().unwrap_or("?"),
        call.timeout.as_millis()
    );
    if !call.body.is_empty() {
        say!("  body: {}", call.body_str());
    }
}

/// Answers every pending call as the flags say; returns false when a call is left unanswered.
fn answer_calls(host: &mut Host, args: &Run) -> Result<bool, String> {
    let mut all_answered = true;
    for _ in 0..16 {
        let calls = host.pending_http_calls();
        let Some(call) = calls.into_iter().next() else {
            return Ok(all_answered);
        };
        let is_jwks = call.method() == Some("GET");
        say!("{} call:", if is_jwks { "JWKS" } else { "verifier" });
        print_call(&call);
        let answered = if is_jwks {
            match &args.jwks {
                Some(jwks) => {
                    say!("  answered: 200 with --jwks-file");
                    host.respond_http_call(
                        call.token,
                        200,
                        &[("content-type", "application/json")],
                        jwks,
                    )
                }
                None => {
                    say!("  failed: no --jwks-file given");
                    host.fail_http_call(call.token)
                }
            }
        } else {
            match &args.verifier {
                Some(VerifierAnswer::Respond { status, body }) => {
                    say!("  answered: {status} {body}");
                    host.respond_http_call(
                        call.token,
                        *status,
                        &[("content-type", "application/json")],
                        body.as_bytes(),
                    )
                }
                Some(VerifierAnswer::Timeout) => {
                    say!("  answered: timeout after {} ms", call.timeout.as_millis());
                    host.advance(call.timeout)
                }
                None => {
                    say!("  not answered: pass --verifier-response 'STATUS:BODY' or --verifier-timeout");
                    all_answered = false;
                    return Ok(all_answered);
                }
            }
        };
        answered.map_err(|e| e.to_string())?;
    }
    Ok(all_answered)
}

fn run(args: &Run) -> Result<ExitCode, String> {
    let plugin = Plugin::load(&args.wasm).map_err(|e| e.to_string())?;
    let time = args
        .time
        .map(|t| std::time::UNIX_EPOCH + Duration::from_secs(t));
    let mut host = plugin
        .instantiate_with(HostOptions {
            time,
            ..HostOptions::default()
        })
        .map_err(|e| e.to_string())?;
    let accepted = host.configure(&args.config).map_err(|e| e.to_string())?;
    if !accepted {
        say!("configuration: REJECTED");
        print_logs(&host);
        return Ok(ExitCode::from(2));
    }
    say!("configuration: accepted");
    if args.jwks.is_some() {
        // Let the root context load remote key sets first, as Envoy's first tick would.
        host.tick().map_err(|e| e.to_string())?;
        answer_calls(&mut host, args)?;
    }
    say!("request: {} {}", args.method, args.path);
    for (name, value) in &args.headers {
        say!("  {name}: {}", shorten(value));
    }
    let mut headers: Vec<(&str, &str)> = vec![(":method", &args.method), (":path", &args.path)];
    if !args.headers.iter().any(|(n, _)| n == ":authority") {
        headers.push((":authority", "localhost"));
    }
    headers.extend(args.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let request = host.request(&headers).map_err(|e| e.to_string())?;
    answer_calls(&mut host, args)?;
    let code = match host.outcome(request) {
        Outcome::Continue { headers } => {
            say!("decision: ALLOW (forwarded upstream)");
            say!("forwarded headers:");
            for (name, value) in headers.iter() {
                say!("  {name}: {value}");
            }
            0
        }
        Outcome::LocalResponse(response) => {
            say!("decision: DENY (answered by the filter)");
            say!("response: {}", response.status);
            for (name, value) in response.headers.iter() {
                say!("  {name}: {value}");
            }
            say!("  body: {}", response.body_str());
            1
        }
        Outcome::Paused => {
            say!("decision: PENDING (the filter waits for an http call)");
            3
        }
        Outcome::Reset => {
            say!("decision: RESET (the filter reset the stream)");
            1
        }
        Outcome::Unknown => return Err("the request vanished".into()),
    };
    print_logs(&host);
    Ok(ExitCode::from(code))
}

/// Long values (tokens) shortened for the request echo.
fn shorten(value: &str) -> String {
    const KEEP: usize = 60;
    match value.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}… ({} bytes)", &value[..cut], value.len()),
        None => value.to_owned(),
    }
}

fn print_logs(host: &Host) {
    say!("filter logs:");
    for entry in host.logs() {
        say!("  {entry}");
    }
    for note in host.notes() {
        say!("  [host] {note}");
    }
}

fn main() -> ExitCode {
    // Usage errors exit with 2 (clap's default), as do the errors below.
    let args = Args::parse();
    match Run::from_args(args).and_then(|run_args| run(&run_args)) {
        Ok(code) => code,
        Err(error) => {
            say_err!("warden-wasm-run: {error}");
            ExitCode::from(2)
        }
    }
}

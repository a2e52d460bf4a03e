//! The command line: `serve`, `keygen`, `mint`, `admin …`.

use super::defaults::*;
use crate::issuer::jose::{tool_algorithm, Algorithm, TOOL_ALGORITHMS};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

pub use crate::telemetry::logging::LogFormat;
use crate::telemetry::traces::DEFAULT_SERVICE_NAME;

#[derive(Debug, Parser)]
#[command(
    name = "warden-verifier",
    version,
    about = "Warden verifier: revocation, version and session checks in Redis, and the admin API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start; boxing buys nothing
pub enum Command {
    /// Serve the check API and the admin API.
    Serve(ServeArgs),
    /// Generate a signing key: a private JWK file and a public JWKS file.
    Keygen(KeygenArgs),
    /// Print a signed JWT (compact JWS) made with a private JWK from `keygen`.
    Mint(MintArgs),
    /// Operator commands against a running verifier's admin API (revoke, sessions, introspect,
    /// feed).
    Admin(AdminArgs),
    /// Print the API's route table as JSON (for the OpenAPI check).
    #[command(hide = true)]
    Routes,
}

/// `--redis-url` as given; `Debug` shows it redacted (the arguments' `Debug` must not carry a
/// password).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(pub String);

impl RedisUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for RedisUrl {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<RedisUrl, Self::Err> {
        Ok(RedisUrl(text.to_owned()))
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RedisUrl({:?})",
            crate::store::target::redacted_url(&self.0)
        )
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the check listener (`POST /v1/check`).
    #[arg(long, env = "WARDEN_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Address of the admin listener (`/v1/admin/...`).
    #[arg(long, env = "WARDEN_ADMIN_LISTEN", default_value = "127.0.0.1:8082")]
    pub admin_listen: SocketAddr,
    /// PEM certificate chain (leaf first) served by both listeners over TLS; needs
    /// `--tls-key-file`. Reloaded on SIGHUP and when the file changes.
    #[arg(long, env = "WARDEN_TLS_CERT_FILE", value_name = "PATH")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `--tls-cert-file` (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "WARDEN_TLS_KEY_FILE", value_name = "PATH")]
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA certificate(s): the check listener then requires a client certificate signed by one
    /// of them (mutual TLS, so only your Envoys may call it). The admin listener does not ask for
    /// one; its bearer token guards it. Needs TLS.
    #[arg(long, env = "WARDEN_CLIENT_CA_FILE", value_name = "PATH")]
    pub client_ca_file: Option<PathBuf>,
    /// How often the TLS files are looked at for changes, in seconds (a change reloads them, as
    /// SIGHUP does); 0 = reload on SIGHUP only.
    #[arg(
        long,
        env = "WARDEN_TLS_RELOAD_INTERVAL_SECONDS",
        default_value_t = 2,
        value_name = "S"
    )]
    pub tls_reload_interval_seconds: u64,
    /// Let the admin listener serve plain HTTP on a non-loopback address (e.g. when a service mesh
    /// encrypts the traffic); without it such a configuration refuses to start. The variable takes
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    #[arg(
        long,
        env = "WARDEN_ALLOW_PLAINTEXT_ADMIN",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_plaintext_admin: bool,
    /// Redis URL: `redis://[user:password@]host:port[/db]` (or `rediss://` in builds with the `tls` feature);
    /// Redis Cluster: `redis+cluster://[user:password@]host1:port,host2:port` (`rediss+cluster://`);
    /// Sentinel: `redis+sentinel://[user:password@]s1:26379,s2:26379/MASTER_NAME` (`rediss+sentinel://`;
    /// the sentinels' own credentials as `?sentinel_username=U&sentinel_password=P`).
    #[arg(
        long,
        env = "WARDEN_REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        hide_env_values = true
    )]
    pub redis_url: RedisUrl,
    /// PEM file of the CA(s) that sign the Redis server's certificate, for `rediss://` with a
    /// private CA (builds with the `tls` feature); without it the webpki roots are trusted.
    #[arg(long, env = "WARDEN_REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,
    /// File holding the admin bearer token (at least 16 printable ASCII characters). Required.
    #[arg(long, env = "WARDEN_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// File holding a bearer token (at least 16 printable ASCII characters) that the revocation
    /// feed (`GET /v1/revocations`) then requires; the filters send it (`verifier.stream.feed_token`).
    /// Without it the feed answers anyone who reaches the check listener (guard it with mTLS).
    #[arg(long, env = "WARDEN_FEED_TOKEN_FILE", value_name = "PATH")]
    pub feed_token_file: Option<PathBuf>,
    /// Most live sessions one feed snapshot lists, whatever a filter's `max_live` asks (at most
    /// 10000000); a filter does not learn the others and checks their tokens by callout.
    #[arg(
        long,
        env = "WARDEN_FEED_MAX_LIVE",
        default_value_t = DEFAULT_FEED_MAX_LIVE,
        value_parser = clap::value_parser!(u64).range(0..=crate::service::feed::MAX_LIVE),
        value_name = "N"
    )]
    pub feed_max_live: u64,
    /// Replicas that must acknowledge each admin write (Redis `WAIT`); 0 = the primary alone.
    #[arg(long, env = "WARDEN_MIN_REPLICAS_ACK", default_value_t = 0)]
    pub min_replicas_ack: u32,
    /// Acknowledge an admin write only once it is fsynced to the primary's append-only file and
    /// to `--min-replicas-ack` replicas' (Redis `WAITAOF`, Redis 7.2 or later with
    /// `appendonly yes`); replaces `WAIT`. The service refuses to start when Redis lacks WAITAOF.
    /// The variable takes `true`/`false`.
    #[arg(
        long,
        env = "WARDEN_WAIT_AOF",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub wait_aof: bool,
    /// How long an admin write waits for replica acknowledgements, in milliseconds.
    #[arg(long, env = "WARDEN_REPLICA_ACK_TIMEOUT_MS", default_value_t = 1000)]
    pub replica_ack_timeout_ms: u64,
    /// Bound on each Redis call, in milliseconds; past it the answer is 503.
    #[arg(long, env = "WARDEN_REDIS_TIMEOUT_MS", default_value_t = 500)]
    pub redis_timeout_ms: u64,
    /// Revocation entries live until the token's `exp` plus this many seconds (keep it above the
    /// filter's clock skew).
    #[arg(
        long,
        env = "WARDEN_REVOCATION_SKEW_SECONDS",
        default_value_t = DEFAULT_REVOCATION_SKEW_SECONDS
    )]
    pub revocation_skew_seconds: u64,
    /// Session lifetime when the create call gives no `ttl_seconds`.
    #[arg(
        long,
        env = "WARDEN_SESSION_TTL_SECONDS",
        default_value_t = DEFAULT_SESSION_TTL_SECONDS
    )]
    pub session_ttl_seconds: u64,
    /// Longest session lifetime accepted.
    #[arg(
        long,
        env = "WARDEN_MAX_SESSION_TTL_SECONDS",
        default_value_t = DEFAULT_MAX_SESSION_TTL_SECONDS
    )]
    pub max_session_ttl_seconds: u64,
    /// A check rewrites a session's last-seen time at most once per this many seconds.
    #[arg(
        long,
        env = "WARDEN_LAST_SEEN_INTERVAL_SECONDS",
        default_value_t = DEFAULT_LAST_SEEN_INTERVAL_SECONDS
    )]
    pub last_seen_interval_seconds: u64,
    /// Private JWK (from `keygen`: Ed25519, ES256, or RS256 of at least 2048 bits) the verifier
    /// signs access tokens with. Repeatable: the first signs, all are published at
    /// `/.well-known/jwks.json`. The variable takes a comma-separated list.
    #[arg(
        long = "signing-key-file",
        env = "WARDEN_SIGNING_KEY_FILE",
        value_name = "PATH",
        value_delimiter = ','
    )]
    pub signing_key_files: Vec<PathBuf>,
    /// `iss` of the access tokens (required with a signing key).
    #[arg(long, env = "WARDEN_ISSUER")]
    pub issuer: Option<String>,
    /// `aud` of the access tokens (required with a signing key); repeat for several (then `aud`
    /// is an array). The variable takes a comma-separated list.
    #[arg(
        long = "audience",
        env = "WARDEN_AUDIENCE",
        value_name = "AUD",
        value_delimiter = ','
    )]
    pub audiences: Vec<String>,
    /// Access token lifetime, in seconds (never beyond the session's end).
    #[arg(
        long,
        env = "WARDEN_ACCESS_TTL_SECONDS",
        default_value_t = DEFAULT_ACCESS_TTL_SECONDS
    )]
    pub access_ttl_seconds: u64,
    /// A refresh token unused for this long is dead, and its session with it.
    #[arg(
        long,
        env = "WARDEN_REFRESH_IDLE_TTL_SECONDS",
        default_value_t = DEFAULT_REFRESH_IDLE_TTL_SECONDS
    )]
    pub refresh_idle_ttl_seconds: u64,
    /// How long the immediate predecessor of a refresh token may be presented again and get the
    /// same successor (a retried request); 0 disables.
    #[arg(
        long,
        env = "WARDEN_REFRESH_RETRY_GRACE_SECONDS",
        default_value_t = DEFAULT_REFRESH_RETRY_GRACE_SECONDS
    )]
    pub refresh_retry_grace_seconds: u64,
    /// How many times the retry grace answers one predecessor; a further presentation counts as
    /// reuse of a rotated token (the family ends). 0 = no bound (any number within the grace);
    /// 1 makes the grace single-use.
    #[arg(
        long,
        env = "WARDEN_REFRESH_RETRY_MAX_USES",
        default_value_t = DEFAULT_REFRESH_RETRY_MAX_USES,
        value_name = "N"
    )]
    pub refresh_retry_max_uses: u64,
    /// `client_id` claim of the access tokens (RFC 9068 §2.2). Default: the audience when
    /// there is one `--audience`, else `warden`.
    #[arg(long, env = "WARDEN_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Cookie mode: `/v1/token` and `/v1/token/revoke` read the refresh token from this cookie
    /// (must start with `__Host-`) and `/v1/token` sets the successor in it.
    #[arg(long, env = "WARDEN_REFRESH_COOKIE", value_name = "NAME")]
    pub refresh_cookie: Option<String>,
    /// Requests per minute (and burst) to `/v1/token` and `/v1/token/revoke`, per session and per
    /// client address; 0 disables the limit.
    #[arg(
        long,
        env = "WARDEN_REFRESH_RATE_PER_MINUTE",
        default_value_t = DEFAULT_REFRESH_RATE_PER_MINUTE
    )]
    pub refresh_rate_per_minute: u32,
    /// A proxy (address or CIDR) whose `X-Forwarded-For` is believed: the client is then the
    /// rightmost entry that is not a trusted proxy. Repeatable; the variable takes a
    /// comma-separated list.
    #[arg(
        long = "trusted-proxy",
        env = "WARDEN_TRUSTED_PROXY",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<crate::net::Cidr>,
    /// The header `/v1/ext_authz` reads the token's claims from: Envoy `jwt_authn`'s
    /// `forward_payload_header` (base64url JSON).
    #[arg(
        long,
        env = "WARDEN_EXT_AUTHZ_PAYLOAD_HEADER",
        default_value = DEFAULT_EXT_AUTHZ_PAYLOAD_HEADER
    )]
    pub ext_authz_payload_header: String,
    /// Serve the playground page (`make playground-build` puts it in `target/playground/web`) from
    /// this directory at `/playground/` on the admin listener, without the admin token: the page
    /// is static and sends nothing anywhere. Off when not given.
    /// A JSON file naming the identity providers whose tokens carry their own sessions and
    /// whose back-channel logouts and security events the verifier accepts
    /// (`{"providers": [{"name", "issuer", "jwks_uri" | "discovery_url", "client_ids"}]}`).
    #[arg(long, env = "WARDEN_IDENTITY_PROVIDERS", value_name = "FILE")]
    pub identity_providers: Option<std::path::PathBuf>,
    #[arg(long, env = "WARDEN_PLAYGROUND_DIR", value_name = "PATH")]
    pub playground_dir: Option<PathBuf>,
    /// Log format; the level comes from `WARDEN_LOG` (e.g. `info`, `warden_verifier=debug`).
    /// `json`: one JSON object per line. At debug each check decision is a line (target
    /// `warden_verifier::decision`), at info each admin action (`warden_verifier::admin`).
    #[arg(long, env = "WARDEN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Export traces over OTLP/HTTP (protobuf) to this collector base URL (spans are POSTed to
    /// `URL/v1/traces`), e.g. `http://otel-collector:4318`. A request's W3C `traceparent` becomes
    /// its span's parent; Redis round trips are child spans. Off when not given.
    #[arg(long, env = "WARDEN_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    #[arg(
        long,
        env = "WARDEN_OTLP_SERVICE_NAME",
        value_name = "NAME",
        default_value = DEFAULT_SERVICE_NAME
    )]
    pub otlp_service_name: String,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Signature algorithm.
    #[arg(long, value_parser = alg_value_parser())]
    pub alg: Algorithm,
    /// Key id; defaults to the RFC 7638 thumbprint of the public key.
    #[arg(long)]
    pub kid: Option<String>,
    /// Where to write the private JWK (mode 0600).
    #[arg(long)]
    pub private_out: PathBuf,
    /// Where to write the public JWKS `{"keys":[...]}` (for HS256 it holds the shared `oct` key).
    #[arg(long)]
    pub jwks_out: PathBuf,
}

#[derive(Debug, Args)]
pub struct MintArgs {
    /// Private JWK file written by `keygen`.
    #[arg(long)]
    pub key: PathBuf,
    /// `sub` claim.
    #[arg(long)]
    pub sub: String,
    /// `iss` claim.
    #[arg(long)]
    pub iss: Option<String>,
    /// `aud` claim (a string).
    #[arg(long)]
    pub aud: Option<String>,
    /// `sid` claim.
    #[arg(long)]
    pub sid: Option<String>,
    /// `ver` claim.
    #[arg(long)]
    pub ver: Option<u64>,
    /// Lifetime in seconds: `exp` = `iat` + ttl. Negative values mint an expired token.
    #[arg(long, default_value_t = 3600, allow_negative_numbers = true)]
    pub ttl: i64,
    /// `jti` claim; random by default.
    #[arg(long)]
    pub jti: Option<String>,
    /// `iat` claim (Unix seconds); now by default.
    #[arg(long, allow_negative_numbers = true)]
    pub iat: Option<i64>,
    /// Extra claim `NAME=VALUE`; VALUE is parsed as JSON when it is valid JSON, else taken as a string.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub claims: Vec<String>,
    /// Leave this claim out (e.g. `--omit jti`, `--omit exp`); may be repeated.
    #[arg(long = "omit", value_name = "NAME")]
    pub omit: Vec<String>,
    /// The header's `typ`. The verifier's own checks (introspection, revocation by access
    /// token) accept only `at+jwt` (RFC 9068), which its sessions' access tokens carry.
    #[arg(long, default_value = "JWT")]
    pub typ: String,
}

/// The `--alg` parser: one of the tools' algorithms, listed in `--help` and in the error.
pub fn alg_value_parser() -> impl TypedValueParser<Value = Algorithm> {
    PossibleValuesParser::new(TOOL_ALGORITHMS.map(Algorithm::name)).try_map(|name| {
        tool_algorithm(&name).ok_or_else(|| format!("unsupported algorithm `{name}`"))
    })
}

/// How `admin …` prints an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AdminOutput {
    /// A short human table.
    Table,
    /// The API's JSON answer, as it came.
    Json,
}

/// `warden-verifier admin …`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 done; 1 the API refused (4xx: its error message is \
printed); 2 usage or local error (bad flags, unreadable file, a token without sub/jti); 3 the \
verifier is unreachable, timed out or answered 5xx.\n\nPlain http:// is allowed to any host (the \
operator chose the URL), but sending the admin token in clear to a host that is not loopback \
prints a warning on stderr: use https:// (and --ca-file for a private CA) across a network."
)]
pub struct AdminArgs {
    /// Base URL of the verifier's admin listener.
    #[arg(
        long,
        env = "WARDEN_ADMIN_URL",
        default_value = "http://127.0.0.1:8082",
        global = true
    )]
    pub admin_url: String,
    /// File holding the admin token (the same file `serve --admin-token-file` reads).
    #[arg(
        long,
        env = "WARDEN_ADMIN_TOKEN_FILE",
        value_name = "PATH",
        global = true
    )]
    pub admin_token_file: Option<PathBuf>,
    /// PEM CA certificate(s) trusted for https:// URLs instead of the public roots.
    #[arg(long, env = "WARDEN_ADMIN_CA_FILE", value_name = "PATH", global = true)]
    pub ca_file: Option<PathBuf>,
    /// `table`: a short human table; `json`: the API's JSON answer exactly.
    #[arg(long, value_enum, default_value_t = AdminOutput::Table, global = true)]
    pub output: AdminOutput,
    /// Give up on the verifier after this many seconds.
    #[arg(long, default_value_t = 10, global = true)]
    pub timeout_seconds: u64,
    #[command(subcommand)]
    pub action: AdminAction,
}

/// A token given on the command line or in a file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct TokenSource {
    /// The token itself (visible in the process list: prefer --token-file).
    #[arg(long)]
    pub token: Option<String>,
    /// File holding the token (surrounding whitespace ignored).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Revoke one token (POST /v1/admin/revoke/token): give the token (--token or --token-file)
    /// and its `sub`, `jti` and `exp` are read from its payload, or give --sub and --jti.
    ///
    /// The token's payload is decoded WITHOUT verifying its signature or expiry: it only names
    /// what to revoke; the admin API is authoritative. A token without `sub` or `jti` is refused.
    RevokeToken {
        /// The token (visible in the process list: prefer --token-file).
        #[arg(long, conflicts_with_all = ["sub", "jti", "exp", "token_file"])]
        token: Option<String>,
        /// File holding the token (surrounding whitespace ignored).
        #[arg(long, value_name = "PATH", conflicts_with_all = ["sub", "jti", "exp"])]
        token_file: Option<PathBuf>,
        /// The token's `sub`, without the token (with --jti).
        #[arg(long, requires = "jti")]
        sub: Option<String>,
        /// The token's `jti`, without the token (with --sub).
        #[arg(long, requires = "sub")]
        jti: Option<String>,
        /// The token's `exp` (the revocation is kept until then + skew; without it, for good).
        #[arg(long)]
        exp: Option<i64>,
    },
    /// Revoke a user (POST /v1/admin/revoke/user): their tokens issued up to now and all their
    /// sessions.
    RevokeUser {
        #[arg(long)]
        sub: String,
    },
    /// End a session: a Warden session by --sid (DELETE /v1/admin/sessions/{sid}), or an identity
    /// provider's session by --iss and --sid (POST /v1/admin/revoke/session).
    RevokeSession {
        #[arg(long)]
        sid: String,
        /// The identity provider's issuer: makes this an identity-provider session.
        #[arg(long)]
        iss: Option<String>,
        /// For an identity-provider session: revoked until this `exp` + skew.
        #[arg(long, requires = "iss")]
        exp: Option<i64>,
    },
    /// Refuse every token issued up to now and end every session (POST /v1/admin/revoke/all).
    /// Needs --yes.
    RevokeAll {
        /// Confirm: without it nothing is sent.
        #[arg(long)]
        yes: bool,
    },
    /// List a user's live sessions (GET /v1/admin/users/{sub}/sessions).
    Sessions {
        #[arg(long)]
        sub: String,
    },
    /// Introspect an access or refresh token (POST /v1/admin/introspect, RFC 7662).
    Introspect {
        #[command(flatten)]
        token: TokenSource,
    },
    /// The revocation feed's head (`seq`, `id` of a snapshot of GET /v1/revocations on the check
    /// listener) and lag (`warden_verifier_feed_outbox_pending` on the admin listener's /metrics:
    /// session ends stored but not yet in the feed).
    Feed {
        /// Base URL of the check listener, which serves the feed.
        #[arg(
            long,
            env = "WARDEN_CHECK_URL",
            default_value = "http://127.0.0.1:8081"
        )]
        check_url: String,
        /// File holding the feed token, when the verifier has `--feed-token-file`.
        #[arg(long, env = "WARDEN_FEED_TOKEN_FILE", value_name = "PATH")]
        feed_token_file: Option<PathBuf>,
    },
}

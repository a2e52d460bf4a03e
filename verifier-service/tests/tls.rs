//! `rediss://` against a real redis-server with TLS (builds with the `tls` feature only:
//! `cargo test -p warden-verifier --features tls --test tls`). Certificates are made with the
//! `openssl` command line tool.
#![cfg(feature = "tls")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{free_port, request, RedisServer, Verifier};
use std::path::Path;
use std::process::Command;
use warden_verifier::{AdminToken, AppState, Listeners, Settings};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect(
            "the `openssl` command line tool is needed for this test (apt-get install -y openssl)",
        );
    assert!(status.success(), "openssl {args:?} failed");
}

/// A CA and a server certificate for `localhost`.
fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=warden-test-ca",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
}

async fn start_verifier(url: &str, ca: Option<&Path>) -> Verifier {
    let store = common::open_store(url, ca, common::test_store_options());
    let token = AdminToken::from_file_content(common::ADMIN_TOKEN.as_bytes()).unwrap();
    let state = AppState::new(store, token, Settings::default());
    let check = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Verifier::from_parts(Listeners { check, admin }, state)
}

#[tokio::test]
async fn rediss_with_a_private_ca() {
    let dir = std::env::temp_dir().join(format!("warden-verifier-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    make_certificates(&dir);
    let tls_port = free_port().to_string();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let redis = RedisServer::start_with(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &path("server.crt"),
        "--tls-key-file",
        &path("server.key"),
        "--tls-ca-cert-file",
        &path("ca.crt"),
        "--tls-auth-clients",
        "no",
    ]);
    let url = format!("rediss://localhost:{tls_port}");

    let v = start_verifier(&url, Some(&dir.join("ca.crt"))).await;
    let r = request(v.check, "GET", "/readyz", &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = v
        .check(serde_json::json!({ "sub": "a", "jti": "j", "exp": 0 }))
        .await;
    assert_eq!(r.json(), serde_json::json!({ "allow": true }));

    // Without the private CA the server certificate is not trusted: not ready, checks 503.
    let untrusted = start_verifier(&url, None).await;
    assert_eq!(
        request(untrusted.check, "GET", "/readyz", &[], b"")
            .await
            .status,
        503
    );
    untrusted
        .check(serde_json::json!({ "sub": "a", "jti": "j", "exp": 0 }))
        .await
        .assert_error(503, "unavailable");
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

//! `rediss+cluster://` against a real 3-master Redis Cluster speaking TLS on every node and on
//! the cluster bus (`tls-cluster yes`), with a private CA (`--redis-ca-file`). Certificates are
//! made with the `openssl` command line tool.
#![cfg(feature = "tls")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::topology::{Cluster, ClusterTls};
use common::{request, Verifier, ADMIN_TOKEN};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};
use warden_verifier::{AdminToken, AppState, Listeners, Settings};

fn openssl(dir: &Path, args: &str) {
    let status = Command::new("openssl")
        .args(args.split(' '))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the `openssl` command line tool (apt-get install -y openssl)");
    assert!(status.success(), "openssl {args} failed");
}

async fn verifier(url: &str, ca: Option<&Path>) -> Verifier {
    let store = common::open_store(url, ca, common::test_store_options());
    let token = AdminToken::from_file_content(ADMIN_TOKEN.as_bytes()).unwrap();
    let state = AppState::new(store, token, Settings::default());
    let check = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Verifier::from_parts(Listeners { check, admin }, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_cluster_with_a_private_ca() {
    let dir = std::env::temp_dir().join(format!("warden-tls-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    openssl(
        &dir,
        &format!("req -x509 {ec} -keyout ca.key -out ca.crt -days 2 -subj /CN=warden-test-ca"),
    );
    openssl(
        &dir,
        &format!("req {ec} -keyout server.key -out server.csr -subj /CN=localhost"),
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(&dir, "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext");

    let tls = ClusterTls {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        ca: dir.join("ca.crt"),
    };
    let cluster = tokio::task::spawn_blocking(move || Cluster::start_tls(&tls))
        .await
        .unwrap();
    let url = cluster.tls_url();
    let v = verifier(&url, Some(&dir.join("ca.crt"))).await;
    common::eventually("the TLS cluster is ready", || async {
        request(v.check, "GET", "/readyz", &[], b"").await.status == 200
    })
    .await;
    // Users on every master: each write and check goes over TLS to the node of its slot.
    for i in 0..12 {
        let sub = format!("tls-user{i}");
        let r = v
            .admin_post("/v1/admin/revoke/token", json!({ "sub": sub, "jti": "j1" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = v.check(json!({ "sub": sub, "jti": "j1", "exp": 0 })).await;
        assert_eq!(r.json(), json!({ "allow": false, "reason": "revoked" }));
        let r = v.check(json!({ "sub": sub, "jti": "j2", "exp": 0 })).await;
        assert_eq!(r.json(), json!({ "allow": true }));
    }

    // Without the private CA no node is trusted: checks answer 503.
    let untrusted = verifier(&url, None).await;
    untrusted
        .check(json!({ "sub": "tls-user0", "jti": "j1", "exp": 0 }))
        .await
        .assert_error(503, "unavailable");
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}

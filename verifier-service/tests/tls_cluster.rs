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

use common::topology::wait_until;
use common::{free_port, redis_server_binary, request, Verifier, ADMIN_TOKEN};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use warden_verifier::{AdminToken, AppState, Listeners, Settings, Store};

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

struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn verifier(url: &str, ca: Option<&Path>) -> Verifier {
    let target = warden_verifier::store::open::open_target(url, ca).expect("url");
    let store = Store::connect(target, common::test_store_options()).unwrap();
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
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();

    let mut nodes = Nodes(Vec::new());
    let mut tls_ports = Vec::new();
    let mut plain_ports = Vec::new();
    for i in 0..3 {
        let (plain, tls, bus) = (free_port(), free_port(), free_port());
        let node_dir = dir.join(format!("node{i}"));
        std::fs::create_dir_all(&node_dir).unwrap();
        let child = Command::new(redis_server_binary())
            .args(["--port", &plain.to_string(), "--tls-port", &tls.to_string()])
            .args([
                "--cluster-port",
                &bus.to_string(),
                "--cluster-enabled",
                "yes",
            ])
            .args(["--tls-cluster", "yes", "--tls-auth-clients", "no"])
            .args([
                "--tls-cert-file",
                &file("server.crt"),
                "--tls-key-file",
                &file("server.key"),
            ])
            .args(["--tls-ca-cert-file", &file("ca.crt")])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&node_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        nodes.0.push(child);
        tls_ports.push(tls);
        plain_ports.push(plain);
        wait_until("tls node up", || {
            redis::Client::open(format!("redis://127.0.0.1:{plain}"))
                .and_then(|c| c.get_connection_with_timeout(std::time::Duration::from_millis(300)))
                .is_ok()
        });
    }
    let seeds: Vec<String> = tls_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let created = Command::new("redis-cli")
        .args(["--tls", "--cacert", &file("ca.crt"), "--cluster", "create"])
        .args(&seeds)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stdout)
    );

    // `--cluster create` returns before every node has taken the new slot map.
    for plain in &plain_ports {
        wait_until("every node says cluster_state:ok", || {
            redis::Client::open(format!("redis://127.0.0.1:{plain}"))
                .and_then(|c| c.get_connection_with_timeout(std::time::Duration::from_millis(300)))
                .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut c))
                .is_ok_and(|info| info.contains("cluster_state:ok"))
        });
    }

    let url = format!(
        "rediss+cluster://localhost:{},localhost:{}",
        tls_ports[0], tls_ports[1]
    );
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
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

//! A real RFC 3161 time-stamping authority on loopback: `openssl ts -reply` behind a small
//! HTTP server, with its own CA, so the ledger's anchoring is tested end to end.

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub struct TestTsa {
    pub url: String,
    pub ca: PathBuf,
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl TestTsa {
    /// Creates a CA and a TSA certificate in `dir` and serves time stamps on 127.0.0.1.
    pub async fn start(dir: &Path) -> TestTsa {
        std::fs::create_dir_all(dir).unwrap();
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "3650",
                "-subj",
                "/CN=recaudit test TSA CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "tsa.key",
                "-out",
                "tsa.csr",
                "-subj",
                "/CN=recaudit test TSA",
            ],
        );
        std::fs::write(dir.join("tsa.ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n").unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "tsa.crt",
                "-days",
                "3650",
                "-extfile",
                "tsa.ext",
            ],
        );
        std::fs::write(dir.join("serial"), "01\n").unwrap();
        let config = format!(
            "[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\ndir = {dir}\nserial = $dir/serial\ncrypto_device = builtin\nsigner_cert = $dir/tsa.crt\ncerts = $dir/tsa.crt\nsigner_key = $dir/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\nordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("ts.cnf"), config).unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/tsa", listener.local_addr().unwrap());
        let work = dir.to_path_buf();
        tokio::spawn(async move {
            let mut served = 0u32;
            // Bounded: a test never needs more than a few dozen time stamps.
            while served < 64 {
                let Ok((mut socket, _)) = listener.accept().await else {
                    break;
                };
                served += 1;
                let work = work.clone();
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                let body = loop {
                    let Ok(read) = socket.read(&mut buffer).await else {
                        break None;
                    };
                    if read == 0 {
                        break None;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break Some(request[end + 4..end + 4 + length].to_vec());
                        }
                    }
                };
                let Some(body) = body else { continue };
                let query = work.join(format!("q{served}.tsq"));
                let reply = work.join(format!("r{served}.tsr"));
                std::fs::write(&query, &body).unwrap();
                let status = Command::new("openssl")
                    .args(["ts", "-reply", "-config", "ts.cnf", "-queryfile"])
                    .arg(&query)
                    .arg("-out")
                    .arg(&reply)
                    .current_dir(&work)
                    .output()
                    .unwrap();
                let answer = if status.status.success() {
                    std::fs::read(&reply).unwrap()
                } else {
                    Vec::new()
                };
                let head = format!(
                    "HTTP/1.1 {}\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    if answer.is_empty() {
                        "500 Internal Server Error"
                    } else {
                        "200 OK"
                    },
                    answer.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&answer).await;
                let _ = socket.shutdown().await;
            }
        });
        TestTsa {
            url,
            ca: dir.join("ca.crt"),
            dir: dir.to_path_buf(),
        }
    }

    /// A time stamp over arbitrary bytes, made directly with openssl (for tamper tests).
    pub fn stamp(&self, data: &[u8]) -> Vec<u8> {
        let input = self.dir.join("other.txt");
        std::fs::write(&input, data).unwrap();
        openssl(
            &self.dir,
            &[
                "ts",
                "-query",
                "-data",
                "other.txt",
                "-sha256",
                "-cert",
                "-out",
                "other.tsq",
            ],
        );
        openssl(
            &self.dir,
            &[
                "ts",
                "-reply",
                "-config",
                "ts.cnf",
                "-queryfile",
                "other.tsq",
                "-out",
                "other.tsr",
            ],
        );
        std::fs::read(self.dir.join("other.tsr")).unwrap()
    }
}

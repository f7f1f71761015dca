//! IAM users and their policies on an S3 API server that enforces them: a moto server of the
//! tests' own (`RECAUDIT_TEST_S3_AUTH_ENDPOINT`; .ci/run starts it with
//! `INITIAL_NO_AUTH_ACTION_COUNT=0`), where every request must be signed with the access key of
//! an IAM user whose policies allow its action (`s3:ListBucket` for a listing, `s3:GetObject`
//! for a read), as on AWS.
//!
//! moto checks nothing while its count of unauthenticated actions is not used up, and
//! `POST /moto-api/reset-auth` sets that count: the first test of the process opens the server
//! (`inf`), creates an administrator allowed everything, and closes it again (`0`); every other
//! user, bucket and object is then made with the administrator's key, signed (SigV4) as an AWS
//! SDK signs, by object_store's signer.

use object_store::aws::{AmazonS3, AmazonS3Builder, AwsAuthorizer, AwsCredential};
use object_store::client::{HttpClient, HttpRequestBody};
use tokio::sync::OnceCell;

pub const AUTH_ENDPOINT_VARIABLE: &str = "RECAUDIT_TEST_S3_AUTH_ENDPOINT";

/// An access key and its secret.
#[derive(Debug, Clone)]
pub struct Keys {
    pub id: String,
    pub secret: String,
}

/// The IAM-enforcing server's URL. Missing, the tests fail and say how to start one.
pub fn auth_endpoint() -> String {
    std::env::var(AUTH_ENDPOINT_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{AUTH_ENDPOINT_VARIABLE} is not set: the access-denied tests need an S3 API server that \
             enforces IAM policies, of their own (they switch its authentication off and on). Start \
             one as .ci/run does: `INITIAL_NO_AUTH_ACTION_COUNT=0 target/ci-moto-venv/bin/moto_server \
             -H 127.0.0.1 -p 5056 &`, then `export {AUTH_ENDPOINT_VARIABLE}=http://127.0.0.1:5056`"
        )
    })
}

static ADMIN: OnceCell<Keys> = OnceCell::const_new();

/// The administrator's keys (allowed every action), created by the first caller.
pub async fn admin() -> Keys {
    ADMIN
        .get_or_init(|| async {
            let endpoint = auth_endpoint();
            reset_auth(&endpoint, "inf").await;
            // Unchecked while authentication is off, but signed so that moto knows the service.
            let anyone = Keys {
                id: "AKIARECAUDITBOOTSTRAP".to_string(),
                secret: "unchecked".to_string(),
            };
            let name = format!("recaudit-admin-{}", std::process::id());
            let keys = create_user(&endpoint, &anyone, &name, &["*"]).await;
            reset_auth(&endpoint, "0").await;
            keys
        })
        .await
        .clone()
}

/// A user `name` whose only policy allows `actions` on every resource, and its keys.
pub async fn user(admin: &Keys, name: &str, actions: &[&str]) -> Keys {
    create_user(&auth_endpoint(), admin, name, actions).await
}

/// Creates `bucket` with the administrator's key.
pub async fn create_bucket(admin: &Keys, bucket: &str) {
    let (status, body) = signed(admin, "s3", "PUT", &format!("/{bucket}"), None).await;
    assert_eq!(status, 200, "creating bucket {bucket}: {body}");
}

/// An object_store client of `bucket` on the enforcing server with `keys`.
pub fn bucket(keys: &Keys, bucket: &str) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(auth_endpoint())
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id(&keys.id)
        .with_secret_access_key(&keys.secret)
        .with_bucket_name(bucket)
        .build()
        .unwrap()
}

async fn reset_auth(endpoint: &str, count: &str) {
    // A body without a form content type: moto reads it as the new count.
    let answer = reqwest::Client::new()
        .post(format!("{endpoint}/moto-api/reset-auth"))
        .body(count.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("the S3 server at {endpoint} does not answer: {e}"));
    assert!(
        answer.status().is_success(),
        "moto's reset-auth: {}",
        answer.status()
    );
}

async fn create_user(endpoint: &str, by: &Keys, name: &str, actions: &[&str]) -> Keys {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]
    })
    .to_string();
    iam(
        endpoint,
        by,
        &[("Action", "CreateUser"), ("UserName", name)],
    )
    .await;
    iam(
        endpoint,
        by,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", name),
            ("PolicyName", "recaudit-test"),
            ("PolicyDocument", &policy),
        ],
    )
    .await;
    let answer = iam(
        endpoint,
        by,
        &[("Action", "CreateAccessKey"), ("UserName", name)],
    )
    .await;
    let element = |tag: &str| {
        let open = format!("<{tag}>");
        let start = answer.find(&open).expect(tag) + open.len();
        let end = answer[start..].find("</").unwrap() + start;
        answer[start..end].to_string()
    };
    Keys {
        id: element("AccessKeyId"),
        secret: element("SecretAccessKey"),
    }
}

/// An IAM Query API call; returns the answer's XML.
async fn iam(endpoint: &str, by: &Keys, parameters: &[(&str, &str)]) -> String {
    let mut form: Vec<String> = parameters
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect();
    form.push("Version=2010-05-08".to_string());
    let (status, body) = signed_at(endpoint, by, "iam", "POST", "/", Some(form.join("&"))).await;
    assert_eq!(status, 200, "IAM {parameters:?}: {body}");
    body
}

async fn signed(
    keys: &Keys,
    service: &str,
    method: &str,
    path: &str,
    form: Option<String>,
) -> (u16, String) {
    signed_at(&auth_endpoint(), keys, service, method, path, form).await
}

/// A request signed with `keys` for `service` in us-east-1, as the AWS SDKs sign.
async fn signed_at(
    endpoint: &str,
    keys: &Keys,
    service: &str,
    method: &str,
    path: &str,
    form: Option<String>,
) -> (u16, String) {
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(format!("{endpoint}{path}"));
    if form.is_some() {
        request = request.header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
    }
    let mut request = request
        .body(HttpRequestBody::from(form.unwrap_or_default()))
        .unwrap();
    let credential = AwsCredential {
        key_id: keys.id.clone(),
        secret_key: keys.secret.clone(),
        token: None,
    };
    AwsAuthorizer::new(&credential, service, "us-east-1")
        .try_authorize(&mut request, None)
        .unwrap();
    let answer = HttpClient::new(reqwest::Client::new())
        .execute(request)
        .await
        .unwrap_or_else(|e| panic!("the S3 server at {endpoint} does not answer: {e}"));
    let status = answer.status().as_u16();
    let body = answer.into_body().bytes().await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// `application/x-www-form-urlencoded` value encoding.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

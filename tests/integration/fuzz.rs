//! Mutation fuzzing of every input kind `import` understands (issue 9: "A mutation fuzz test
//! over every input kind finds no panic and no exit status outside the documented ones").
//!
//! Each case takes a valid sample (the example night's files, or a builder's payload), mutates
//! it (bytes flipped, deleted, inserted or cut; JSON values replaced by other types, extreme
//! numbers and dates, very long strings, deep nesting, invalid UTF-8; keys removed) and imports
//! it. Most cases call the library on one real SQLite store: the import must return `Ok` with
//! the file imported, rejected or ignored, never panic. A few cases run the real binary, then an
//! audit of the night over what was imported: the import exits 0 or 1 (a data file never makes
//! it fail), the audit 0, 1 or 3, and neither panics.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use recaudit::audit::Policy;
use recaudit::pipeline;
use recaudit::source::import;
use serde_json::{Value, json};

use crate::support::*;

/// A valid input: where it sits in the imported tree, and its bytes.
#[derive(Debug, Clone)]
struct Sample {
    path: String,
    bytes: Vec<u8>,
}

fn example(path: &str) -> Sample {
    Sample {
        path: path.to_string(),
        bytes: std::fs::read(repo(&format!("examples/night/{path}"))).unwrap(),
    }
}

fn built(path: &str, value: &Value) -> Sample {
    Sample {
        path: path.to_string(),
        bytes: serde_json::to_vec_pretty(value).unwrap(),
    }
}

/// The first file under `examples/night/{dir}` whose name ends with `suffix`.
fn example_ending(dir: &str, suffix: &str) -> Sample {
    example_where(dir, suffix, |name| name.ends_with(suffix))
}

/// The first file under `examples/night/{dir}` whose name `wanted` accepts (`what` says what).
fn example_where(dir: &str, what: &str, wanted: impl Fn(&str) -> bool) -> Sample {
    let root = repo("examples/night");
    let mut pending = vec![root.join(dir)];
    let mut found: Vec<PathBuf> = Vec::new();
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if wanted(&path.to_string_lossy()) {
                found.push(path);
            }
        }
    }
    found.sort();
    let path = found
        .first()
        .unwrap_or_else(|| panic!("no {what} in {dir}"));
    example(path.strip_prefix(&root).unwrap().to_str().unwrap())
}

/// One valid sample of every kind of input.
fn samples() -> Vec<Sample> {
    let ndjson: String = [answered_call("nd-1"), ice_failure_call("nd-2")]
        .iter()
        .map(|c| serde_json::to_string(c).unwrap() + "\n")
        .collect();
    let export = format!(
        "export/{ORG}/year=2026/month=7/day=14/hour=10/conversation_id=f0a1b2c3-d4e5-4f60-8a7b-9c8d7e6f5a4b"
    );
    let mut recording = metadata("r-1", "c-1", "AVAILABLE");
    recording["outputSizeInBytes"] = json!(48_213);
    recording["outputDurationMs"] = json!(250_000);
    recording["mediaUris"] = json!({"S": {"mediaUri": "https://example.com/r-1.opus"}});
    vec![
        example("details/page-004.json"),
        built("details/one.json", &answered_call("single")),
        built(
            "details/array.json",
            &json!([answered_call("arr-1"), ice_failure_call("arr-2")]),
        ),
        Sample {
            path: "details/calls.ndjson".to_string(),
            bytes: ndjson.into_bytes(),
        },
        built(
            "details/availability.json",
            &json!({"dataAvailabilityDate": "2026-07-16T00:00:00.000Z"}),
        ),
        example_ending("recordingmetadata", ".json"),
        example_ending("recordings", "-recordings.json"),
        built("recordings/one-recording.json", &recording),
        example("jobs/recording-job.json"),
        built(
            "jobs/jobs-page.json",
            &json!({"entities": [serde_json::from_slice::<Value>(&example("jobs/recording-job.json").bytes).unwrap()], "pageSize": 25, "pageNumber": 1}),
        ),
        example("jobs/failedrecordings-page-1.json"),
        example("orphans/orphanrecordings-page-1.json"),
        built(
            "orphans/one-orphan.json",
            &json!({"id": "o-1", "orphanStatus": "NO_CONVERSATION", "createdTime": at(9, 0, 0),
                    "mediaSizeBytes": 100, "recording": {"id": "r-9", "conversationId": "c-9"}}),
        ),
        example_ending("export", ".opus_metadata.json"),
        // A sidecar named `{recordingId}_metadata.json`, without the media extension.
        example_where("export", "a bare sidecar", |path| {
            path.rsplit('/')
                .next()
                .and_then(|name| name.strip_suffix("_metadata.json"))
                .is_some_and(|stem| !stem.contains('.'))
        }),
        built(
            &format!("{export}/f0a1b2c3.opus_call_metadata.json"),
            &json!({"conversationId": "f0a1b2c3-d4e5-4f60-8a7b-9c8d7e6f5a4b"}),
        ),
        example_ending("export", ".opus"),
    ]
}

/// A value put in place of a JSON node.
#[derive(Debug, Clone)]
enum Replacement {
    Absent,
    Null,
    Bool(bool),
    Int(i64),
    Unsigned(u64),
    Float(f64),
    /// An integer literal no 64-bit type holds.
    HugeLiteral,
    Text(String),
    Long(usize),
    Date(&'static str),
    /// Arrays nested this deep.
    Deep(usize),
    /// A string holding bytes that are not UTF-8.
    BadUtf8,
    EmptyArray,
    EmptyObject,
}

const DATES: &[&str] = &[
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "1970-01-01T00:00:00Z",
    "1999-12-31T23:59:59.999Z",
    "2100-01-01T00:00:00Z",
    "2026-02-30T10:00:00Z",
    "2026-07-14T25:61:61Z",
    "+275760-09-13T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "2026-07-14T10:00:00",
    "2026-07-14T10:00:00.000+2359",
    "2026-07-14T10:00:00.123456789Z",
    "2026-07-14",
    "",
];

fn replacement() -> impl Strategy<Value = Replacement> {
    prop_oneof![
        Just(Replacement::Absent),
        Just(Replacement::Null),
        any::<bool>().prop_map(Replacement::Bool),
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(-1i64),
            Just(0i64),
            any::<i64>()
        ]
        .prop_map(Replacement::Int),
        Just(Replacement::Unsigned(u64::MAX)),
        prop_oneof![Just(1e308), Just(-1e308), Just(-0.5), Just(1e-300)]
            .prop_map(Replacement::Float),
        Just(Replacement::HugeLiteral),
        "\\PC{0,12}".prop_map(Replacement::Text),
        prop_oneof![Just(257usize), Just(100_000usize)].prop_map(Replacement::Long),
        proptest::sample::select(DATES).prop_map(Replacement::Date),
        prop_oneof![Just(127usize), Just(5_000usize)].prop_map(Replacement::Deep),
        Just(Replacement::BadUtf8),
        Just(Replacement::EmptyArray),
        Just(Replacement::EmptyObject),
    ]
}

/// A change to a file's bytes.
#[derive(Debug, Clone)]
enum ByteEdit {
    Flip { at: usize, bit: u8 },
    Delete { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Truncate { at: usize },
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| ByteEdit::Flip { at, bit }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| ByteEdit::Delete { at, len }),
        (
            any::<usize>(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..8),
                Just(b"\xff\xfe".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"\"".to_vec()),
                Just(b"{".to_vec()),
                Just(b"\\u0000".to_vec()),
                Just(b"\\ud800".to_vec()),
            ]
        )
            .prop_map(|(at, bytes)| ByteEdit::Insert { at, bytes }),
        any::<usize>().prop_map(|at| ByteEdit::Truncate { at }),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    sample: usize,
    /// (node index, what replaces it), applied to the parsed JSON.
    values: Vec<(usize, Replacement)>,
    bytes: Vec<ByteEdit>,
}

fn case(samples: usize) -> impl Strategy<Value = Case> {
    (
        0..samples,
        proptest::collection::vec((any::<usize>(), replacement()), 0..4),
        // Half the cases keep the bytes the JSON edits give, so that most reach the parser.
        prop_oneof![
            Just(Vec::new()),
            proptest::collection::vec(byte_edit(), 1..3)
        ],
    )
        .prop_map(|(sample, values, bytes)| Case {
            sample,
            values,
            bytes,
        })
}

const DEEP: &str = "\u{1}recaudit-fuzz-deep\u{1}";
const BAD_UTF8: &str = "\u{1}recaudit-fuzz-bad-utf8\u{1}";
const HUGE: &str = "\u{1}recaudit-fuzz-huge\u{1}";

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replaces node `target` (pre-order) below `value`; `Absent` removes it from its parent.
fn replace(value: &mut Value, target: &mut usize, with: &Replacement) {
    let placed = |with: &Replacement| -> Value {
        match with {
            Replacement::Absent | Replacement::Null => Value::Null,
            Replacement::Bool(b) => json!(b),
            Replacement::Int(n) => json!(n),
            Replacement::Unsigned(n) => json!(n),
            Replacement::Float(f) => json!(f),
            Replacement::HugeLiteral => json!(HUGE),
            Replacement::Text(text) => json!(text),
            Replacement::Long(n) => json!("é".repeat(*n)),
            Replacement::Date(date) => json!(date),
            Replacement::Deep(_) => json!(DEEP),
            Replacement::BadUtf8 => json!(BAD_UTF8),
            Replacement::EmptyArray => json!([]),
            Replacement::EmptyObject => json!({}),
        }
    };
    match value {
        Value::Array(items) => {
            let mut index = 0;
            while index < items.len() {
                if *target == 0 {
                    if matches!(with, Replacement::Absent) {
                        items.remove(index);
                    } else {
                        items[index] = placed(with);
                    }
                    *target = usize::MAX;
                    return;
                }
                *target -= 1;
                replace(&mut items[index], target, with);
                if *target == usize::MAX {
                    return;
                }
                index += 1;
            }
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if *target == 0 {
                    if matches!(with, Replacement::Absent) {
                        map.remove(&key);
                    } else {
                        map.insert(key, placed(with));
                    }
                    *target = usize::MAX;
                    return;
                }
                *target -= 1;
                if let Some(child) = map.get_mut(&key) {
                    replace(child, target, with);
                }
                if *target == usize::MAX {
                    return;
                }
            }
        }
        _ => {}
    }
}

fn substitute(bytes: Vec<u8>, marker: &str, with: &[u8]) -> Vec<u8> {
    let needle = serde_json::to_vec(&json!(marker)).unwrap();
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = &bytes[..];
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// The mutated bytes of a case.
fn mutate(sample: &Sample, case: &Case) -> Vec<u8> {
    let ndjson = sample.path.ends_with(".ndjson");
    let mut bytes = sample.bytes.clone();
    let mut depth = 0;
    if !case.values.is_empty() {
        let documents: Option<Vec<Value>> = if ndjson {
            bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).ok())
                .collect()
        } else {
            serde_json::from_slice(&bytes).ok().map(|v| vec![v])
        };
        if let Some(mut documents) = documents {
            for (node, with) in &case.values {
                let index = node % documents.len().max(1);
                if let Some(document) = documents.get_mut(index) {
                    let mut target = node % count_nodes(document);
                    if target == 0 {
                        *document = json!({ "replaced": "root" });
                    } else {
                        target -= 1;
                        replace(document, &mut target, with);
                    }
                }
                if let Replacement::Deep(n) = with {
                    depth = depth.max(*n);
                }
            }
            bytes = if ndjson {
                documents
                    .iter()
                    .flat_map(|d| {
                        let mut line = serde_json::to_vec(d).unwrap();
                        line.push(b'\n');
                        line
                    })
                    .collect()
            } else {
                serde_json::to_vec_pretty(&documents[0]).unwrap()
            };
            let deep = [vec![b'['; depth], vec![b']'; depth]].concat();
            bytes = substitute(bytes, DEEP, &deep);
            bytes = substitute(bytes, BAD_UTF8, b"\"caf\xe9 \xff\xfe\"");
            bytes = substitute(bytes, HUGE, b"123456789012345678901234567890123456789");
        }
    }
    for edit in &case.bytes {
        let len = bytes.len();
        match edit {
            ByteEdit::Flip { at, bit } if len > 0 => bytes[at % len] ^= 1 << bit,
            ByteEdit::Delete { at, len: n } if len > 0 => {
                let start = at % len;
                bytes.drain(start..(start + n).min(len));
            }
            ByteEdit::Insert {
                at,
                bytes: inserted,
            } => {
                let at = at % (len + 1);
                bytes.splice(at..at, inserted.iter().copied());
            }
            ByteEdit::Truncate { at } => bytes.truncate(at % (len + 1)),
            _ => {}
        }
    }
    bytes
}

fn write_case(dir: &Path, sample: &Sample, bytes: &[u8]) {
    let path = dir.join(&sample.path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `cases` cases, or `PROPTEST_CASES` (to fuzz longer than CI does).
fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Mutated inputs through the library, on one real store: `Ok`, the file accounted for, no
/// panic; every tenth case, also an audit of the night with the mutated file, which must not
/// fail (except to refuse a window the details do not cover) or panic.
#[test]
fn mutated_inputs_never_panic_the_import_or_the_audit() {
    let samples = samples();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let env = runtime.block_on(TestEnv::new());
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let mut runner = TestRunner::new(config(300));
    runner
        .run(&case(samples.len()), |case| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let sample = &samples[case.sample];
            let bytes = mutate(sample, &case);
            let input = env.dir.path().join(format!("case-{n}"));
            write_case(&input, sample, &bytes);
            let outcome = runtime
                .block_on(import::import_paths(&env.store, &[input]))
                .map_err(|e| TestCaseError::fail(format!("the import failed: {e}")))?;
            prop_assert_eq!(outcome.files, 1);
            let used = outcome.imported + outcome.unchanged;
            prop_assert!(
                used == 1 || !outcome.rejected.is_empty() || !outcome.ignored.is_empty(),
                "{} was neither imported nor rejected: {:?}",
                sample.path,
                outcome
            );
            // An audit seals a run (a few fsyncs): one case in ten is audited, on a store of
            // its own (so that a failure is this case's), beside a good page.
            if n % 10 != 9 {
                return Ok(());
            }
            let own = runtime.block_on(TestEnv::new());
            let night = example("details/page-001.json");
            write_case(&own.input(), &night, &night.bytes);
            write_case(&own.input(), sample, &bytes);
            runtime
                .block_on(import::import_paths(&own.store, &[own.input()]))
                .map_err(|e| TestCaseError::fail(format!("the import failed: {e}")))?;
            let audited = runtime.block_on(pipeline::run_audit(
                &own.store,
                &Policy::default(),
                &own.ledger,
                window(
                    &format!("{DAY}T00:00:00Z"),
                    "2026-07-15T00:00:00Z",
                    "2026-07-17T12:00:00Z",
                ),
                &own.reports(),
            ));
            match audited {
                Ok(_) | Err(recaudit::Error::NotCovered { .. }) => {}
                Err(e) => {
                    return Err(TestCaseError::fail(format!(
                        "the audit after mutated {} failed: {e}",
                        sample.path
                    )));
                }
            }
            Ok(())
        })
        .unwrap();
    // The store is still whole: every stored body, decoded, is as long as its recorded size.
    let bodies: Vec<(i64, Vec<u8>, Option<String>)> = runtime
        .block_on(
            sqlx::query_as(
                "SELECT bytes, body, body_encoding FROM raw_inputs WHERE body IS NOT NULL",
            )
            .fetch_all(env.store.pool()),
        )
        .unwrap();
    assert!(!bodies.is_empty());
    for (bytes, body, encoding) in bodies {
        assert_eq!(
            received_bytes(&body, encoding.as_deref()).len() as i64,
            bytes
        );
    }
}

/// Mutated inputs through the real binary, then an audit of the night: only documented exit
/// statuses, no panic.
#[test]
fn mutated_inputs_give_only_documented_exit_statuses() {
    let samples = samples();
    let mut runner = TestRunner::new(config(20));
    runner
        .run(&case(samples.len()), |case| {
            let sample = &samples[case.sample];
            let bytes = mutate(sample, &case);
            let dir = tempfile::tempdir().unwrap();
            let input = dir.path().join("in");
            // The mutated file among good ones, so the audit has a night to judge.
            write_case(
                &input,
                &example("details/page-001.json"),
                &example("details/page-001.json").bytes,
            );
            write_case(&input, sample, &bytes);
            let url = TestEnv::url_in(dir.path());
            let imported = binary(dir.path())
                .args(["--db", &url, "import", input.to_str().unwrap()])
                .output()
                .unwrap();
            let stderr = text(&imported.stderr);
            prop_assert!(!stderr.contains("panicked"), "{}", stderr);
            prop_assert!(
                matches!(imported.status.code(), Some(0 | 1)),
                "import of mutated {} exited {:?}: {}",
                sample.path,
                imported.status.code(),
                stderr
            );
            let audited = binary(dir.path())
                .args(["--db", &url, "--reports-dir", "reports"])
                .args(EXAMPLE_AUDIT)
                .output()
                .unwrap();
            let stderr = text(&audited.stderr);
            prop_assert!(!stderr.contains("panicked"), "{}", stderr);
            prop_assert!(
                matches!(audited.status.code(), Some(0 | 1 | 3)),
                "audit after mutated {} exited {:?}: {}",
                sample.path,
                audited.status.code(),
                stderr
            );
            Ok(())
        })
        .unwrap();
}

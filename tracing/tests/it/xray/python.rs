//! The trace-header parser agrees with the installed Python `aws-xray-sdk` on a shared corpus,
//! except where the Python behaviour is a documented quirk.

use std::process::Command;

use lamina_tracing::xray::{SamplingDecision, TraceHeader, TraceId};
use serde_json::{Value, json};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

/// Headers both parsers must read the same way.
fn agreeing() -> Vec<String> {
    vec![
        format!("Root={ROOT};Parent={PARENT};Sampled=1"),
        format!("Root={ROOT};Parent={PARENT};Sampled=0"),
        format!("Sampled=?;Parent={PARENT};Root={ROOT}"),
        format!("Root={ROOT}"),
        format!("Root={ROOT};Sampled=yes"),
        format!("Root={ROOT};Sampled=2"),
        format!("Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:1"),
        format!("Root={ROOT};Parent={PARENT};Sampled=1;Lineage=10:1234abcd:3;Foo=bar"),
        format!("Root={ROOT};Self=1-67891234-12456789abcdef012345678;Sampled=1"),
        format!("root={ROOT};parent={PARENT}"),
        format!("  Root={ROOT};Parent={PARENT};Sampled=1  "),
        format!("Parent={PARENT}"),
        "Sampled=1".to_owned(),
        String::new(),
    ]
}

/// Headers where Python's reading is a quirk the reference says not to copy, and why.
fn quirks() -> Vec<(String, &'static str)> {
    vec![
        (
            format!("Root={ROOT};Parent={PARENT};Sampled=1;"),
            "a trailing ; makes Python drop the whole header",
        ),
        (
            format!("Root={ROOT};Parent={PARENT};junk"),
            "a pair without = makes Python drop the whole header",
        ),
        (
            format!("Root={ROOT}; Parent={PARENT}; Sampled=1"),
            "Python does not trim pairs, so ' Parent' is an unknown key",
        ),
        (
            format!("Root=abc;Parent={PARENT};Sampled=1"),
            "Python accepts any Root",
        ),
        (
            format!("Root={ROOT};Parent=xyz;Sampled=1"),
            "Python accepts any Parent",
        ),
        (
            format!("Root={ROOT};Parent={PARENT};Sampled=1;Foo=a=b"),
            "Python cuts a value at its second =",
        ),
    ]
}

const SCRIPT: &str = r#"
import json, sys
from aws_xray_sdk.core.models.trace_header import TraceHeader
out = []
for header in json.load(sys.stdin):
    parsed = TraceHeader.from_header_str(header)
    sampled = parsed.sampled
    out.append({
        "root": parsed.root,
        "parent": parsed.parent,
        "sampled": None if sampled is None else str(sampled),
        "extra": [[k, v] for k, v in (parsed.data or {}).items()],
    })
json.dump(out, sys.stdout)
"#;

fn python_reading(headers: &[String]) -> Option<Vec<Value>> {
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let input = serde_json::to_vec(headers).expect("json");
    std::io::Write::write_all(child.stdin.as_mut()?, &input).ok()?;
    drop(child.stdin.take());
    let output = child.wait_with_output().ok()?;
    if !output.status.success() {
        return None;
    }
    serde_json::from_slice(&output.stdout).ok()
}

fn our_reading(header: &str) -> Value {
    let parsed = TraceHeader::parse(header);
    json!({
        "root": parsed.root.as_ref().map(TraceId::as_str),
        "parent": parsed.parent.map(|parent| parent.to_string()),
        "sampled": parsed.sampled.map(|sampled| match sampled {
            SamplingDecision::Sampled => "1",
            SamplingDecision::NotSampled => "0",
            SamplingDecision::Requested => "?",
        }),
        "extra": parsed.extra.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
    })
}

#[test]
fn trace_header_agrees_with_the_python_sdk() {
    let agreeing = agreeing();
    let quirks = quirks();
    let mut corpus = agreeing.clone();
    corpus.extend(quirks.iter().map(|(header, _)| header.clone()));
    let Some(python) = python_reading(&corpus) else {
        // Only an explicit opt-out skips: a missing SDK must not turn this test green silently.
        assert!(
            std::env::var_os("LAMINA_SKIP_PYTHON").is_some(),
            "python3 with aws-xray-sdk is needed (set LAMINA_SKIP_PYTHON=1 to skip)"
        );
        return;
    };
    assert_eq!(python.len(), corpus.len());
    for (header, theirs) in agreeing.iter().zip(&python) {
        assert_eq!(&our_reading(header), theirs, "{header:?}");
    }
    for ((header, why), theirs) in quirks.iter().zip(&python[agreeing.len()..]) {
        assert_ne!(
            &our_reading(header),
            theirs,
            "{header:?} was expected to differ: {why}"
        );
    }
    // Where Python drops or keeps the whole header, we read the recommended superset.
    let trailing = TraceHeader::parse(&quirks[0].0);
    assert_eq!(
        trailing.to_string(),
        format!("Root={ROOT};Parent={PARENT};Sampled=1")
    );
    let cut = TraceHeader::parse(&quirks[5].0);
    assert_eq!(cut.extra, vec![("Foo".to_owned(), "a=b".to_owned())]);
}

#[test]
fn formatting_agrees_with_the_python_sdk_on_valid_headers() {
    let headers = vec![
        format!("Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:1"),
        format!("Sampled=?;Root={ROOT}"),
    ];
    let script = r#"
import json, sys
from aws_xray_sdk.core.models.trace_header import TraceHeader
json.dump([TraceHeader.from_header_str(h).to_header_str() for h in json.load(sys.stdin)], sys.stdout)
"#;
    let output = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut child| {
            let input = serde_json::to_vec(&headers).expect("json");
            if let Some(stdin) = child.stdin.as_mut() {
                std::io::Write::write_all(stdin, &input)?;
            }
            drop(child.stdin.take());
            child.wait_with_output()
        });
    let Ok(output) = output.map(|output| output.stdout) else {
        assert!(
            std::env::var_os("LAMINA_SKIP_PYTHON").is_some(),
            "python3 is needed"
        );
        return;
    };
    let theirs: Vec<String> = serde_json::from_slice(&output).expect("python output");
    let ours: Vec<String> = headers
        .iter()
        .map(|h| TraceHeader::parse(h).to_string())
        .collect();
    assert_eq!(ours, theirs);
}

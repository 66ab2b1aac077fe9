#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::*;
use crate::xray::{ValidatedDocument, store::Store, validate_document};

const TRACE: &str = "1-6553f100-0123456789abcdef01234567";

fn doc(value: Value) -> ValidatedDocument {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(0x6553_f100);
    validate_document(&value.to_string(), now).unwrap()
}

fn segment(id: &str, start: f64, end: Option<f64>) -> Value {
    let mut value =
        json!({"name": format!("seg-{id}"), "id": id, "trace_id": TRACE, "start_time": start});
    match end {
        Some(end) => value["end_time"] = json!(end),
        None => value["in_progress"] = json!(true),
    }
    value
}

fn sub(id: &str, parent: &str, start: f64) -> Value {
    json!({"type": "subsegment", "name": format!("sub-{id}"), "id": id, "parent_id": parent,
           "trace_id": TRACE, "start_time": start, "end_time": start + 1.0})
}

fn state(documents: Vec<Value>) -> TraceState {
    let mut state = TraceState::new(TRACE);
    for document in documents {
        state.insert(doc(document)).unwrap();
    }
    state
}

/// `(depth, name)` of every entity, depth-first.
fn shape(trace: &Trace) -> Vec<(usize, String)> {
    trace
        .entities()
        .into_iter()
        .map(|(depth, entity)| (depth, entity.name.clone()))
        .collect()
}

fn names(list: &[(usize, &str)]) -> Vec<(usize, String)> {
    list.iter()
        .map(|(depth, name)| (*depth, (*name).to_owned()))
        .collect()
}

#[test]
fn streamed_children_before_parents_complete_when_the_segment_arrives() {
    let mut state = TraceState::new(TRACE);
    state
        .insert(doc(sub("00000000000000c1", "00000000000000b1", 12.0)))
        .unwrap();
    state
        .insert(doc(sub("00000000000000b1", "00000000000000a1", 11.0)))
        .unwrap();
    state
        .insert(doc(sub("00000000000000b2", "00000000000000a1", 10.5)))
        .unwrap();
    let before = state.assemble();
    assert!(!before.is_complete());
    assert_eq!(before.missing()[0], Missing::NoSegment);
    assert!(before.missing().contains(&Missing::Orphan {
        id: "00000000000000b1".into(),
        name: "sub-00000000000000b1".into(),
        parent_id: "00000000000000a1".into()
    }));
    state
        .insert(doc(segment("00000000000000a1", 10.0, Some(20.0))))
        .unwrap();
    let trace = state.assemble();
    assert_eq!(trace.missing(), &[]);
    assert_eq!(
        shape(&trace),
        names(&[
            (0, "seg-00000000000000a1"),
            (1, "sub-00000000000000b2"),
            (1, "sub-00000000000000b1"),
            (2, "sub-00000000000000c1")
        ])
    );
    assert_eq!(trace.documents().len(), 4);
}

#[test]
fn nested_subsegments_and_streamed_ones_share_a_tree() {
    let mut root = segment("00000000000000a1", 10.0, Some(20.0));
    root["subsegments"] = json!([{"name": "nested", "id": "00000000000000b1", "start_time": 11.0, "end_time": 12.0,
        "subsegments": [{"name": "deep", "id": "00000000000000c1", "start_time": 11.5, "end_time": 11.6}]}]);
    let trace = state(vec![
        root,
        sub("00000000000000d1", "00000000000000c1", 11.55),
    ])
    .assemble();
    assert!(trace.is_complete(), "{:?}", trace.missing());
    assert_eq!(
        shape(&trace),
        names(&[
            (0, "seg-00000000000000a1"),
            (1, "nested"),
            (2, "deep"),
            (3, "sub-00000000000000d1")
        ])
    );
    assert_eq!(
        trace
            .entity("00000000000000c1")
            .unwrap()
            .parent_id
            .as_deref(),
        Some("00000000000000b1")
    );
}

#[test]
fn open_entities_and_orphans_are_reported() {
    let mut root = segment("00000000000000a1", 10.0, Some(20.0));
    root["subsegments"] = json!([{"name": "open", "id": "00000000000000b1", "start_time": 11.0, "in_progress": true}]);
    let trace = state(vec![
        root,
        sub("00000000000000d1", "00000000000000ff", 12.0),
    ])
    .assemble();
    assert_eq!(
        trace.missing(),
        &[
            Missing::Orphan {
                id: "00000000000000d1".into(),
                name: "sub-00000000000000d1".into(),
                parent_id: "00000000000000ff".into()
            },
            Missing::Open {
                id: "00000000000000b1".into(),
                name: "open".into()
            },
        ]
    );
    assert_eq!(
        MissingParts(trace.missing().to_vec()).to_string(),
        "\"sub-00000000000000d1\" (00000000000000d1) has orphan parent id 00000000000000ff; \"open\" (00000000000000b1) is still in progress"
    );
}

#[test]
fn a_segment_with_an_unknown_parent_is_a_root_and_a_known_one_is_attached() {
    let mut upstream = segment("00000000000000a1", 10.0, Some(20.0));
    upstream["parent_id"] = json!("00000000000000ee");
    let mut downstream = segment("00000000000000a2", 11.0, Some(19.0));
    downstream["parent_id"] = json!("00000000000000a1");
    let trace = state(vec![downstream, upstream]).assemble();
    assert!(trace.is_complete(), "{:?}", trace.missing());
    assert_eq!(
        shape(&trace),
        names(&[(0, "seg-00000000000000a1"), (1, "seg-00000000000000a2")])
    );
}

#[test]
fn a_complete_document_replaces_its_in_progress_version() {
    let mut state = state(vec![segment("00000000000000a1", 10.0, None)]);
    assert!(!state.assemble().is_complete());
    state
        .insert(doc(segment("00000000000000a1", 10.0, Some(20.0))))
        .unwrap();
    let trace = state.assemble();
    assert!(trace.is_complete());
    assert_eq!(trace.documents().len(), 1);
    assert_eq!(trace.roots()[0].end_time, Some(20.0));
}

#[test]
fn a_streamed_subsegment_supersedes_its_copy_in_an_in_progress_parent() {
    let mut open = segment("00000000000000a1", 10.0, None);
    open["subsegments"] = json!([{"name": "early", "id": "00000000000000b1", "start_time": 11.0, "in_progress": true}]);
    let mut state = state(vec![open]);
    state
        .insert(doc(sub("00000000000000b1", "00000000000000a1", 11.0)))
        .unwrap();
    state
        .insert(doc(segment("00000000000000a1", 10.0, Some(20.0))))
        .unwrap();
    let trace = state.assemble();
    assert!(trace.is_complete(), "{:?}", trace.missing());
    assert_eq!(
        shape(&trace),
        names(&[(0, "seg-00000000000000a1"), (1, "sub-00000000000000b1")])
    );
}

#[test]
fn duplicates_are_refused() {
    let duplicate = |id: &str| Err(RejectReason::DuplicateId { id: id.into() });
    let mut state = state(vec![
        segment("00000000000000a1", 10.0, Some(20.0)),
        sub("00000000000000b1", "00000000000000a1", 11.0),
    ]);
    assert_eq!(
        state.insert(doc(segment("00000000000000a1", 10.0, Some(20.0)))),
        duplicate("00000000000000a1")
    );
    assert_eq!(
        state.insert(doc(segment("00000000000000a1", 10.0, None))),
        duplicate("00000000000000a1")
    );
    assert_eq!(
        state.insert(doc(sub("00000000000000b1", "00000000000000a1", 11.0))),
        duplicate("00000000000000b1")
    );
    let mut nested = segment("00000000000000a2", 10.0, Some(20.0));
    nested["subsegments"] =
        json!([{"name": "copy", "id": "00000000000000b1", "start_time": 11.0, "end_time": 12.0}]);
    assert_eq!(state.insert(doc(nested)), duplicate("00000000000000b1"));
    let mut open = state_with_open_sub();
    assert_eq!(open.insert(doc(json!({"type": "subsegment", "name": "again", "id": "00000000000000b1",
        "parent_id": "00000000000000a1", "trace_id": TRACE, "start_time": 11.0, "in_progress": true}))), duplicate("00000000000000b1"));
    assert_eq!(state.assemble().documents().len(), 2);
}

fn state_with_open_sub() -> TraceState {
    state(vec![
        segment("00000000000000a1", 10.0, Some(20.0)),
        json!({"type": "subsegment", "name": "open", "id": "00000000000000b1", "parent_id": "00000000000000a1",
               "trace_id": TRACE, "start_time": 11.0, "in_progress": true}),
    ])
}

#[test]
fn parent_cycles_are_unreachable_not_complete() {
    let trace = state(vec![
        segment("00000000000000a1", 10.0, Some(20.0)),
        sub("00000000000000b1", "00000000000000b2", 11.0),
        sub("00000000000000b2", "00000000000000b1", 12.0),
    ])
    .assemble();
    assert_eq!(
        trace.missing(),
        &[
            Missing::Unreachable {
                id: "00000000000000b1".into(),
                name: "sub-00000000000000b1".into()
            },
            Missing::Unreachable {
                id: "00000000000000b2".into(),
                name: "sub-00000000000000b2".into()
            },
        ]
    );
}

#[test]
fn the_store_keeps_the_most_recent_traces_and_rejections() {
    let mut store = Store::new(2, 1);
    for (index, trace_id) in [
        "1-6553f100-000000000000000000000001",
        "1-6553f100-000000000000000000000002",
        "1-6553f100-000000000000000000000003",
    ]
    .iter()
    .enumerate()
    {
        let mut value = segment("00000000000000a1", 10.0, Some(20.0));
        value["trace_id"] = json!(trace_id);
        let accepted = store.accept(doc(value)).unwrap();
        assert_eq!(
            accepted
                .completed
                .map(|trace| trace.id().to_owned())
                .as_deref(),
            Some(*trace_id),
            "{index}"
        );
    }
    let kept: Vec<String> = store
        .traces()
        .iter()
        .map(|trace| trace.id().to_owned())
        .collect();
    assert_eq!(
        kept,
        [
            "1-6553f100-000000000000000000000002",
            "1-6553f100-000000000000000000000003"
        ]
    );
    assert!(store.trace("1-6553f100-000000000000000000000001").is_none());
    let mut value = segment("00000000000000a1", 10.0, Some(20.0));
    value["trace_id"] = json!("1-6553f100-000000000000000000000003");
    let rejection = store.accept(doc(value)).unwrap_err();
    assert_eq!(
        rejection.trace_id.as_deref(),
        Some("1-6553f100-000000000000000000000003")
    );
    store.reject(rejection.clone());
    store.reject(rejection.clone());
    assert_eq!(store.rejections(), vec![rejection]);
}

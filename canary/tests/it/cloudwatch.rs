//! `CloudWatchSource` through the real CloudWatch SDK with `aws-smithy-mocks` answering: moto does
//! not speak the SDK's Smithy RPC v2 CBOR protocol. The tests check the requests the adapter
//! builds and how it reads answers and errors.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudwatch::operation::describe_alarms::{DescribeAlarmsInput, DescribeAlarmsOutput};
use aws_sdk_cloudwatch::operation::get_metric_data::{
    GetMetricDataError, GetMetricDataInput, GetMetricDataOutput,
};
use aws_sdk_cloudwatch::types::error::InvalidNextToken;
use aws_sdk_cloudwatch::types::{
    AlarmType, CompositeAlarm, MetricAlarm, MetricDataResult, StateValue, StatusCode,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_types::DateTime;
use lamina_canary::aws::CloudWatchSource;
use lamina_canary::ports::{
    AlarmState, MetricQuery, MetricSource, MetricValue, MetricWindow, PortError, Statistic,
};

fn mocked(rules: &[&Rule]) -> CloudWatchSource {
    mocked_in(RuleMode::MatchAny, rules)
}

fn mocked_in(mode: RuleMode, rules: &[&Rule]) -> CloudWatchSource {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(mode);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .http_client(create_mock_http_client())
        .retry_config(RetryConfig::disabled())
        .interceptor(interceptor)
        .build();
    CloudWatchSource::new(Client::from_conf(config))
}

const START: u64 = 1_764_000_000;

fn window(seconds: u64) -> MetricWindow {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(START);
    MetricWindow {
        start,
        end: start + Duration::from_secs(seconds),
    }
}

fn lambda_query(id: &str, metric: &str, statistic: Statistic) -> MetricQuery {
    MetricQuery {
        id: id.to_owned(),
        namespace: "AWS/Lambda".to_owned(),
        metric_name: metric.to_owned(),
        dimensions: vec![
            ("FunctionName".to_owned(), "orders".to_owned()),
            ("Resource".to_owned(), "orders:live".to_owned()),
            ("ExecutedVersion".to_owned(), "7".to_owned()),
        ],
        statistic,
    }
}

fn result(id: &str, points: &[(u64, f64)]) -> MetricDataResult {
    let mut builder = MetricDataResult::builder()
        .id(id)
        .status_code(StatusCode::Complete);
    for &(seconds, value) in points {
        builder = builder
            .timestamps(DateTime::from_secs(seconds as i64))
            .values(value);
    }
    builder.build()
}

type Seen<T> = Arc<Mutex<Vec<T>>>;

#[tokio::test]
async fn one_request_for_every_query_with_one_period_over_the_window() {
    let seen: Seen<GetMetricDataInput> = Arc::default();
    let record = seen.clone();
    let rule = mock!(Client::get_metric_data).then_compute_output(move |input| {
        record.lock().unwrap().push(input.clone());
        GetMetricDataOutput::builder()
            .metric_data_results(result("q0", &[(START, 120.0)]))
            // The window straddles two periods: two datapoints each.
            .metric_data_results(result("q1", &[(START + 120, 2.0), (START, 3.0)]))
            .metric_data_results(result("q2", &[(START, 700.0), (START + 120, 950.0)]))
            .metric_data_results(result("q3", &[]))
            .build()
    });
    let source = mocked(&[&rule]);
    let queries = [
        lambda_query("canary invocations", "Invocations", Statistic::Sum),
        lambda_query("canary errors", "Errors", Statistic::Sum),
        lambda_query("canary p99", "Duration", Statistic::Percentile(99.0)),
        lambda_query("canary throttles", "Throttles", Statistic::Sum),
    ];
    let values = source.fetch(&queries, window(90)).await.unwrap();
    assert_eq!(
        values,
        vec![
            MetricValue {
                id: "canary invocations".into(),
                value: Some(120.0)
            },
            MetricValue {
                id: "canary errors".into(),
                value: Some(5.0)
            },
            MetricValue {
                id: "canary p99".into(),
                value: Some(950.0)
            },
            MetricValue {
                id: "canary throttles".into(),
                value: None
            },
        ]
    );
    assert_eq!(rule.num_calls(), 1);

    let seen = seen.lock().unwrap();
    let input = &seen[0];
    assert_eq!(input.start_time(), Some(&DateTime::from_secs(START as i64)));
    assert_eq!(
        input.end_time(),
        Some(&DateTime::from_secs(START as i64 + 90))
    );
    let sent = input.metric_data_queries();
    assert_eq!(sent.len(), 4);
    let stats: Vec<_> = sent
        .iter()
        .map(|q| q.metric_stat().unwrap().stat().unwrap())
        .collect();
    assert_eq!(stats, ["Sum", "Sum", "p99", "Sum"]);
    for (index, query) in sent.iter().enumerate() {
        assert_eq!(query.id(), Some(format!("q{index}").as_str()));
        assert_eq!(query.return_data(), Some(true));
        let stat = query.metric_stat().unwrap();
        // 90 s rounded up to a whole minute.
        assert_eq!(stat.period(), Some(120));
        let metric = stat.metric().unwrap();
        assert_eq!(metric.namespace(), Some("AWS/Lambda"));
        let dimensions: Vec<_> = metric
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        assert_eq!(
            dimensions,
            [
                ("FunctionName", "orders"),
                ("Resource", "orders:live"),
                ("ExecutedVersion", "7")
            ]
        );
    }
    assert_eq!(
        sent[2]
            .metric_stat()
            .unwrap()
            .metric()
            .unwrap()
            .metric_name(),
        Some("Duration")
    );
}

#[tokio::test]
async fn statistics_combine_as_documented() {
    let rule = mock!(Client::get_metric_data).then_output(|| {
        let points = [(START + 60, 4.0), (START, 9.0)];
        let mut output = GetMetricDataOutput::builder();
        for index in 0..6 {
            output = output.metric_data_results(result(&format!("q{index}"), &points));
        }
        output.build()
    });
    let source = mocked(&[&rule]);
    let statistics = [
        Statistic::Sum,
        Statistic::SampleCount,
        Statistic::Maximum,
        Statistic::Minimum,
        Statistic::Average,
        Statistic::Percentile(99.9),
    ];
    let queries: Vec<_> = statistics
        .iter()
        .map(|s| lambda_query(&format!("{s:?}"), "Duration", s.clone()))
        .collect();
    let values: Vec<_> = source
        .fetch(&queries, window(120))
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.value.unwrap())
        .collect();
    // Sum, SampleCount: added; Maximum, Minimum; Average and percentiles: the latest datapoint.
    assert_eq!(values, [13.0, 13.0, 9.0, 4.0, 4.0, 4.0]);
}

#[tokio::test]
async fn follows_next_token_pages() {
    let seen: Seen<Option<String>> = Arc::default();
    let (first, second) = (seen.clone(), seen.clone());
    let page1 = mock!(Client::get_metric_data).then_compute_output(move |input| {
        first
            .lock()
            .unwrap()
            .push(input.next_token().map(str::to_owned));
        GetMetricDataOutput::builder()
            .metric_data_results(result("q0", &[(START, 5.0)]))
            .next_token("page-2")
            .build()
    });
    let page2 = mock!(Client::get_metric_data).then_compute_output(move |input| {
        second
            .lock()
            .unwrap()
            .push(input.next_token().map(str::to_owned));
        GetMetricDataOutput::builder()
            .metric_data_results(result("q0", &[(START + 60, 6.0)]))
            .metric_data_results(result("q1", &[(START, 1.0)]))
            .build()
    });
    let source = mocked_in(RuleMode::Sequential, &[&page1, &page2]);
    let queries = [
        lambda_query("a", "Invocations", Statistic::Sum),
        lambda_query("b", "Errors", Statistic::Sum),
    ];
    let values = source.fetch(&queries, window(60)).await.unwrap();
    assert_eq!(values[0].value, Some(11.0));
    assert_eq!(values[1].value, Some(1.0));
    assert_eq!(*seen.lock().unwrap(), [None, Some("page-2".to_owned())]);
}

#[tokio::test]
async fn refuses_what_it_cannot_send() {
    let rule =
        mock!(Client::get_metric_data).then_output(|| GetMetricDataOutput::builder().build());
    let source = mocked(&[&rule]);
    assert_eq!(source.fetch(&[], window(60)).await.unwrap(), []);
    let many: Vec<_> = (0..501)
        .map(|i| lambda_query(&i.to_string(), "Errors", Statistic::Sum))
        .collect();
    assert!(matches!(
        source.fetch(&many, window(60)).await,
        Err(PortError::Rejected(_))
    ));
    let one = [lambda_query("a", "Errors", Statistic::Sum)];
    assert!(matches!(
        source.fetch(&one, window(0)).await,
        Err(PortError::Rejected(_))
    ));
    let bad = [lambda_query("a", "Duration", Statistic::Percentile(120.0))];
    assert!(matches!(
        source.fetch(&bad, window(60)).await,
        Err(PortError::Rejected(_))
    ));
    assert_eq!(rule.num_calls(), 0);
}

#[tokio::test]
async fn errors_map_to_port_errors() {
    let one = [lambda_query("a", "Errors", Statistic::Sum)];
    type Check = fn(&PortError) -> bool;
    let cases: Vec<(Rule, Check)> = vec![
        (
            mock!(Client::get_metric_data)
                .sequence()
                .http_status(500, None)
                .build(),
            |e| matches!(e, PortError::Unavailable(_)),
        ),
        (
            mock!(Client::get_metric_data)
                .sequence()
                .http_status(503, None)
                .build(),
            |e| matches!(e, PortError::Unavailable(_)),
        ),
        (
            mock!(Client::get_metric_data)
                .sequence()
                .http_status(400, None)
                .build(),
            |e| matches!(e, PortError::Rejected(_)),
        ),
        (
            mock!(Client::get_metric_data).then_error(|| {
                GetMetricDataError::InvalidNextToken(InvalidNextToken::builder().build())
            }),
            |e| matches!(e, PortError::Unavailable(_)),
        ),
        (
            mock!(Client::get_metric_data).then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("q0")
                            .status_code(StatusCode::InternalError)
                            .build(),
                    )
                    .build()
            }),
            |e| matches!(e, PortError::Unavailable(m) if m.contains("could not compute a")),
        ),
        (
            mock!(Client::get_metric_data).then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("q0")
                            .status_code(StatusCode::Forbidden)
                            .build(),
                    )
                    .build()
            }),
            |e| matches!(e, PortError::Rejected(_)),
        ),
    ];
    for (rule, expected) in cases {
        let error = mocked(&[&rule]).fetch(&one, window(60)).await.unwrap_err();
        assert!(expected(&error), "{error:?}");
    }
}

#[tokio::test]
async fn alarm_states_by_name() {
    let seen: Seen<DescribeAlarmsInput> = Arc::default();
    let record = seen.clone();
    let rule = mock!(Client::describe_alarms).then_compute_output(move |input| {
        record.lock().unwrap().push(input.clone());
        DescribeAlarmsOutput::builder()
            .metric_alarms(
                MetricAlarm::builder()
                    .alarm_name("orders-errors")
                    .state_value(StateValue::Alarm)
                    .build(),
            )
            .metric_alarms(
                MetricAlarm::builder()
                    .alarm_name("orders-latency")
                    .state_value(StateValue::InsufficientData)
                    .build(),
            )
            .composite_alarms(
                CompositeAlarm::builder()
                    .alarm_name("orders-health")
                    .state_value(StateValue::Ok)
                    .build(),
            )
            .build()
    });
    let source = mocked(&[&rule]);
    let names = ["orders-health", "orders-errors", "orders-latency"].map(str::to_owned);
    assert_eq!(
        source.alarm_states(&names).await.unwrap(),
        [
            ("orders-health".to_owned(), AlarmState::Ok),
            ("orders-errors".to_owned(), AlarmState::Alarm),
            ("orders-latency".to_owned(), AlarmState::InsufficientData),
        ]
    );
    let input = seen.lock().unwrap()[0].clone();
    assert_eq!(input.alarm_names(), names);
    assert_eq!(
        input.alarm_types(),
        [AlarmType::MetricAlarm, AlarmType::CompositeAlarm]
    );

    let missing = ["orders-errors".to_owned(), "nosuch".to_owned()];
    let error = source.alarm_states(&missing).await.unwrap_err();
    assert_eq!(
        error,
        PortError::NotFound("alarm nosuch does not exist".to_owned())
    );
    assert_eq!(source.alarm_states(&[]).await.unwrap(), []);
    assert_eq!(rule.num_calls(), 2);
}

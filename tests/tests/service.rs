//! Generic gRPC tooling can find and check the server: health and reflection.

use entente_tests::TestServer;
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

/// The services reflection lists.
async fn listed_services(server: &TestServer) -> Vec<String> {
    let mut client = ServerReflectionClient::new(server.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    let reply = stream.next().await.expect("one reply").expect("ok");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply: {reply:?}");
    };
    list.service.into_iter().map(|s| s.name).collect()
}

#[tokio::test]
async fn health_reports_serving() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel.clone());
    // The server as a whole, and every entente.v1 service it lists, by name.
    let ours: Vec<String> = listed_services(&server)
        .await
        .into_iter()
        .filter(|s| s.starts_with("entente.v1."))
        .collect();
    assert_eq!(ours.len(), 8, "{ours:?}");
    for service in std::iter::once(String::new()).chain(ours) {
        let r = health
            .check(HealthCheckRequest {
                service: service.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("health of {service:?}: {e:?}"))
            .into_inner();
        assert_eq!(r.status(), ServingStatus::Serving, "{service:?}");
    }
}

#[tokio::test]
async fn reflection_lists_the_entente_services() {
    let server = TestServer::start().await;
    let names = listed_services(&server).await;
    for expected in [
        "entente.v1.DirectoryService",
        "entente.v1.AuditService",
        "entente.v1.CalendarService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected} missing from {names:?}"
        );
    }
}

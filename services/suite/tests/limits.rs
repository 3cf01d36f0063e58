//! Request size stays bounded with authentication on: a message over `server.max_message_bytes`
//! (4 MiB by default) is refused before it is decoded, for an authenticated caller as for
//! anyone, and the connection keeps serving.
mod common;

use crm_platform::testing::{Backend, RawCodec};
use tonic::Code;

const CREATE: &str = "/crm.customers.v1.CustomerService/CreateCustomer";
const GET: &str = "/crm.customers.v1.CustomerService/GetCustomer";

async fn call(
    channel: &tonic::transport::Channel,
    path: &str,
    body: Vec<u8>,
    token: &str,
) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone())
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    grpc.ready().await.expect("ready");
    let mut req = tonic::Request::new(body);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    grpc.unary(req, path.parse().expect("path"), RawCodec)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn an_oversized_request_is_refused_and_the_server_keeps_serving() {
    let services = [crm_customers::GRPC_SERVICE.to_owned()];
    let suite = common::spawn_suite(Backend::Sqlite, &services).await;
    let channel = tonic::transport::Endpoint::from_shared(suite.url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let huge = vec![b'x'; 5 << 20];
    let err = call(&channel, CREATE, huge.clone(), &suite.token)
        .await
        .expect_err("over the limit");
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    let err = call(&channel, CREATE, huge, "not-a-token")
        .await
        .expect_err("refused");
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "auth answers before the body is read"
    );
    // The same connection still serves an ordinary call (NOT_FOUND for a customer that is not
    // there: the request was decoded and handled).
    let get = prost::Message::encode_to_vec(&crm_proto::customers::GetCustomerRequest {
        name: format!("customers/{}", uuid::Uuid::now_v7()),
    });
    let err = call(&channel, GET, get, &suite.token)
        .await
        .expect_err("no such customer");
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
}

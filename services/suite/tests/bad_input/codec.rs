//! Calls any method of the descriptor set with dynamic messages: a tonic codec that encodes
//! and decodes `prost_reflect::DynamicMessage` by descriptor.
use futures::StreamExt;
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

#[derive(Clone)]
pub struct DynamicCodec {
    output: MessageDescriptor,
}

pub struct DynamicEncoder;

pub struct DynamicDecoder(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }
    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.output.clone())
    }
}

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("test client could not encode: {e}")))
    }
}

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| {
                // Marked so the report tells a bad response apart from a server error.
                Status::new(
                    Code::DataLoss,
                    format!("test client could not decode the response: {e}"),
                )
            })
    }
}

/// Where calls go and the bearer token they carry (one with every scope of the suite).
pub struct Target {
    pub endpoint: Endpoint,
    pub authorization: tonic::metadata::AsciiMetadataValue,
}

impl Target {
    pub fn new(url: String, token: &str) -> Self {
        Self {
            endpoint: Endpoint::from_shared(url).expect("endpoint"),
            authorization: format!("Bearer {token}").parse().expect("ascii token"),
        }
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        req.metadata_mut()
            .insert("authorization", self.authorization.clone());
        req.set_timeout(std::time::Duration::from_secs(20));
        req
    }
}

/// Sends `request` to `method` (a one-message stream for client or bidi streaming) and
/// returns the response (the first item for server or bidi streaming; `None` when the stream
/// ended without one).
///
/// Each call has a connection of its own: a response that breaks a connection (e.g. error
/// details larger than the client's header limit) is reported for the call that caused it,
/// not for the next one.
pub async fn call(
    target: &Target,
    method: &MethodDescriptor,
    request: DynamicMessage,
) -> Result<Option<DynamicMessage>, Status> {
    let channel: Channel = target
        .endpoint
        .connect()
        .await
        .map_err(|e| Status::unavailable(format!("test client could not connect: {e}")))?;
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(64 << 20);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
    let path: http::uri::PathAndQuery =
        format!("/{}/{}", method.parent_service().full_name(), method.name())
            .parse()
            .expect("method path");
    let codec = DynamicCodec {
        output: method.output(),
    };
    let req = target.request(request.clone());
    match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => Ok(Some(grpc.unary(req, path, codec).await?.into_inner())),
        (true, false) => {
            let stream = futures::stream::iter([request]);
            let resp = grpc
                .client_streaming(target.request(stream), path, codec)
                .await?;
            Ok(Some(resp.into_inner()))
        }
        (false, true) => {
            let mut items = grpc.server_streaming(req, path, codec).await?.into_inner();
            items.next().await.transpose()
        }
        (true, true) => {
            let stream = futures::stream::iter([request]);
            let mut items = grpc
                .streaming(target.request(stream), path, codec)
                .await?
                .into_inner();
            items.next().await.transpose()
        }
    }
}

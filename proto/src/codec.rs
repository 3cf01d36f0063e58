//! The codec of every generated client and server: prost, except that a message which cannot
//! be decoded is the sender's fault. tonic's `ProstCodec` answers INTERNAL for it (following
//! grpc's status-code table), which tells a client that sent garbage, or a `Struct` nested
//! deeper than prost's recursion limit, that the server is broken. Here it is
//! INVALID_ARGUMENT with `ErrorInfo` reason [`MALFORMED_REQUEST`]. (Clients share the codec,
//! so an undecodable response is reported the same way.)
use std::collections::HashMap;
use std::marker::PhantomData;
use tonic::Status;
use tonic::codec::{BufferSettings, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};
use tonic_types::{ErrorDetails, StatusExt as _};

/// `ErrorInfo` reason of a message that cannot be decoded.
pub const MALFORMED_REQUEST: &str = "MALFORMED_REQUEST";
/// `ErrorInfo` domain of codec errors (the codec does not know the service).
pub const DOMAIN: &str = "crm";

#[derive(Debug, Clone)]
pub struct Codec<T, U> {
    inner: ProstCodec<T, U>,
}

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Self {
            inner: ProstCodec::default(),
        }
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = MappedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        MappedDecoder {
            inner: self.inner.decoder(),
            _pd: PhantomData,
        }
    }
}

/// Prost's decoder with decode errors mapped to INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub struct MappedDecoder<U> {
    inner: ProstDecoder<U>,
    _pd: PhantomData<U>,
}

/// The field path and cause of a prost decode error. prost writes its error as
/// `failed to decode Protobuf message: Inner.field: Outer.field: cause`, innermost first;
/// the path is read outermost first and stops at a `google.protobuf` container (a `Struct`
/// nested 90 levels is reported at the field that holds it, not 90 levels deep).
fn decode_path(error: &str) -> (String, String) {
    let rest = error
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(error);
    let is_entry = |p: &str| {
        p.split_once('.').is_some_and(|(m, f)| {
            let ident =
                |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            ident(m) && ident(f)
        })
    };
    let parts: Vec<&str> = rest.split(": ").collect();
    let depth = parts.iter().take_while(|p| is_entry(p)).count();
    let cause = parts[depth..].join(": ");
    let mut path = Vec::new();
    for part in parts[..depth].iter().rev() {
        let Some((message, field)) = part.split_once('.') else {
            break;
        };
        if matches!(message, "Struct" | "Value" | "ListValue") || path.len() == 8 {
            break;
        }
        path.push(field);
    }
    (path.join("."), cause)
}

/// The status for a message that cannot be decoded as `type_name`: INVALID_ARGUMENT with the
/// field the decoder stopped at as a `BadRequest` violation.
pub fn malformed(type_name: &str, error: &str) -> Status {
    let mut details = ErrorDetails::with_error_info(MALFORMED_REQUEST, DOMAIN, HashMap::new());
    let (field, cause) = decode_path(error);
    details.add_bad_request_violation(field, format!("cannot be decoded: {cause}"));
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        format!("the message cannot be decoded as {type_name}: {error}"),
        details,
    )
}

impl<U: prost::Message + Default> Decoder for MappedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.inner.decode(buf).map_err(|s| {
            let short = std::any::type_name::<U>()
                .rsplit("::")
                .next()
                .unwrap_or_default();
            malformed(short, s.message())
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_is_invalid_argument_with_a_reason() {
        let s = malformed("Customer", "buffer underflow");
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            s.get_details_error_info().map(|i| i.reason).as_deref(),
            Some(MALFORMED_REQUEST)
        );
        assert!(s.message().contains("Customer"), "{}", s.message());
        assert_eq!(
            s.get_details_bad_request()
                .map(|b| b.field_violations.len()),
            Some(1)
        );
    }

    #[test]
    fn the_violation_names_the_outermost_fields() {
        let error = "failed to decode Protobuf message: Value.kind: Struct.fields: Value.kind: \
                     Struct.fields: Customer.attributes: CreateCustomerRequest.customer: \
                     recursion limit reached";
        assert_eq!(
            decode_path(error),
            (
                "customer.attributes".to_owned(),
                "recursion limit reached".to_owned()
            )
        );
        assert_eq!(
            decode_path("failed to decode Protobuf message: invalid wire type value: 7"),
            (String::new(), "invalid wire type value: 7".to_owned())
        );
    }
}

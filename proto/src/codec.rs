//! The codec of every dbmon service: prost, except that a message that does not decode is
//! INVALID_ARGUMENT, not INTERNAL as `tonic_prost` answers: on the server a request that does
//! not decode is the client's fault. (A client that cannot decode an answer sees the same code,
//! with a message that says which way it went wrong.)
//! (gRPC's status-code table lists "error parsing request proto" under INTERNAL for libraries;
//! for an API that names bad input, INVALID_ARGUMENT tells the caller what to fix.)

use std::marker::PhantomData;
use tonic::{
    Status,
    codec::{BufferSettings, Codec, DecodeBuf, Decoder},
};
use tonic_prost::ProstCodec;

/// `tonic_prost::ProstCodec` with decode errors as INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub struct Prost<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Prost<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for Prost<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
    type Decoder = InvalidArgument<<ProstCodec<T, U> as Codec>::Decoder>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        InvalidArgument(ProstCodec::<T, U>::default().decoder())
    }
}

/// A decoder whose errors are INVALID_ARGUMENT, with the decoder's message.
#[derive(Debug)]
pub struct InvalidArgument<D>(D);

impl<D: Decoder<Error = Status>> Decoder for InvalidArgument<D> {
    type Item = D::Item;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        self.0
            .decode(buf)
            .map_err(|e| Status::invalid_argument(format!("not a valid message: {}", e.message())))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

/// Bytes written to the wire as they are: a message encoded ahead of time.
pub trait PreEncodedMessage: Send + 'static {
    /// Appends the message's encoding to `dst`.
    fn write(&self, dst: &mut tonic::codec::EncodeBuf<'_>);
}

impl PreEncodedMessage for std::sync::Arc<[u8]> {
    fn write(&self, dst: &mut tonic::codec::EncodeBuf<'_>) {
        use bytes::BufMut as _;
        dst.put_slice(self);
    }
}

/// An answer whose one field is a repeated message field of messages encoded ahead of time:
/// on the wire exactly what prost writes for the whole message (each item with its field key
/// and length), without decoding or re-encoding the items.
#[derive(Debug, Clone, Default)]
pub struct Repeated {
    /// The field number.
    pub field: u32,
    /// The encoded messages, in order.
    pub items: Vec<std::sync::Arc<[u8]>>,
}

impl PreEncodedMessage for Repeated {
    fn write(&self, dst: &mut tonic::codec::EncodeBuf<'_>) {
        use prost::encoding::{WireType, encode_key, encode_varint};
        for message in &self.items {
            encode_key(self.field, WireType::LengthDelimited, dst);
            encode_varint(message.len() as u64, dst);
            message.write(dst);
        }
    }
}

/// A codec for answers encoded ahead of time (`M`: one encoded message, or a [`Repeated`]),
/// so that one encoding serves every stream and call that sends the same message; requests
/// decode as with [`Prost`].
#[derive(Debug, Clone)]
pub struct PreEncoded<U, M = std::sync::Arc<[u8]>>(PhantomData<(U, M)>);

impl<U, M> Default for PreEncoded<U, M> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<U, M> Codec for PreEncoded<U, M>
where
    U: prost::Message + Default + Send + 'static,
    M: PreEncodedMessage,
{
    type Encode = M;
    type Decode = U;
    type Encoder = Written<M>;
    type Decoder = InvalidArgument<<ProstCodec<(), U> as Codec>::Decoder>;

    fn encoder(&mut self) -> Written<M> {
        Written(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        InvalidArgument(ProstCodec::<(), U>::default().decoder())
    }
}

/// Writes a message encoded ahead of time as it is.
#[derive(Debug, Clone, Copy)]
pub struct Written<M>(PhantomData<M>);

impl<M: PreEncodedMessage> tonic::codec::Encoder for Written<M> {
    type Item = M;
    type Error = Status;

    fn encode(
        &mut self,
        item: Self::Item,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        item.write(dst);
        Ok(())
    }
}

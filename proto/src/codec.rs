//! The codec the generated clients and servers use: prost's, except that a message that
//! arrived in one piece is decoded straight from its bytes.
//!
//! tonic hands a decoder its message as a [`DecodeBuf`], and prost's decoding, generic
//! over `bytes::Buf`, then reads every tag, length and string through that wrapper (a
//! bounds check and a `BytesMut::advance` per field). tonic 0.14 gathers each message
//! into one `BytesMut` before decoding it, so its bytes are contiguous, and decoding them
//! as a `&[u8]` lets prost take its slice fast paths. The result is the same message.
//! `DecodeBuf` does not promise contiguity, so a message handed over in pieces still
//! goes through the `Buf` path.

use std::marker::PhantomData;

use bytes::Buf;
use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

/// [`tonic_prost::ProstCodec`] with the contiguous-message decoder below.
#[derive(Debug, Clone)]
pub struct SliceCodec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for SliceCodec<T, U> {
    fn default() -> Self {
        SliceCodec { _pd: PhantomData }
    }
}

impl<T, U> Codec for SliceCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = SliceDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        SliceDecoder { _pd: PhantomData }
    }
}

/// Decodes a message from its bytes when they are contiguous, else through `Buf`.
#[derive(Debug, Clone, Default)]
pub struct SliceDecoder<U> {
    _pd: PhantomData<U>,
}

impl<U: Message + Default> Decoder for SliceDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let len = buf.remaining();
        let decoded = if buf.chunk().len() == len {
            let item = U::decode(buf.chunk());
            buf.advance(len);
            item
        } else {
            U::decode(buf)
        };
        // INTERNAL, with prost's message, as tonic-prost (and grpc-go) answer a message
        // that does not parse; the server turns it into INVALID_ARGUMENT for requests
        // (`entente_server::grpc::limits::rewrite_status`).
        decoded
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

/// A codec whose responses are already encoded (`bytes::Bytes` holding one message), for
/// a stream that sends the same message to many clients: it is encoded once, not once per
/// client. Requests decode as [`SliceCodec`] decodes them.
#[derive(Debug, Clone)]
pub struct EncodedCodec<U> {
    _pd: PhantomData<U>,
}

impl<U> Default for EncodedCodec<U> {
    fn default() -> Self {
        EncodedCodec { _pd: PhantomData }
    }
}

impl<U> Codec for EncodedCodec<U>
where
    U: Message + Default + Send + 'static,
{
    type Encode = bytes::Bytes;
    type Decode = U;
    type Encoder = BytesEncoder;
    type Decoder = SliceDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        BytesEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        SliceDecoder { _pd: PhantomData }
    }
}

/// Writes an already encoded message as it is.
#[derive(Debug, Clone, Default)]
pub struct BytesEncoder;

impl tonic::codec::Encoder for BytesEncoder {
    type Item = bytes::Bytes;
    type Error = Status;

    fn encode(
        &mut self,
        item: bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

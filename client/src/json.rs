//! Canonical proto3 JSON for any `entente.v1` message, via the embedded descriptor set: the
//! mapping every proto tool shares (lowerCamelCase names, enum names, RFC 3339 timestamps),
//! so scripts see a stable shape that follows the contract, not this client's structs.

use std::sync::OnceLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(entente_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|e| unreachable!("the embedded descriptor set is valid: {e}"))
    })
}

/// `message` (of the proto type named `full_name`, e.g. "entente.v1.Event") as JSON.
pub fn to_json(message: &impl Message, full_name: &str) -> serde_json::Value {
    let Some(desc) = pool().get_message_by_name(full_name) else {
        return serde_json::Value::Null;
    };
    let Ok(dynamic) = DynamicMessage::decode(desc, message.encode_to_vec().as_slice()) else {
        return serde_json::Value::Null;
    };
    let options = SerializeOptions::new().skip_default_fields(false);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use entente_proto::v1 as pb;

    #[test]
    fn uses_the_canonical_mapping() {
        let v = pb::Venue {
            id: "kazan-expo".into(),
            time_zone: "Europe/Moscow".into(),
            create_time: Some(prost_types::Timestamp {
                seconds: 1_729_584_000,
                nanos: 0,
            }),
            ..Default::default()
        };
        let j = to_json(&v, "entente.v1.Venue");
        assert_eq!(j["id"], "kazan-expo");
        assert_eq!(j["timeZone"], "Europe/Moscow");
        assert_eq!(j["createTime"], "2024-10-22T08:00:00Z");
        let e = pb::Event {
            kind: pb::EventKind::Summit as i32,
            ..Default::default()
        };
        assert_eq!(to_json(&e, "entente.v1.Event")["kind"], "EVENT_KIND_SUMMIT");
    }
}

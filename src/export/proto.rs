//! The subset of ONNX's protobuf messages that the writer emits, written by hand with the field
//! numbers of `onnx/onnx.proto` (IR version 8) and encoded by `prost`'s derive — no `protoc`, no
//! build script. Protobuf `oneof`s are written as optional fields with the same tags, which is
//! the same wire format.

use prost::Message;

/// `onnx.proto`'s IR version for opset 17.
pub const IR_VERSION: i64 = 8;
/// The default-domain opset the writer targets.
pub const OPSET: i64 = 17;

/// `TensorProto.DataType`.
pub const FLOAT: i32 = 1;
pub const INT64: i32 = 7;

/// `AttributeProto.AttributeType`.
pub mod attr_type {
    pub const FLOAT: i32 = 1;
    pub const INT: i32 = 2;
    pub const STRING: i32 = 3;
    pub const INTS: i32 = 7;
}

/// A whole model file.
#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(string, tag = "3")]
    pub producer_version: String,
    #[prost(string, tag = "6")]
    pub doc_string: String,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "13")]
    pub value_info: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    #[prost(string, tag = "7")]
    pub domain: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int32, tag = "20")]
    pub r#type: i32,
    #[prost(float, tag = "2")]
    pub f: f32,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(string, tag = "8")]
    pub name: String,
    /// Little-endian values, as ONNX requires.
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `TypeProto` with only the `tensor_type` member of its `oneof value`.
#[derive(Clone, PartialEq, Message)]
pub struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TypeProtoTensor>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TypeProtoTensor {
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension`: its `oneof value` as two optional fields.
#[derive(Clone, PartialEq, Message)]
pub struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

impl AttributeProto {
    pub fn int(name: &str, i: i64) -> AttributeProto {
        AttributeProto { name: name.into(), r#type: attr_type::INT, i, ..Default::default() }
    }

    pub fn ints(name: &str, ints: Vec<i64>) -> AttributeProto {
        AttributeProto { name: name.into(), r#type: attr_type::INTS, ints, ..Default::default() }
    }

    pub fn float(name: &str, f: f32) -> AttributeProto {
        AttributeProto { name: name.into(), r#type: attr_type::FLOAT, f, ..Default::default() }
    }

    pub fn string(name: &str, s: &str) -> AttributeProto {
        AttributeProto { name: name.into(), r#type: attr_type::STRING, s: s.as_bytes().to_vec(), ..Default::default() }
    }
}

impl TensorProto {
    pub fn f32(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        TensorProto { dims: dims.iter().map(|&d| d as i64).collect(), data_type: FLOAT, name: name.into(), raw_data }
    }

    pub fn i64(name: &str, dims: &[usize], values: &[i64]) -> TensorProto {
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        TensorProto { dims: dims.iter().map(|&d| d as i64).collect(), data_type: INT64, name: name.into(), raw_data }
    }
}

impl ValueInfoProto {
    /// A float tensor value; `None` dimensions are named `batch` (a dynamic batch).
    pub fn float(name: &str, dims: &[Option<usize>]) -> ValueInfoProto {
        let dim = dims
            .iter()
            .map(|d| match d {
                Some(n) => Dimension { dim_value: Some(*n as i64), dim_param: None },
                None => Dimension { dim_value: None, dim_param: Some("batch".into()) },
            })
            .collect();
        let tensor = TypeProtoTensor { elem_type: FLOAT, shape: Some(TensorShapeProto { dim }) };
        ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(tensor) }) }
    }
}

impl ModelProto {
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}

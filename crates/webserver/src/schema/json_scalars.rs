//! The JSON scalars `GenericScalar` (any JSON value) and `JsonSchema`, written out as JSON
//! values (not strings) as Dagster's are.

/// `scalar GenericScalar`: any JSON value.
#[derive(Debug, Clone, PartialEq)]
pub struct GenericScalar(pub serde_json::Value);

/// `scalar JsonSchema`: a JSON schema document.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSchema(pub serde_json::Value);

/// A JSON value as a juniper output value.
pub fn json_to_value(v: &serde_json::Value) -> juniper::Value {
    use juniper::Value;
    match v {
        serde_json::Value::Null => Value::null(),
        serde_json::Value::Bool(b) => Value::scalar(*b),
        serde_json::Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => Value::scalar(i),
            None => Value::scalar(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::scalar(s.clone()),
        serde_json::Value::Array(a) => Value::list(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => Value::object(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
    }
}

pub fn input_to_json(v: &juniper::InputValue) -> serde_json::Value {
    use juniper::InputValue as I;
    match v {
        I::Null | I::Variable(_) | I::Enum(_) => match v {
            I::Enum(e) => serde_json::Value::String(e.clone()),
            _ => serde_json::Value::Null,
        },
        I::Scalar(s) => serde_json::to_value(s).unwrap_or(serde_json::Value::Null),
        I::List(l) => serde_json::Value::Array(l.iter().map(|x| input_to_json(&x.item)).collect()),
        I::Object(o) => serde_json::Value::Object(
            o.iter()
                .map(|(k, v)| (k.item.clone(), input_to_json(&v.item)))
                .collect(),
        ),
    }
}

macro_rules! json_scalar {
    ($t:ident, $name:literal) => {
        impl juniper::GraphQLType<juniper::DefaultScalarValue> for $t {
            fn name(_: &()) -> Option<juniper::ArcStr> {
                Some(juniper::ArcStr::from($name))
            }
            fn meta(
                info: &(),
                registry: &mut juniper::Registry<juniper::DefaultScalarValue>,
            ) -> juniper::meta::MetaType<juniper::DefaultScalarValue> {
                registry.build_scalar_type::<Self>(info).into_meta()
            }
        }
        impl juniper::GraphQLValue<juniper::DefaultScalarValue> for $t {
            type Context = ();
            type TypeInfo = ();
            fn type_name(&self, info: &()) -> Option<juniper::ArcStr> {
                <Self as juniper::GraphQLType<juniper::DefaultScalarValue>>::name(info)
            }
            fn resolve(
                &self,
                _info: &(),
                _selection: Option<&[juniper::Selection<'_, juniper::DefaultScalarValue>]>,
                _executor: &juniper::Executor<'_, '_, (), juniper::DefaultScalarValue>,
            ) -> juniper::ExecutionResult<juniper::DefaultScalarValue> {
                Ok(json_to_value(&self.0))
            }
        }
        impl juniper::GraphQLValueAsync<juniper::DefaultScalarValue> for $t {
            fn resolve_async<'a>(
                &'a self,
                info: &'a (),
                selection: Option<&'a [juniper::Selection<'_, juniper::DefaultScalarValue>]>,
                executor: &'a juniper::Executor<'_, '_, (), juniper::DefaultScalarValue>,
            ) -> juniper::BoxFuture<'a, juniper::ExecutionResult<juniper::DefaultScalarValue>> {
                let r = juniper::GraphQLValue::resolve(self, info, selection, executor);
                Box::pin(async move { r })
            }
        }
        impl juniper::ToInputValue<juniper::DefaultScalarValue> for $t {
            fn to_input_value(&self) -> juniper::InputValue {
                juniper::InputValue::scalar(self.0.to_string())
            }
        }
        impl juniper::FromInputValue<juniper::DefaultScalarValue> for $t {
            type Error = String;
            fn from_input_value(v: &juniper::InputValue) -> Result<Self, String> {
                Ok($t(input_to_json(v)))
            }
        }
        impl juniper::ParseScalarValue<juniper::DefaultScalarValue> for $t {
            fn from_str(
                value: juniper::ScalarToken<'_>,
            ) -> juniper::ParseScalarResult<juniper::DefaultScalarValue> {
                <String as juniper::ParseScalarValue<juniper::DefaultScalarValue>>::from_str(value)
            }
        }
        impl juniper::marker::IsInputType<juniper::DefaultScalarValue> for $t {}
        impl juniper::marker::IsOutputType<juniper::DefaultScalarValue> for $t {}
        impl juniper::macros::reflect::BaseType<juniper::DefaultScalarValue> for $t {
            const NAME: juniper::macros::reflect::Type = $name;
        }
        impl juniper::macros::reflect::BaseSubTypes<juniper::DefaultScalarValue> for $t {
            const NAMES: juniper::macros::reflect::Types = &[$name];
        }
        impl juniper::macros::reflect::WrappedType<juniper::DefaultScalarValue> for $t {
            const VALUE: juniper::macros::reflect::WrappedValue = 1;
        }
    };
}
json_scalar!(GenericScalar, "GenericScalar");
json_scalar!(JsonSchema, "JsonSchema");

//! `interface!`: a GraphQL interface as a plain Rust enum of its implementers.
//!
//! juniper's `#[graphql_interface]` checks at compile time, for every implementer and every
//! interface field, that the implementer's field has a compatible type and arguments. Those
//! checks are constant evaluations that cost about 0.1 s of compile time per (implementer,
//! field) pair; Dagster's schema has ~550 such pairs (`MessageEvent` alone: 43 implementers × 7
//! fields), which made one build of this crate take minutes. This macro builds the same schema
//! (the interface's fields, its implementers, `__typename` resolution) and resolves a field by
//! handing it to the implementer's own resolver by name, so the only check left is the one that
//! matters at run time: `tests/ui_bundle.rs` and the schema tests validate every query the UI
//! and the Python client send.
//!
//! ```ignore
//! interface! {
//!     /// `interface Error { message: String! }`
//!     pub enum ErrorValue: "Error" {
//!         fields { "message": String }
//!         for [PythonError, RunNotFoundError]
//!     }
//! }
//! ```
//!
//! Implementers declare `#[graphql(impl = ErrorValue)]` (and must have every field listed).
//! A field with arguments: `"solidHandles"(parentHandleID: Option<String>): Vec<SolidHandle>`.
//! An interface implementing other interfaces: `pub enum X: "X" implements [ErrorValue] { .. }`.

macro_rules! interface {
    (
        $(#[$attr:meta])*
        $vis:vis enum $Value:ident : $name:literal $(implements [$($Super:ty),* $(,)?])? {
            fields {
                $( $fname:literal $( ( $( $aname:ident : $aty:ty ),* $(,)? ) )? : $fty:ty ),* $(,)?
            }
            for [ $( $Impl:ident ),* $(,)? ]
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone)]
        #[allow(clippy::large_enum_variant, clippy::enum_variant_names)]
        $vis enum $Value {
            $( $Impl($Impl), )*
        }

        $(
            impl From<$Impl> for $Value {
                fn from(v: $Impl) -> Self {
                    $Value::$Impl(v)
                }
            }
        )*

        impl ::juniper::GraphQLType<::juniper::DefaultScalarValue> for $Value {
            fn name(_: &()) -> Option<::juniper::ArcStr> {
                Some(::juniper::ArcStr::from($name))
            }

            fn meta(
                info: &(),
                registry: &mut ::juniper::Registry<::juniper::DefaultScalarValue>,
            ) -> ::juniper::meta::MetaType<::juniper::DefaultScalarValue> {
                $( let _ = registry.get_type::<$Impl>(info); )*
                let fields = [
                    $(
                        registry
                            .field_convert::<$fty, _, $crate::schema::Ctx>($fname, info)
                            $( $( .argument(registry.arg::<$aty>(stringify!($aname), info)) )* )?
                    ),*
                ];
                #[allow(unused_mut)]
                let mut meta = registry.build_interface_type::<$Value>(info, &fields);
                $( meta = meta.interfaces(&[ $( registry.get_type::<$Super>(info) ),* ]); )?
                meta.into_meta()
            }
        }

        impl ::juniper::GraphQLValue<::juniper::DefaultScalarValue> for $Value {
            type Context = $crate::schema::Ctx;
            type TypeInfo = ();

            fn type_name(&self, info: &()) -> Option<::juniper::ArcStr> {
                <Self as ::juniper::GraphQLType<::juniper::DefaultScalarValue>>::name(info)
            }

            fn resolve_field(
                &self,
                info: &(),
                field: &str,
                args: &::juniper::Arguments<'_, ::juniper::DefaultScalarValue>,
                executor: &::juniper::Executor<'_, '_, Self::Context, ::juniper::DefaultScalarValue>,
            ) -> ::juniper::ExecutionResult<::juniper::DefaultScalarValue> {
                match self {
                    $( $Value::$Impl(v) => ::juniper::GraphQLValue::resolve_field(v, info, field, args, executor), )*
                }
            }

            fn concrete_type_name(&self, context: &Self::Context, info: &()) -> String {
                match self {
                    $( $Value::$Impl(v) => ::juniper::GraphQLValue::concrete_type_name(v, context, info), )*
                }
            }

            fn resolve_into_type(
                &self,
                info: &(),
                _type_name: &str,
                _selection: Option<&[::juniper::Selection<'_, ::juniper::DefaultScalarValue>]>,
                executor: &::juniper::Executor<'_, '_, Self::Context, ::juniper::DefaultScalarValue>,
            ) -> ::juniper::ExecutionResult<::juniper::DefaultScalarValue> {
                match self {
                    $( $Value::$Impl(v) => executor.resolve_with_ctx(info, v), )*
                }
            }
        }

        impl ::juniper::GraphQLValueAsync<::juniper::DefaultScalarValue> for $Value {
            fn resolve_field_async<'b>(
                &'b self,
                info: &'b (),
                field: &'b str,
                args: &'b ::juniper::Arguments<'_, ::juniper::DefaultScalarValue>,
                executor: &'b ::juniper::Executor<'_, '_, Self::Context, ::juniper::DefaultScalarValue>,
            ) -> ::juniper::BoxFuture<'b, ::juniper::ExecutionResult<::juniper::DefaultScalarValue>> {
                match self {
                    $( $Value::$Impl(v) => ::juniper::GraphQLValueAsync::resolve_field_async(v, info, field, args, executor), )*
                }
            }

            fn resolve_into_type_async<'b>(
                &'b self,
                info: &'b (),
                _type_name: &str,
                _selection: Option<&'b [::juniper::Selection<'b, ::juniper::DefaultScalarValue>]>,
                executor: &'b ::juniper::Executor<'b, 'b, Self::Context, ::juniper::DefaultScalarValue>,
            ) -> ::juniper::BoxFuture<'b, ::juniper::ExecutionResult<::juniper::DefaultScalarValue>> {
                match self {
                    $( $Value::$Impl(v) => Box::pin(executor.resolve_with_ctx_async(info, v)), )*
                }
            }
        }

        impl ::juniper::marker::GraphQLInterface<::juniper::DefaultScalarValue> for $Value {}
        impl ::juniper::marker::IsOutputType<::juniper::DefaultScalarValue> for $Value {}

        impl ::juniper::macros::reflect::BaseType<::juniper::DefaultScalarValue> for $Value {
            const NAME: ::juniper::macros::reflect::Type = $name;
        }

        impl ::juniper::macros::reflect::BaseSubTypes<::juniper::DefaultScalarValue> for $Value {
            const NAMES: ::juniper::macros::reflect::Types = &[
                $name,
                $( <$Impl as ::juniper::macros::reflect::BaseType<::juniper::DefaultScalarValue>>::NAME, )*
            ];
        }

        impl ::juniper::macros::reflect::Implements<::juniper::DefaultScalarValue> for $Value {
            const NAMES: ::juniper::macros::reflect::Types = &[
                $( $( <$Super as ::juniper::macros::reflect::BaseType<::juniper::DefaultScalarValue>>::NAME, )* )?
            ];
        }

        impl ::juniper::macros::reflect::WrappedType<::juniper::DefaultScalarValue> for $Value {
            const VALUE: ::juniper::macros::reflect::WrappedValue = 1;
        }
    };
}

/// An event type this project never writes (hooks, alerts, asset checks, ...): the
/// `MessageEvent` fields, the interfaces given and its own fields.
macro_rules! absent_event {
    ($name:ident [$($iface:ty),*] { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(GraphQLObject, Debug, Clone)]
        #[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MessageEventValue, $($iface),*])]
        pub struct $name {
            pub run_id: String,
            pub message: String,
            pub timestamp: String,
            pub level: LogLevel,
            pub step_key: Option<String>,
            #[graphql(name = "solidHandleID")]
            pub solid_handle_id: Option<String>,
            pub event_type: Option<DagsterEventType>,
            $(pub $field: $ty),*
        }
    };
}

/// A union of the members given, then the errors of launching a run (`LaunchRunResult`'s
/// members after `LaunchRunSuccess`, in Dagster's order): `LaunchRunResult`,
/// `LaunchRunReexecutionResult` and `LaunchBackfillResult`.
macro_rules! launch_result_union {
    ($(#[$attr:meta])* pub enum $name:ident { $($member:ident),* $(,)? }) => {
        $(#[$attr])*
        #[derive(GraphQLUnion, Debug, Clone)]
        #[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
        pub enum $name {
            $($member($member),)*
            InvalidStepError(InvalidStepError),
            InvalidOutputError(InvalidOutputError),
            RunConfigValidationInvalid(RunConfigValidationInvalid),
            PipelineNotFoundError(PipelineNotFoundError),
            RunConflict(RunConflict),
            UnauthorizedError(UnauthorizedError),
            PythonError(PythonError),
            InvalidSubsetError(InvalidSubsetError),
            PresetNotFoundError(PresetNotFoundError),
            ConflictingExecutionParamsError(ConflictingExecutionParamsError),
            NoModeProvidedError(NoModeProvidedError),
        }
    };
}
